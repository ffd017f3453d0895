// oodscore calibrate: a deployable threshold from ID data alone, written as a detector card.
#include <spdlog/spdlog.h>

#include "cli.h"
#include "oodscore/atomic_file.h"
#include "oodscore/error.h"
#include "oodscore/format.h"
#include "scoring.h"

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
  if (!LookupScore(cmd.score, &info) || cmd.score == "score" || cmd.score == "score_lower") {
    throw UsageError("unknown score '" + cmd.score + "' (energy, energy_T<t>, msp, maxlogit, entropy)");
  }
  double temperature = 1.0;
  if (cmd.score.rfind("energy_T", 0) == 0) {
    temperature = ParseDouble(cmd.score.substr(8)).value();
    cmd.scoring.temperatures.push_back(temperature);
  }
  auto sets = LoadInputs({cmd.id});
  ScoringResult scored = RunScoring(cmd.scoring, sets, "", /*keep_rows=*/true);
  const int col = scored.table.ColumnIndex(info.rank_column);
  std::vector<double> oriented = scored.table.Column(sets[0].name, col);
  for (double& v : oriented) v = Orient(v, info.orientation);
  const IdThreshold t = ThresholdFromId(oriented, cmd.tpr);

  DetectorCard card;
  card.score = cmd.score;
  card.temperature = temperature;
  card.threshold = RawThreshold(info, t.threshold);
  card.tpr_target = cmd.tpr;
  card.tpr_achieved = t.tpr_achieved;
  card.n = t.n;
  card.id_set = sets[0].name;
  card.model_path = cmd.scoring.model_path;
  card.model_sha256 = scored.model_sha256;
  card.preset = scored.run["preset"];
  const std::string text = CardJson(card).dump(2) + "\n";
  if (cmd.output.empty() || cmd.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    WriteFileAtomic(cmd.output, text);
  }
  spdlog::info("threshold: accept as ID when {} (TPR {:.4f} on {} ID samples)",
               AcceptRule(info, card.threshold), t.tpr_achieved, t.n);
  return kExitOk;
}

}  // namespace

void SetupCalibrateCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<CalibrateCommand>();
  CLI::App* sub = app->add_subcommand(
      "calibrate", "pick an OOD threshold from ID data alone (the ceil(tpr*n)-th best ID score) "
                   "and write a detector card");
  AddScoringOptions(sub, &cmd->scoring);
  sub->add_option("--id", cmd->id, "[NAME=]PATH of the in-distribution set")->required();
  sub->add_option("--score", cmd->score, "energy, energy_T<t>, msp, maxlogit or entropy")
      ->capture_default_str();
  sub->add_option("--tpr", cmd->tpr, "share of ID samples to accept")
      ->check(CLI::Range(1e-9, 1.0))
      ->capture_default_str();
  sub->add_option("--output,-o", cmd->output, "card path (- = stdout)")->required();
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = RunCalibrate(*cmd);
  });
}

}  // namespace oodscore
