// oodscore eval: score an ID set and OOD sets with one model, then report, gate and calibrate.
#include <spdlog/spdlog.h>

#include "cli.h"
#include "oodscore/atomic_file.h"
#include "oodscore/error.h"
#include "oodscore/format.h"
#include "scoring.h"

namespace oodscore {

namespace {

struct EvalCommand {
  ScoringOptions scoring;
  std::string id;
  std::vector<std::string> ood;
  ReportOptions report;
};

int RunEval(EvalCommand& cmd) {
  std::vector<std::string> inputs = {cmd.id};
  inputs.insert(inputs.end(), cmd.ood.begin(), cmd.ood.end());
  auto sets = LoadInputs(inputs);
  // Cheap checks before the expensive scoring.
  ToMetricOptions(cmd.report);
  for (auto& s : cmd.report.scores) s = CanonicalScoreName(s);
  const Checks checks = PrepareChecks(cmd.report, cmd.report.scores);
  std::error_code ec;
  std::filesystem::create_directories(cmd.report.out_dir, ec);
  if (ec) throw Error("cannot create '" + cmd.report.out_dir.string() + "': " + ec.message());
  ScoringResult scored = RunScoring(cmd.scoring, sets, (cmd.report.out_dir / "scores.csv").string(),
                                    /*keep_rows=*/true);
  std::vector<std::string> ood_names;
  for (std::size_t i = 1; i < sets.size(); ++i) ood_names.push_back(sets[i].name);
  ReportInput input = InputFromTable(scored.table, sets[0].name, ood_names, cmd.report);
  Report report = BuildReport(input);

  report.id_accuracy = LabelAccuracy(scored.table, sets[0].name);
  if (!sets[0].classes.empty()) {
    if (static_cast<int>(sets[0].classes.size()) != scored.stats.num_classes) {
      spdlog::warn(
          "ID folder has {} classes but the model outputs {} logits: accuracy assumes "
          "class i = i-th sorted folder name",
          sets[0].classes.size(), scored.stats.num_classes);
    }
  }
  report.run = scored.run;
  report.run["command"] = "eval";
  if (!sets[0].classes.empty()) report.run["id_classes"] = sets[0].classes;

  // A detector card per score, from the ID scores alone.
  for (std::size_t s = 0; s < report.scores.size(); ++s) {
    const DetectorCard card = MakeCard(report.scores[s], report.id_thresholds[s], cmd.report.tpr,
                                       sets[0].name, cmd.scoring, scored);
    WriteFileAtomic(cmd.report.out_dir / ("card-" + card.score + ".json"),
                    CardJson(card).dump(2) + "\n");
  }
  return FinishReport(&report, input, cmd.report, checks);
}

}  // namespace

void SetupEvalCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<EvalCommand>();
  cmd->report.out_dir = "oodscore-report";
  cmd->report.scores = {};
  CLI::App* sub = app->add_subcommand(
      "eval",
      "score an ID set and OOD sets, write scores.csv, report.{json,md,html} and detector "
      "cards; --gate/--baseline make it a CI check (exit 1 on failure)");
  AddScoringOptions(sub, &cmd->scoring);
  sub->add_option("--id", cmd->id, "[NAME=]PATH of the in-distribution set")->required();
  sub->add_option("--ood", cmd->ood, "[NAME=]PATH of an OOD set; repeatable")->required();
  sub->add_option("--out-dir", cmd->report.out_dir, "report folder")->capture_default_str();
  AddReportOptions(sub, &cmd->report);
  sub->footer(kScoreConventions);
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    if (cmd->report.scores.empty()) {
      cmd->report.scores = {"energy"};
      for (double t : cmd->scoring.temperatures) {
        if (t != 1.0 && t > 0) cmd->report.scores.push_back(EnergyColumn(t));
      }
      for (const char* s : {"msp", "maxlogit", "entropy"}) cmd->report.scores.push_back(s);
    }
    *exit_code = RunEval(*cmd);
  });
}

}  // namespace oodscore
