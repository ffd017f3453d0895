#include "cli/run_spec.h"

#include <algorithm>
#include <cmath>

#include "base/format.h"
#include "base/suggest.h"
#include "cli/cli.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

void AddTemperature(double t, std::vector<double>* temps) {
  if (std::find(temps->begin(), temps->end(), t) == temps->end()) temps->push_back(t);
}

}  // namespace

std::vector<double> RunSpec::ColumnTemperatures() const {
  std::vector<double> temps = {1.0};
  for (double t : temperatures) {
    if (const std::string problem = kPositive.Problem(t); !problem.empty()) {
      throw UsageError("a temperature " + problem);
    }
    AddTemperature(t, &temps);
  }
  return temps;
}

std::vector<ScoreColumn> RunSpec::Columns() const {
  return RunScoreColumns(ColumnTemperatures(), odin, fit());
}

std::vector<std::string> RunSpec::DefaultScores() const {
  std::vector<double> temps;
  for (double t : temperatures) {
    if (t > 0) temps.push_back(t);  // the run refuses the others, naming them
  }
  return DefaultReportScores(temps, odin, fit());
}

void RunSpec::Require(const std::string& score) {
  const ScoreDef* def = FindScore(score);
  if (def == nullptr) throw UsageError("unknown score '" + score + "'");
  switch (def->needs) {
    case ScoreNeeds::kTemperature:
      AddTemperature(*EnergyTemperature(score), &temperatures);
      break;
    case ScoreNeeds::kPerturbation:
      odin = true;
      break;
    case ScoreNeeds::kFit:
      if (!fit()) {
        throw UsageError("score '" + score +
                         "' is computed from the model's features: give "
                         "--fit FILE, made once by `oodscore fit --model M --preset P --train "
                         "DIR -o FILE`");
      }
      break;
    default:
      break;
  }
}

void RunSpec::ApplyCard(const DetectorCard& card) {
  const ScoreDef* def = FindScore(card.score);  // ParseCard checked the name
  if (def->needs == ScoreNeeds::kPerturbation) {
    // The card's ODIN parameters decide its threshold: use them, and refuse flags that say
    // otherwise.
    const bool t = odin_temperature_given && odin_temperature != card.temperature;
    const bool e = odin_epsilon_given && odin_epsilon != *card.odin_epsilon;
    if (t || e) {
      throw UsageError(
          (t ? "--odin-temperature " + FormatDouble(odin_temperature) : std::string()) +
          (t && e ? " and " : "") +
          (e ? "--odin-epsilon " + FormatDouble(odin_epsilon) : std::string()) +
          " contradict the card's ODIN settings (T " + FormatDouble(card.temperature) +
          ", epsilon " + FormatDouble(*card.odin_epsilon) +
          "), which its threshold was set with: drop the flag");
    }
    odin_temperature = card.temperature;
    odin_epsilon = *card.odin_epsilon;
  }
  if (def->needs == ScoreNeeds::kFit) return;
  // An energy card applies at its temperature.
  Require(EnergyTemperature(card.score) ? EnergyColumn(card.temperature) : card.score);
}

RunSpec RunSpec::FromStamp(const ScoreStamp& stamp) {
  RunSpec spec;
  spec.temperatures = stamp.temperatures;
  if (stamp.odin.is_object()) {
    spec.odin = true;
    spec.odin_temperature = stamp.odin.value("temperature", spec.odin_temperature);
    spec.odin_epsilon = stamp.odin.value("epsilon", spec.odin_epsilon);
  }
  if (stamp.fit.is_object()) spec.fit_path = stamp.fit.value("path", "");
  return spec;
}

void RunSpec::CheckFlags() const {
  if ((odin_temperature_given || odin_epsilon_given) && !odin) {
    throw UsageError(
        "--odin-temperature and --odin-epsilon set ODIN's score, which this run does not "
        "compute: add --odin (or --score odin), or drop them");
  }
}

nlohmann::json RunSpec::OdinJson() const {
  if (!odin) return nullptr;
  return {{"temperature", odin_temperature}, {"epsilon", odin_epsilon}};
}

void AddRunSpecOptions(CLI::App* cmd, RunSpec* spec) {
  cmd->add_option("--temperature,-T", spec->temperatures,
                  "energy temperature(s) T > 0; energy at T=1 is always written, each other T adds "
                  "a column energy_T<T>")
      ->check(InRange(kPositive));
  cmd->add_flag("--odin", spec->odin,
                "also the ODIN score (Liang et al., 2018), column odin, higher = ID: input "
                "perturbation with a backward pass per batch, through the unfrozen model");
  cmd->add_option("--odin-temperature", spec->odin_temperature, "ODIN's temperature T")
      ->check(InRange(kPositive))
      ->each([spec](const std::string&) { spec->odin_temperature_given = true; })
      ->capture_default_str();
  cmd->add_option("--odin-epsilon", spec->odin_epsilon, "ODIN's perturbation size epsilon")
      ->check(InRange(kNonNegative))
      ->each([spec](const std::string&) { spec->odin_epsilon_given = true; })
      ->capture_default_str();
  cmd->add_option("--fit", spec->fit_path,
                  "a fit file of this model (`oodscore fit`): adds the feature-space scores " +
                      JoinNames(FeatureScoreNames()));
  cmd->add_option("--head", spec->head,
                  "with --fit: the final linear layer's submodule name (default: the one in the "
                  "fit, found automatically by `fit`)");
}

}  // namespace oodscore
