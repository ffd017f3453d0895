// oodscore eval: score an ID set and OOD sets with one model, then report, gate and calibrate.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "base/suggest.h"
#include "cli/cli.h"
#include "cli/gallery_images.h"
#include "cli/scoring.h"
#include "cli/shards.h"
#include "cli/tuning_sets.h"
#include "model/detector_tuning.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct EvalCommand {
  ScoringOptions scoring;
  std::string id;
  std::vector<std::string> ood;
  std::vector<std::filesystem::path> from_scores;
  ReportOptions report;
};

// The scores to report: --score (checked, each implying what it needs), else every score
// the run computes.
void ResolveScores(EvalCommand& cmd) {
  if (cmd.report.scores.empty()) {
    cmd.report.scores = cmd.scoring.spec.DefaultScores();
    cmd.report.scores_by_default = true;
    return;
  }
  for (auto& s : cmd.report.scores) {
    s = CheckedScoreName(s);
    cmd.scoring.spec.Require(s);
  }
}

// What the report needs beyond the scores, from a scoring run or from shard stamps.
struct EvalFacts {
  std::vector<SetCounts> sets;  // ID first, then the OOD sets
  std::vector<SkippedSample> skipped;
  std::vector<std::string> id_classes;  // folder classes of the ID set, if any
  std::size_t id_class_count = 0;       // their number (stamps keep only the count)
  int num_classes = 0;                  // the model's logits per sample
};

// Metrics, counts, accuracy and its warnings: the same report from a run or from its shards.
Report BuildEvalReport(const ScoreTable& table, const std::string& id_name,
                       const std::vector<std::string>& ood_names, const ReportOptions& opt,
                       const EvalFacts& facts, ReportInput* input) {
  *input = InputFromTable(table, id_name, ood_names, opt);
  Report report = BuildReport(*input);
  report.sets = facts.sets;
  for (auto& c : report.sets) c.samples_digest = table.SamplesDigest(c.name);
  report.skipped = facts.skipped;
  report.id_accuracy = LabelAccuracy(table, {id_name});
  AddCsidResults(table, opt, ood_names, &report);
  const int folder_classes = static_cast<int>(facts.id_class_count);
  if (folder_classes > 0 && folder_classes != facts.num_classes) {
    report.warnings.push_back("ID folder has " + std::to_string(folder_classes) +
                              " classes but the model outputs " +
                              std::to_string(facts.num_classes) +
                              " logits: accuracy assumes class i = i-th sorted folder name");
  }
  if (report.id_accuracy) {
    const int k = folder_classes > 0 ? folder_classes : facts.num_classes;
    const std::string w = BelowChanceWarning(*report.id_accuracy, k);
    if (!w.empty()) report.warnings.push_back(w);
  }
  return report;
}

// A detector card per score, from the ID scores alone.
void StageCards(const Report& report, const std::string& id_name, double tpr, const CardRun& run,
                ReportFolder* folder) {
  for (std::size_t s = 0; s < report.scores.size(); ++s) {
    const DetectorCard card =
        MakeCard(report.scores[s], report.id_thresholds[s], tpr, id_name, run);
    WriteFileAtomic(folder->Stage("card-" + card.score + ".json"), DumpJson(CardJson(card)) + "\n");
  }
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int RunEval(EvalCommand& cmd) {
  const auto start = std::chrono::steady_clock::now();
  if (cmd.id.empty() || cmd.ood.empty()) {
    throw UsageError("--id and at least one --ood are required (or --from-scores)");
  }
  // Cheap checks before the expensive scoring.
  ResolveScores(cmd);
  ToMetricOptions(cmd.report);
  const Checks checks = PrepareChecks(cmd.report, cmd.report.scores, MaxSkippedShare(cmd.scoring));
  std::vector<std::string> inputs = {cmd.id};
  inputs.insert(inputs.end(), cmd.ood.begin(), cmd.ood.end());
  inputs.insert(inputs.end(), cmd.report.csid.begin(), cmd.report.csid.end());
  auto sets = LoadInputs(inputs, cmd.scoring.layout, true, false, cmd.scoring.null_separated);
  // The inputs are ID, then the OOD sets, then the csid sets: keep the csid sets' names.
  const std::size_t first_csid = 1 + cmd.ood.size();
  cmd.report.csid.clear();
  for (std::size_t i = first_csid; i < sets.size(); ++i) cmd.report.csid.push_back(sets[i].name);
  ScoringOutputs outputs;
  AddReportPaths(cmd.report, &outputs.paths);  // checked against the inputs by RunScoring
  outputs.input_flag = "--id/--ood";
  outputs.csv_flag = "--out-dir's scores.csv";
  ReportFolder folder(cmd.report.out_dir);

  outputs.csv_path = folder.Stage("scores.csv").string();
  outputs.keep_rows = true;
  outputs.keep_paths = !cmd.report.baseline.empty() || cmd.report.gallery > 0;
  ScoringResult scored = RunScoring(cmd.scoring, sets, outputs);
  std::vector<std::string> ood_names;
  for (std::size_t i = 1; i < first_csid; ++i) ood_names.push_back(sets[i].name);
  EvalFacts facts{scored.stats.sets, scored.stats.skipped, sets[0].classes, sets[0].classes.size(),
                  scored.stats.num_classes};
  ReportInput input;
  Report report = BuildEvalReport(scored.table, sets[0].name, ood_names, cmd.report, facts, &input);
  report.warnings.insert(report.warnings.end(), scored.stats.notes.begin(),
                         scored.stats.notes.end());
  if (scored.fit.is_object() && scored.fit.contains("tuned_on")) {
    const std::string where = "fit file '" + cmd.scoring.spec.fit_path + "'";
    for (std::string& w : TunedOnWarnings(ParseTuningSets(scored.fit, "/tuned_on", where), sets)) {
      report.warnings.push_back(std::move(w));
    }
  }
  report.run = scored.run;
  report.run["command"] = "eval";
  if (!sets[0].classes.empty()) report.run["id_classes"] = sets[0].classes;
  AddClassesAndGallery(scored.table, sets[0].name, ood_names, sets[0].classes, GatedScores(checks),
                       cmd.report.gallery, &report);
  StageCards(report, sets[0].name, cmd.report.tpr, CardRunOf(cmd.scoring, scored), &folder);
  return FinishReport(&report, input, cmd.report, checks,
                      "oodscore eval: " + sets[0].name + " (ID) vs " + JoinNames(ood_names),
                      SecondsSince(start), &folder);
}

// Copies the shards' rows into one CSV, header once: the single run's file, byte for byte.
void ConcatenateScoreFiles(const std::vector<std::filesystem::path>& files,
                           const std::filesystem::path& out) {
  std::string text;
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string part = ReadFile(files[i]);
    const std::size_t header_end = part.find('\n');
    text.append(part, i == 0 || header_end == std::string::npos ? 0 : header_end + 1,
                std::string::npos);
  }
  WriteFileAtomic(out, text);
}

// The sets' roles in a run scored elsewhere: --id (default the first input), --ood (default
// every other input), each checked against the stamp's inputs.
std::vector<std::string> StampedRoles(const EvalCommand& cmd, const ScoreStamp& stamp) {
  std::vector<std::string> names;
  for (const auto& in : stamp.inputs) names.push_back(in.name);
  std::vector<std::string> roles = {cmd.id.empty() ? names.front() : cmd.id};
  const std::vector<std::string>& csid = cmd.report.csid;
  for (const auto& n : cmd.ood.empty() ? names : cmd.ood) {
    const bool is_csid = std::find(csid.begin(), csid.end(), n) != csid.end();
    if (!cmd.ood.empty() || (n != roles.front() && !is_csid)) roles.push_back(n);
  }
  for (const auto& n : roles) {
    if (std::find(names.begin(), names.end(), n) == names.end()) {
      throw UsageError("the score files hold no set '" + n + "'" + DidYouMeanClause(n, names) +
                       " (sets: " + JoinNames(names) + ")");
    }
  }
  CheckSetNames(roles, /*roles=*/true);
  return roles;
}

// What the report needs beyond the rows, from the merged stamps.
EvalFacts StampedFacts(const MergedScores& merged, const std::vector<std::string>& roles) {
  EvalFacts facts;
  for (const auto& n : roles) {
    for (const auto& c : merged.sets) {
      if (c.name == n) facts.sets.push_back(c);
    }
  }
  facts.skipped = merged.skipped;
  facts.num_classes = merged.num_classes;
  for (const auto& in : merged.stamp.inputs) {
    if (in.name == roles.front()) facts.id_class_count = in.classes;
  }
  return facts;
}

// eval --from-scores: the eval report of a run scored elsewhere (shards on a cluster), from
// its score files and their stamps, without a model.
int RunEvalFromScores(EvalCommand& cmd) {
  const auto start = std::chrono::steady_clock::now();
  if (!cmd.scoring.model_path.empty()) {
    throw UsageError("--from-scores reads scores that are already made: give no --model");
  }
  // With the paths: the gallery's images, the class names from the folders, the baseline's pairs.
  MergedScores merged = ReadMergedScores(cmd.from_scores, /*keep_paths=*/true);
  if (!merged.stamped && !merged.stopped.empty()) {
    throw Error("'" + merged.stopped + "' is from a stopped run: its stamp '" +
                StampPath(merged.stopped) +
                "' marks it incomplete, so it lacks rows and the counts; finish it with "
                "`oodscore score --resume -o '" +
                merged.stopped + "'` and the run's other options, then run eval again");
  }
  if (!merged.stamped) {
    throw UsageError(
        "--from-scores needs the stamps that `score -o FILE` writes beside each CSV (FILE.json): "
        "they give the model, preset and skipped counts; for score files without stamps use "
        "`oodscore metrics`");
  }
  const ScoreStamp& stamp = merged.stamp;
  const std::vector<std::string> roles = StampedRoles(cmd, stamp);
  const std::vector<std::string> ood_names(roles.begin() + 1, roles.end());
  cmd.scoring.spec = RunSpec::FromStamp(stamp);
  ResolveScores(cmd);
  ToMetricOptions(cmd.report);
  RunPaths reads;
  for (const auto& f : merged.files) {
    reads.Read("--from-scores", f.string());
    reads.Read("--from-scores' stamp", StampPath(f.string()));
  }
  const Checks checks =
      PrepareChecks(cmd.report, cmd.report.scores, MaxSkippedShare(cmd.scoring), reads);
  ReportFolder folder(cmd.report.out_dir);
  ConcatenateScoreFiles(merged.files, folder.Stage("scores.csv"));

  ReportInput input;
  Report report = BuildEvalReport(merged.table, roles.front(), ood_names, cmd.report,
                                  StampedFacts(merged, roles), &input);
  report.warnings.insert(report.warnings.begin(), merged.warnings.begin(), merged.warnings.end());
  if (stamp.fit.is_object() && stamp.fit.contains("tuned_on")) {
    // Each set's files, from the score files' paths (kept above), against the sets the fit
    // was tuned on.
    const ScoreTable& table = merged.table;
    const std::vector<std::string>& names = table.SetNames();
    std::vector<SampleSet> sets(names.size());
    for (std::size_t i = 0; i < sets.size(); ++i) sets[i].name = names[i];
    for (std::size_t row = 0; row < table.size(); ++row) {
      const std::size_t i = std::find(names.begin(), names.end(), table.set(row)) - names.begin();
      sets[i].samples.push_back({std::string(table.path(row)), "", nullptr, 0});
    }
    const std::string where = "the fit record of '" + merged.files.front().string() + "''s stamp";
    for (std::string& w : TunedOnWarnings(ParseTuningSets(stamp.fit, "/tuned_on", where), sets)) {
      report.warnings.push_back(std::move(w));
    }
  }
  std::vector<std::string> files;
  for (const auto& f : merged.files) files.push_back(f.string());
  report.run = {{"command", "eval"},
                {"from_scores", files},
                {"shards", merged.files.size()},
                {"model",
                 {{"path", merged.model_path},
                  {"sha256", stamp.model_sha256},
                  {"num_classes", merged.num_classes}}},
                {"preset", stamp.preset},
                {"temperatures", stamp.temperatures},
                {"score_stamp", stamp.ToJson(/*run_only=*/true)}};
  AddClassesAndGallery(merged.table, roles.front(), ood_names, {}, GatedScores(checks),
                       cmd.report.gallery, &report);
  StageCards(report, roles.front(), cmd.report.tpr, CardRunOf(stamp, merged.model_path), &folder);
  return FinishReport(&report, input, cmd.report, checks,
                      "oodscore eval: " + roles.front() + " (ID) vs " + JoinNames(ood_names),
                      SecondsSince(start), &folder);
}

}  // namespace

void SetupEvalCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<EvalCommand>();
  cmd->report.out_dir = "oodscore-report";
  CLI::App* sub = app->add_subcommand(
      "eval",
      "score an ID set and OOD sets, write scores.csv, report.{json,md,html} and detector "
      "cards; --gate/--baseline make it a CI check (exit 1 on failure)");
  AddScoringOptions(sub, &cmd->scoring);
  sub->get_option("--model")->required(false);  // not with --from-scores; checked in RunEval
  sub->add_option("--id", cmd->id,
                  "[NAME=]PATH of the in-distribution set (with --from-scores: its NAME; default "
                  "the first input)");
  sub->add_option("--ood", cmd->ood,
                  "[NAME=]PATH of an OOD set; repeatable (with --from-scores: NAMEs; default every "
                  "other input)");
  sub->add_option("--csid", cmd->report.csid,
                  "[NAME=]PATH of a covariate-shifted ID set (OpenOOD's csid: the ID classes "
                  "under another camera, style or time), scored and its accuracy reported; with "
                  "--fsood counted as ID; repeatable (with --from-scores: NAMEs)");
  sub->add_option("--from-scores", cmd->from_scores,
                  "DIR|CSV...: make the report from score files that `score -o` (--shard) wrote, "
                  "with their stamps, instead of running a model; shards are checked and merged, "
                  "and the report equals the single run's");
  sub->add_option("--out-dir", cmd->report.out_dir, "report folder")->capture_default_str();
  AddGalleryOption(sub, &cmd->report);
  AddReportOptions(sub, &cmd->report);
  sub->footer(HelpFooter(
      {"oodscore eval --model m.pt --preset cifar10 --id cifar10=data/test --ood svhn=data/svhn",
       "oodscore eval ... --gate 'energy.fpr_at_tpr<=40%' --gate 'id.accuracy>=0.9' --junit "
       "junit.xml",
       "oodscore eval ... --out-dir new --baseline main/report.json --max-drop auroc=0.5%",
       "oodscore eval --from-scores shards/ --out-dir report   # after score --shard I/N"}));
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = cmd->from_scores.empty() ? RunEval(*cmd) : RunEvalFromScores(*cmd);
  });
}

}  // namespace oodscore
