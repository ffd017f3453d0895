// oodscore eval: score an ID set and OOD sets with one model, then report, gate and calibrate.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "cli.h"
#include "oodscore/atomic_file.h"
#include "oodscore/error.h"
#include "oodscore/format.h"
#include "oodscore/json_text.h"
#include "oodscore/suggest.h"
#include "scoring.h"

namespace oodscore {

namespace {

struct EvalCommand {
  ScoringOptions scoring;
  std::string id;
  std::vector<std::string> ood;
  ReportOptions report;
};

// The scores to report: --score (checked, each energy_T<t> adding its temperature), else
// energy at every temperature, msp, maxlogit and entropy.
void ResolveScores(EvalCommand& cmd) {
  if (cmd.report.scores.empty()) {
    cmd.report.scores = {"energy"};
    for (double t : cmd.scoring.temperatures) {
      if (t != 1.0 && t > 0) cmd.report.scores.push_back(EnergyColumn(t));
    }
    for (const char* s : {"msp", "maxlogit", "entropy"}) cmd.report.scores.push_back(s);
    return;
  }
  for (auto& s : cmd.report.scores) {
    s = CheckedScoreName(s);
    const auto t = EnergyTemperature(s);
    auto& temps = cmd.scoring.temperatures;
    if (t && *t != 1.0 && std::find(temps.begin(), temps.end(), *t) == temps.end()) {
      temps.push_back(*t);
    }
  }
}

int RunEval(EvalCommand& cmd) {
  const auto start = std::chrono::steady_clock::now();
  // Cheap checks before the expensive scoring.
  ResolveScores(cmd);
  ToMetricOptions(cmd.report);
  const Checks checks =
      PrepareChecks(cmd.report, cmd.report.scores, MaxSkippedShare(cmd.scoring));
  std::vector<std::string> inputs = {cmd.id};
  inputs.insert(inputs.end(), cmd.ood.begin(), cmd.ood.end());
  auto sets = LoadInputs(inputs, cmd.scoring.layout);
  ReportFolder folder(cmd.report.out_dir);

  ScoringOutputs outputs;
  outputs.csv_path = folder.Stage("scores.csv").string();
  outputs.keep_rows = true;
  ScoringResult scored = RunScoring(cmd.scoring, sets, outputs);
  std::vector<std::string> ood_names;
  for (std::size_t i = 1; i < sets.size(); ++i) ood_names.push_back(sets[i].name);
  ReportInput input = InputFromTable(scored.table, sets[0].name, ood_names, cmd.report);
  Report report = BuildReport(input);
  report.sets = scored.stats.sets;
  report.skipped = scored.stats.skipped;

  report.id_accuracy = LabelAccuracy(scored.table, sets[0].name);
  if (!sets[0].classes.empty() &&
      static_cast<int>(sets[0].classes.size()) != scored.stats.num_classes) {
    report.warnings.push_back("ID folder has " + std::to_string(sets[0].classes.size()) +
                              " classes but the model outputs " +
                              std::to_string(scored.stats.num_classes) +
                              " logits: accuracy assumes class i = i-th sorted folder name");
  }
  if (report.id_accuracy) {
    const int k = sets[0].classes.empty() ? scored.stats.num_classes
                                          : static_cast<int>(sets[0].classes.size());
    const std::string w = BelowChanceWarning(*report.id_accuracy, k);
    if (!w.empty()) report.warnings.push_back(w);
  }
  report.run = scored.run;
  report.run["command"] = "eval";
  if (!sets[0].classes.empty()) report.run["id_classes"] = sets[0].classes;

  // A detector card per score, from the ID scores alone.
  for (std::size_t s = 0; s < report.scores.size(); ++s) {
    const DetectorCard card = MakeCard(report.scores[s], report.id_thresholds[s], cmd.report.tpr,
                                       sets[0].name, cmd.scoring, scored);
    WriteFileAtomic(folder.Stage("card-" + card.score + ".json"), DumpJson(CardJson(card)) + "\n");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return FinishReport(&report, input, cmd.report, checks,
                      "oodscore eval: " + sets[0].name + " (ID) vs " + JoinNames(ood_names),
                      seconds, &folder);
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
  sub->add_option("--id", cmd->id, "[NAME=]PATH of the in-distribution set")->required();
  sub->add_option("--ood", cmd->ood, "[NAME=]PATH of an OOD set; repeatable")->required();
  sub->add_option("--out-dir", cmd->report.out_dir, "report folder")->capture_default_str();
  AddReportOptions(sub, &cmd->report);
  sub->footer(HelpFooter(
      {"oodscore eval --model m.pt --preset cifar10 --id cifar10=data/test --ood svhn=data/svhn",
       "oodscore eval ... --gate 'energy.fpr_at_tpr<=40%' --gate 'id.accuracy>=0.9' --junit "
       "junit.xml",
       "oodscore eval ... --out-dir new --baseline main/report.json --max-drop auroc=0.5%"}));
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = RunEval(*cmd);
  });
}

}  // namespace oodscore
