// oodscore calibrate: a deployable threshold from ID data alone, written as a detector card.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "cli/cli.h"
#include "cli/scoring.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct CalibrateCommand {
  ScoringOptions scoring;
  std::string id;
  std::string score = "energy";
  double tpr = 0.95;
  std::string output;
};

int RunCalibrate(CalibrateCommand& cmd) {
  ScoreInfo info;
  const std::string score = CheckedScoreName(cmd.score);
  LookupScore(score, &info);
  cmd.scoring.spec.Require(score);
  const double max_skipped = MaxSkippedShare(cmd.scoring);
  auto sets = LoadInputs({cmd.id}, cmd.scoring.layout, true, false, cmd.scoring.null_separated);
  ScoringOutputs outputs;
  outputs.keep_rows = true;
  outputs.paths.Write("-o", cmd.output);
  outputs.input_flag = "--id";
  ScoringResult scored = RunScoring(cmd.scoring, sets, outputs);
  std::vector<double> oriented =
      scored.table.Column(sets[0].name, scored.table.ColumnIndex(info.rank_column));
  for (double& v : oriented) v = Orient(v, info.orientation);
  const IdThreshold t = ThresholdFromId(oriented, cmd.tpr);
  DetectorCard card = MakeCard(info, t, cmd.tpr, sets[0].name, CardRunOf(cmd.scoring, scored));
  // The scores on the axis the card decides on (the rank column, oriented), for score's
  // p-values; + 0.0 writes -0 as 0.
  card.calibration = oriented;
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
  sub->add_option("--tpr", cmd->tpr, "share of ID samples to accept")
      ->check(InRange(kShare))
      ->capture_default_str();
  sub->add_option("--output,-o", cmd->output, "card path (- = stdout)")->required();
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
