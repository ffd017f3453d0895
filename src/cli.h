// Shared pieces of the command-line front end (not part of the library API).
//
// Each command is a plain options struct, a Setup function that binds flags to its fields,
// and a Run function that takes the struct and returns an exit code (CLI11's
// subcom_in_files pattern).
#ifndef OODSCORE_SRC_CLI_H_
#define OODSCORE_SRC_CLI_H_

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/gate.h"
#include "oodscore/report.h"
#include "oodscore/score_table.h"

namespace oodscore {

// Options that every reporting command (metrics, eval) shares.
struct ReportOptions {
  double tpr = 0.95;
  std::string convention = "exact";
  int bootstrap = 0;
  std::uint64_t seed = 0;
  std::vector<std::string> scores;  // empty = every known score column
  std::vector<std::string> gates;
  std::string baseline;
  std::vector<std::string> max_drop, max_rise;
  std::filesystem::path out_dir;
};

void AddReportOptions(CLI::App* cmd, ReportOptions* opt);

// What every score means and which way it points, for --help footers.
extern const char* const kScoreConventions;
MetricOptions ToMetricOptions(const ReportOptions& opt);

// Splits "NAME=PATH" into name and path; a bare PATH is named after its base name
// (a trailing ".csv"/".txt"/".npy" removed).
std::pair<std::string, std::string> SplitNamed(const std::string& arg);

// Picks the scores to report from a table's columns (opt.scores, or every known score),
// and builds the report input for id_set against ood_sets.
ReportInput InputFromTable(const ScoreTable& table, const std::string& id_set,
                           const std::vector<std::string>& ood_sets, const ReportOptions& opt);

// The --gate, --baseline, --max-drop and --max-rise options, parsed and loaded. Built before
// any expensive work, so that a typo fails at once. Throws UsageError / Error.
struct Checks {
  std::vector<Gate> gates;
  std::map<std::string, double> max_drop, max_rise;
  std::optional<nlohmann::json> baseline;
};
Checks PrepareChecks(const ReportOptions& opt, const std::vector<std::string>& score_names);

// Evaluates the checks, writes report.json / report.md / report.html into opt.out_dir,
// prints the Markdown table to stdout and a one-line verdict to stderr.
// Returns kExitOk or kExitGateFailed.
int FinishReport(Report* report, const ReportInput& input, const ReportOptions& opt,
                 const Checks& checks);

// The subcommands. Each Setup adds its subcommand to app and arranges for *exit_code to be
// set when it runs.
void SetupMetricsCommand(CLI::App* app, int* exit_code);
void SetupScoreCommand(CLI::App* app, int* exit_code);
void SetupEvalCommand(CLI::App* app, int* exit_code);
void SetupCalibrateCommand(CLI::App* app, int* exit_code);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_H_
