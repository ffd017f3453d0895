// oodscore calibrate: a deployable threshold from ID data alone, written as a detector card.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <tuple>

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "cli/cli.h"
#include "cli/scoring.h"
#include "oodscore/augment.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct CalibrateCommand {
  ScoringOptions scoring;
  std::string id;
  std::string score = "energy";
  double tpr = 0.95;
  std::string output;
  double split_fraction = 0;  // --split-fraction: the share held out for the p-values; 0 = none
  std::uint64_t seed = 0;
};

// FNV-1a over a path's bytes: with the seed, it orders the samples for --split-fraction.
std::uint64_t PathKey(std::string_view path, std::uint64_t seed) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : path) h = (h ^ c) * 0x100000001B3ull;
  return MixSeed(seed, h);
}

// --split-fraction F: the ID samples ranked by a seeded hash of their path (so the split does
// not depend on listing order, shards or threads), the first round(F * n) (at least 1, at most
// n - 1) held out for the p-values, the rest for the threshold. Returns {threshold's oriented
// scores, held-out oriented scores}.
std::pair<std::vector<double>, std::vector<double>> SplitByPath(const ScoreTable& table,
                                                                const std::string& set,
                                                                const std::vector<double>& oriented,
                                                                double fraction,
                                                                std::uint64_t seed) {
  std::vector<std::pair<std::uint64_t, std::size_t>> keys;  // (key, index in `oriented`)
  for (std::size_t r = 0, i = 0; r < table.size(); ++r) {
    if (table.set(r) != set) continue;
    keys.emplace_back(PathKey(table.path(r), seed), i++);
  }
  const std::size_t n = keys.size();
  if (n < 2) {
    throw UsageError(
        "--split-fraction needs at least 2 ID samples (one for the threshold, one "
        "for the p-values), and the ID set has " +
        std::to_string(n));
  }
  std::sort(keys.begin(), keys.end());
  const std::size_t held = std::clamp<std::size_t>(
      static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n))), 1, n - 1);
  std::pair<std::vector<double>, std::vector<double>> out;
  for (std::size_t k = 0; k < n; ++k) {
    (k < held ? out.second : out.first).push_back(oriented[keys[k].second]);
  }
  return out;
}

int RunCalibrate(CalibrateCommand& cmd) {
  ScoreInfo info;
  const std::string score = CheckedScoreName(cmd.score);
  LookupScore(score, &info);
  cmd.scoring.spec.Require(score);
  const double max_skipped = MaxSkippedShare(cmd.scoring);
  auto sets = LoadInputs({cmd.id}, cmd.scoring.layout, true, false, cmd.scoring.null_separated);
  ScoringOutputs outputs;
  outputs.keep_rows = true;
  outputs.keep_paths = cmd.split_fraction > 0;
  outputs.paths.Write("-o", cmd.output);
  outputs.input_flag = "--id";
  ScoringResult scored = RunScoring(cmd.scoring, sets, outputs);
  std::vector<double> oriented =
      scored.table.Column(sets[0].name, scored.table.ColumnIndex(info.rank_column));
  for (double& v : oriented) v = Orient(v, info.orientation);
  std::vector<double> held_out;
  if (cmd.split_fraction > 0) {
    std::tie(oriented, held_out) =
        SplitByPath(scored.table, sets[0].name, oriented, cmd.split_fraction, cmd.seed);
  }
  const IdThreshold t = ThresholdFromId(oriented, cmd.tpr);
  DetectorCard card = MakeCard(info, t, cmd.tpr, sets[0].name, CardRunOf(cmd.scoring, scored));
  // The scores on the axis the card decides on (the rank column, oriented), for score's
  // p-values: the held-out ones with --split-fraction; + 0.0 writes -0 as 0.
  card.calibration = cmd.split_fraction > 0 ? held_out : oriented;
  if (cmd.split_fraction > 0) card.split = DetectorCard::Split{cmd.split_fraction, cmd.seed};
  for (double& v : card.calibration) v += 0.0;
  std::sort(card.calibration.begin(), card.calibration.end());
  const std::string text = DumpJson(CardJson(card)) + "\n";
  if (cmd.output.empty() || cmd.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    WriteFileAtomic(cmd.output, text);
  }
  spdlog::info("threshold: accept as ID when {} (TPR {:.4f} on {} ID samples)",
               AcceptRule(info, card.threshold), t.tpr_achieved, t.n);
  const std::size_t n_cal = card.calibration.size();
  spdlog::info("p-values: {} calibration scores{}; the smallest p-value is 1/{} = {}", n_cal,
               card.split ? " (held out from the threshold's samples)" : "", n_cal + 1,
               FormatDouble(1.0 / static_cast<double>(n_cal + 1)));
  // The natural alpha of a card is its own false-alarm rate, 1 - tpr.
  const double alpha = 1.0 - cmd.tpr;
  if (alpha > 0 && 1.0 / static_cast<double>(n_cal + 1) > alpha) {
    spdlog::warn(
        "only {} calibration scores: the smallest p-value 1/{} is above {} (1 - --tpr), so "
        "`score --alpha {}` could flag nothing; calibrate on at least {} ID samples",
        n_cal, n_cal + 1, FormatDouble(alpha), FormatDouble(alpha),
        static_cast<std::size_t>(std::ceil(1.0 / alpha - 1.0)));
  }
  return SkippedVerdict(scored.stats, max_skipped);
}

}  // namespace

void SetupCalibrateCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<CalibrateCommand>();
  CLI::App* sub = app->add_subcommand(
      "calibrate",
      "pick an OOD threshold from ID data alone (the ceil(tpr*n)-th best ID score) "
      "and write a detector card, with the ID scores themselves for score's p-values");
  AddScoringOptions(sub, &cmd->scoring);
  sub->add_option("--id", cmd->id, "[NAME=]PATH of the in-distribution set")->required();
  sub->add_option("--score", cmd->score, "the score to threshold: " + KnownScoresText())
      ->capture_default_str();
  sub->add_option("--tpr", cmd->tpr, "share of ID samples to accept: 0.95 or 95%")
      ->transform(ShareFlag())
      ->capture_default_str();
  sub->add_option("--output,-o", cmd->output, "card path (- = stdout)")->required();
  sub->add_option("--split-fraction", cmd->split_fraction,
                  "hold out this share of the ID samples (chosen by a seeded hash of their "
                  "paths) for score's p-values; the threshold uses the rest, so the p-values do "
                  "not reuse the samples that chose it (default: all samples for both)")
      ->check(InRange({0, 1, true, true}));
  sub->add_option("--seed", cmd->seed, "seed of --split-fraction's split")
      ->check(WholeNumber())
      ->capture_default_str();
  sub->footer(HelpFooter(
      {"oodscore calibrate --model m.pt --preset cifar10 --id cifar10=data/val -o card.json",
       "oodscore calibrate ... --score msp --tpr 0.99 -o card-msp.json",
       "oodscore score --model m.pt --card card.json -i incoming/ -o -"}));
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = RunCalibrate(*cmd);
  });
}

}  // namespace oodscore
