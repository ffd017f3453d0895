// What a run computes, as one typed value (front-end code): the energy temperatures, ODIN's
// settings, the fit and its head, and from them the score columns (the score catalogue's
// RunScoreColumns, include/oodscore/scores.h). It is bound to the flags once
// (AddRunSpecOptions) and changed only by what a named score, a detector card or a stamp
// implies, each in one place here: `--score odin` turns ODIN on, `energy_T2` adds T = 2, an odin
// card brings its T and epsilon, a stamp brings the run it records.
#ifndef OODSCORE_SRC_CLI_RUN_SPEC_H_
#define OODSCORE_SRC_CLI_RUN_SPEC_H_

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/score_stamp.h"
#include "oodscore/card.h"
#include "oodscore/scores.h"

namespace oodscore {

struct RunSpec {
  std::vector<double> temperatures;  // as asked (-T); energy at T = 1 is always computed
  bool odin = false;                 // the ODIN column (a backward pass per batch)
  double odin_temperature = 1000, odin_epsilon = 0.0014;
  std::string fit_path;  // `oodscore fit`'s output: the feature-space columns
  std::string head;      // the final linear layer's name ("" = the fit's, or found)
  bool odin_temperature_given = false, odin_epsilon_given = false;  // the flags were given

  bool fit() const { return !fit_path.empty(); }

  // The energy temperatures in column order: 1 first, then each other once. Throws
  // UsageError for one that is not > 0 and finite.
  std::vector<double> ColumnTemperatures() const;

  // The score columns the run writes (before is_ood).
  std::vector<ScoreColumn> Columns() const;

  // The scores eval reports when none is named: every score the run computes.
  std::vector<std::string> DefaultScores() const;

  // What naming `score` (a canonical name, CheckedScoreName) implies, from the catalogue's
  // needs: energy_T<t> adds t, odin turns ODIN on, a feature score needs --fit (UsageError
  // "score 'knn' is computed from the model's features: give --fit FILE ..." without one).
  void Require(const std::string& score);

  // What a detector card implies: an odin card's T and epsilon (and ODIN), an energy card's
  // temperature. A feature score's card needs --fit, which the run's column check says.
  void ApplyCard(const DetectorCard& card);

  // The run a stamp records (score files scored elsewhere): temperatures, ODIN's settings,
  // and the fit's path, which stands for "the run has the feature columns".
  static RunSpec FromStamp(const ScoreStamp& stamp);

  // Refuses (UsageError) flags that would be ignored: --odin-temperature or --odin-epsilon
  // without ODIN. Called once every score and card has had its say.
  void CheckFlags() const;

  // ODIN's settings as stamps record them: {"temperature", "epsilon"}, or null without ODIN.
  nlohmann::json OdinJson() const;
};

// Binds --temperature/-T, --odin, --odin-temperature, --odin-epsilon, --fit and --head.
void AddRunSpecOptions(CLI::App* cmd, RunSpec* spec);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_RUN_SPEC_H_
