// oodscore score: a model and inputs in, one row of scores per sample out.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>

#include "base/format.h"
#include "cli/cli.h"
#include "cli/scoring.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct ScoreCommand {
  ScoringOptions scoring;
  std::vector<std::string> inputs;
  std::string output = "-";
  std::string card;
  std::optional<double> alpha;  // --alpha: is_ood = (pvalue <= alpha)
  std::optional<double> fdr;    // --fdr: Benjamini-Hochberg over the run's p-values
  std::string flagged;
  std::string skipped;
  std::string move_flagged, copy_flagged;
  bool resume = false;
  bool allow_empty = false;
  std::string shard;
  bool sharded = false;  // --shard was given (an empty value is an error, not "no shard")
};

// `-i -` alone, with stdin a pipe, a terminal or a FIFO: its paths are scored as they arrive.
// A regular file on stdin is read whole first, as any list file.
bool StreamsStdin(const std::vector<std::string>& inputs) {
  struct stat st;
  return inputs.size() == 1 && SplitNamed(inputs.front()).second == "-" &&
         ::fstat(STDIN_FILENO, &st) == 0 && !S_ISREG(st.st_mode);
}

// Refuses what needs the whole list before the first row (--shard, --resume).
void CheckStreamable(const ScoreCommand& cmd) {
  for (const auto& [flag, given] :
       {std::pair<std::string, bool>{"--shard", cmd.sharded}, {"--resume", cmd.resume}}) {
    if (given) {
      throw UsageError(flag +
                       " needs the whole list before the first row, but -i - from a pipe is "
                       "scored as the paths arrive; save the list to a file and give it (-i "
                       "LIST, or -i - < LIST)");
    }
  }
}

// --move-flagged or --copy-flagged (one at most), checked against the other flags.
std::optional<QuarantineOptions> QuarantineOf(const ScoreCommand& cmd) {
  if (!cmd.move_flagged.empty() && !cmd.copy_flagged.empty()) {
    throw UsageError("--move-flagged and --copy-flagged exclude each other: give one");
  }
  if (cmd.move_flagged.empty() && cmd.copy_flagged.empty()) return std::nullopt;
  QuarantineOptions q;
  q.mode = cmd.move_flagged.empty() ? PlaceMode::kCopy : PlaceMode::kMove;
  q.flag = cmd.move_flagged.empty() ? "--copy-flagged" : "--move-flagged";
  q.dir = cmd.move_flagged.empty() ? cmd.copy_flagged : cmd.move_flagged;
  if (cmd.card.empty()) {
    throw UsageError(q.flag + " needs --card: the card's threshold decides what is flagged");
  }
  if (q.dir == "-") throw UsageError(q.flag + " takes a folder, not -");
  return q;
}

// --alpha against the card: it needs the card's calibration scores, and warns when the card's
// calibration set is too small for any p-value to reach alpha.
void CheckAlpha(const ScoreCommand& cmd, const std::optional<DetectorCard>& card) {
  if (cmd.fdr) {
    if (cmd.alpha) throw UsageError("--alpha and --fdr exclude each other: give one");
    if (!card) throw UsageError("--fdr needs --card: the card's calibration scores make p-values");
    if (card->calibration.empty()) {
      throw UsageError("--fdr needs a detector card with calibration scores, and '" + cmd.card +
                       "' has none (an older card); re-run calibrate to make one");
    }
    for (const auto& [flag, given] : {std::pair<std::string, bool>{"--shard", cmd.sharded},
                                      {"--resume", cmd.resume},
                                      {"--move-flagged", !cmd.move_flagged.empty()},
                                      {"--copy-flagged", !cmd.copy_flagged.empty()}}) {
      if (given) {
        throw UsageError(flag +
                         " cannot go with --fdr: its decision needs every p-value of one run, "
                         "known only when the run ends; take the flagged paths from --flagged");
      }
    }
    return;
  }
  if (!cmd.alpha) return;
  if (!card) throw UsageError("--alpha needs --card: the card's calibration scores make p-values");
  if (card->calibration.empty()) {
    throw UsageError("--alpha needs a detector card with calibration scores, and '" + cmd.card +
                     "' has none (an older card); re-run calibrate to make one");
  }
  const double n = static_cast<double>(card->calibration.size());
  if (1.0 / (n + 1.0) > *cmd.alpha) {
    spdlog::warn(
        "the card's calibration set has {} samples: the smallest p-value is 1/{} = {}, above "
        "--alpha {}, so nothing can be flagged; calibrate on at least {} ID samples",
        card->calibration.size(), card->calibration.size() + 1, FormatDouble(1.0 / (n + 1.0)),
        FormatDouble(*cmd.alpha), static_cast<std::size_t>(std::ceil(1.0 / *cmd.alpha - 1.0)));
  }
}

int RunScore(const ScoreCommand& cmd) {
  if (!cmd.flagged.empty() && cmd.card.empty()) {
    throw UsageError("--flagged needs --card: the card's threshold decides what is flagged");
  }
  if (cmd.flagged == "-" && cmd.output == "-") {
    throw UsageError(
        "--flagged - and --output - would both write to stdout; send the CSV to a "
        "file with -o");
  }
  if (cmd.skipped == "-" && (cmd.output == "-" || cmd.flagged == "-")) {
    throw UsageError("--skipped - would share stdout with " +
                     std::string(cmd.output == "-" ? "--output -" : "--flagged -") +
                     "; write one of them to a file");
  }
  const std::optional<QuarantineOptions> quarantine = QuarantineOf(cmd);
  if (cmd.resume && !cmd.flagged.empty()) {
    throw UsageError(
        "--flagged cannot follow a --resume (it would list the resumed part only); "
        "take the flagged paths from the finished CSV's is_ood column");
  }
  if (cmd.sharded && quarantine && quarantine->mode == PlaceMode::kMove) {
    throw UsageError(
        "--move-flagged cannot run in shards: a shard that lists the inputs after another has "
        "moved files out lists them otherwise, so the shards are no longer one run; use "
        "--copy-flagged, or move the flagged files after the merge");
  }
  if (cmd.resume && quarantine) {
    throw UsageError(quarantine->flag +
                     " cannot follow a --resume: the stopped run moved files out of the inputs, "
                     "so they no longer list as it listed them; run without --resume (the "
                     "quarantined files are not scored again)");
  }
  const double max_skipped = MaxSkippedShare(cmd.scoring);
  ScoringOutputs outputs;
  outputs.csv_path = cmd.output;
  outputs.flagged_path = cmd.flagged;
  outputs.skipped_path = cmd.skipped;
  outputs.quarantine = quarantine;
  // A stamp goes beside a CSV that is a plain file (not stdout, a FIFO or a device).
  std::error_code ec;
  const auto st = std::filesystem::status(cmd.output, ec);
  outputs.stamp = cmd.output != "-" &&
                  (ec || !std::filesystem::exists(st) || std::filesystem::is_regular_file(st));
  outputs.resume = cmd.resume;
  outputs.allow_empty = cmd.allow_empty;
  if (cmd.resume && !outputs.stamp) {
    throw UsageError("--resume needs -o FILE: a plain file to continue");
  }
  if (cmd.sharded) {
    outputs.shard = ParseShard(cmd.shard);
    if (!outputs.stamp) {
      throw UsageError(
          "--shard needs -o FILE: each shard writes its CSV and a stamp beside it "
          "(FILE.json) that the merge checks");
    }
  }
  outputs.paths.Read("--card", cmd.card);
  ScoringOptions scoring = cmd.scoring;
  if (!cmd.card.empty()) {
    outputs.card = ReadCard(cmd.card);
    scoring.spec.ApplyCard(*outputs.card);
  }
  CheckAlpha(cmd, outputs.card);
  outputs.alpha = cmd.alpha;
  outputs.fdr = cmd.fdr;
  ScoringResult scored;
  if (StreamsStdin(cmd.inputs)) {
    CheckStreamable(cmd);
    std::vector<SampleSet> sets(1);
    sets[0].name = SplitNamed(cmd.inputs.front()).first;
    sets[0].source = "-";
    CheckSetNames({sets[0].name}, /*roles=*/false);
    // Read from now on, while the model loads.
    ListStream stream(STDIN_FILENO, "-", cmd.scoring.null_separated);
    spdlog::info("set '{}': scoring the paths on stdin as they arrive", sets[0].name);
    const auto batch = static_cast<std::size_t>(cmd.scoring.pipeline.batch_size);
    const SampleChunks chunks = [&](std::vector<Sample>* chunk) {
      return stream.Next(batch, chunk);
    };
    scored = RunScoring(scoring, sets, outputs, &chunks);
  } else {
    // A quarantine folder inside an input folder is left out of it: its files were scored.
    const SkipFolders skip =
        quarantine ? SkipFolders{std::filesystem::path(quarantine->dir)} : SkipFolders{};
    auto sets = LoadInputs(cmd.inputs, cmd.scoring.layout, /*roles=*/false, cmd.allow_empty,
                           cmd.scoring.null_separated, skip);
    scored = RunScoring(scoring, sets, outputs);
  }
  // The shell user's summary: what the decision and the inputs left out.
  if (quarantine) {
    const std::string left =
        scored.left_in_place ? ", " + std::to_string(scored.left_in_place) + " left in place" : "";
    spdlog::info("{} flagged ({} {} to '{}'{}), {} skipped", scored.flagged, scored.placed,
                 quarantine->mode == PlaceMode::kMove ? "moved" : "copied", quarantine->dir, left,
                 scored.stats.skipped.size());
  } else if (cmd.fdr) {
    spdlog::info("{} of {} flagged at FDR {}%: {}, {} skipped", scored.flagged, scored.pvalues,
                 FormatDouble(*cmd.fdr * 100),
                 scored.flagged ? "p <= " + FormatDouble(scored.fdr_cutoff) : std::string("none"),
                 scored.stats.skipped.size());
  } else if (outputs.card) {
    spdlog::info("{} flagged{}, {} skipped", scored.flagged,
                 cmd.alpha ? " at p <= " + FormatDouble(*cmd.alpha) : std::string(),
                 scored.stats.skipped.size());
  } else {
    spdlog::info("{} skipped", scored.stats.skipped.size());
  }
  const int verdict = SkippedVerdict(scored.stats, max_skipped);
  if (scored.left_in_place > 0) {
    spdlog::error("{} flagged file(s) could not be {} to '{}' and are still in place (see above)",
                  scored.left_in_place, quarantine->mode == PlaceMode::kMove ? "moved" : "copied",
                  quarantine->dir);
    return kExitInput;
  }
  return verdict;
}

}  // namespace

void SetupScoreCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<ScoreCommand>();
  cmd->scoring.max_skipped = "1";  // shell use: skip per file, unless asked
  CLI::App* sub =
      app->add_subcommand("score",
                          "score images with a TorchScript classifier: one CSV row per image "
                          "(set,path,label,pred,energy,msp,maxlogit,...)");
  AddScoringOptions(sub, &cmd->scoring);
  sub->add_option(
         "--input,-i", cmd->inputs,
         "[NAME=]PATH: an image folder (ImageFolder layout or flat), one image, a list file (- = "
         "stdin; from a pipe, each path is scored as it arrives, its row written at once) or a "
         ".npy [N,C,H,W] float32 tensor; repeatable")
      ->required();
  sub->add_option("--output,-o", cmd->output,
                  "score CSV path (missing folders are created), or - for stdout")
      ->capture_default_str();
  sub->add_option("--card", cmd->card,
                  "detector card (from calibrate/eval): adds an is_ood column, and a pvalue "
                  "column when the card holds calibration scores (cards from calibrate); "
                  "without --preset the card's preset is used");
  sub->add_option("--alpha", cmd->alpha,
                  "with --card: is_ood (and --flagged, --move-flagged, --copy-flagged) becomes "
                  "pvalue <= A instead of the card's threshold. pvalue = (1 + #{calibration "
                  "scores at most as ID-like}) / (n + 1); for a new ID sample exchangeable with "
                  "the card's calibration set, P(pvalue <= A) <= A (a false-alarm rate of at most "
                  "A, on average over calibration sets and samples)")
      ->check(InRange(NumberRange{0, 1, true, true}))
      ->type_name("A");
  sub->add_option("--fdr", cmd->fdr,
                  "with --card: flag by Benjamini-Hochberg over every pvalue of the run, at "
                  "false discovery rate Q. Decided when the run ends: --flagged is written then, "
                  "the CSV has no is_ood column, and the summary gives the cutoff. No --shard, "
                  "--resume, --move-flagged or --copy-flagged")
      ->check(InRange(NumberRange{0, 1, true, true}))
      ->type_name("Q");
  sub->add_option("--flagged", cmd->flagged,
                  "with --card: write the paths of the samples flagged OOD to FILE (- = stdout), "
                  "each ended by a NUL byte, for xargs -0");
  sub->add_option("--skipped", cmd->skipped,
                  "write the paths of the samples that could not be scored to FILE (- = stdout), "
                  "each ended by a NUL byte, when the run ends");
  sub->add_option("--move-flagged", cmd->move_flagged,
                  "with --card: move each flagged file into DIR (created), under its path "
                  "relative to its input folder (a list's, stdin's or a single image's files: "
                  "their file name), once its CSV row is written (the row keeps the original "
                  "path). Never overwrites: a taken name gets a number (a.png -> a.1.png). "
                  "Each move is a line of DIR/manifest.tsv (from, to, score, value) to undo it "
                  "with; DIR inside an input folder is left out of that input. Paths holding a "
                  "tab or line break are left in place (exit 3)")
      ->type_name("DIR");
  sub->add_option("--copy-flagged", cmd->copy_flagged,
                  "as --move-flagged, but copy (and fsync) each flagged file, leaving it in place")
      ->type_name("DIR");
  sub->add_flag("--allow-empty", cmd->allow_empty,
                "an input folder without images is an empty set, and a run with no images at "
                "all writes the CSV's header only and exits 0 (cron jobs on upload folders)");
  sub->add_flag("--resume", cmd->resume,
                "continue -o FILE where a killed run stopped, if its stamp (FILE.json) matches "
                "this run; the finished file equals an uninterrupted run's");
  CLI::Option* shard = sub->add_option(
      "--shard", cmd->shard,
      "I/N: score only shard I (0-based) of N, a contiguous run of whole batches over "
      "all inputs; auto = from a Slurm array task (SLURM_ARRAY_TASK_ID, "
      "SLURM_ARRAY_TASK_COUNT), auto/N = index from Slurm or Kubernetes' "
      "JOB_COMPLETION_INDEX. Merge the shard CSVs with `metrics` or `eval "
      "--from-scores`");
  sub->footer(HelpFooter(
      {"oodscore score --model m.pt --preset cifar10 -i uploads/ -o scores.csv",
       "oodscore score --model m.pt --card card-energy.json -i uploads/ -o s.csv \\\n"
       "    --move-flagged uploads/quarantine",
       "find shots -name '*.jpg' | oodscore score --model m.pt --preset imagenet -i - -o -",
       "inotifywait -m -q -e close_write --format '%w%f' uploads/ |\n"
       "    oodscore score --model m.pt --card card.json -i - -o s.csv --flagged - |\n"
       "    xargs -0 -r -n1 mv -n -t quarantine/",
       "oodscore score --model m.pt --preset cifar10 -i cifar10=test/ -i svhn=svhn/ --shard 2/8 "
       "-o shards/2.csv"}));
  sub->callback([cmd, exit_code, app, shard] {
    cmd->sharded = shard->count() > 0;
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = RunScore(*cmd);
  });
}

}  // namespace oodscore
