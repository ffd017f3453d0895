// Shared pieces of the command-line front end (not part of the library API).
//
// Each command is a plain options struct, a Setup function that binds flags to its fields,
// and a Run function that takes the struct and returns an exit code (CLI11's
// subcom_in_files pattern).
#ifndef OODSCORE_SRC_CLI_CLI_H_
#define OODSCORE_SRC_CLI_CLI_H_

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/number_range.h"
#include "cli/run_paths.h"
#include "oodscore/gate.h"
#include "oodscore/report.h"
#include "oodscore/report_folder.h"
#include "oodscore/score_table.h"

namespace oodscore {

// Options that every reporting command (metrics, eval) shares.
struct ReportOptions {
  double tpr = 0.95;
  std::string convention = "exact";
  int bootstrap = 0;
  std::uint64_t seed = 0;
  std::vector<std::string> scores;  // empty = every known score column
  // Orientations of score-file columns the catalogue does not know (metrics' --lower-is-id
  // NAME / --higher-is-id NAME); each named column is reported.
  std::map<std::string, Orientation> orientations;
  std::vector<std::string> gates;
  std::string baseline;
  std::vector<std::string> max_drop, max_rise;
  // --baseline-scores: "all", or the scores compared; empty = the scores named by --score or
  // a gate (every score when none is).
  std::vector<std::string> baseline_scores;
  std::string baseline_missing;  // fail | skip ("" = not given: fail): a missing --baseline
  bool baseline_allow_resample = false;
  double significance = 0;          // --significance ALPHA; 0 = not given
  double ood_subsample = 0;         // --ood-subsample F; 0 = every OOD sample, once
  int repeats = 0;                  // --repeats R (with --ood-subsample; 0 = its default, 10)
  std::vector<std::string> groups;  // --group NAME=SET,SET
  // --csid: the covariate-shifted ID sets' names (eval takes NAME=PATH and keeps the names
  // here); --fsood counts them as ID in every metric.
  std::vector<std::string> csid;
  bool fsood = false;
  // --gallery K: the failure gallery's samples per list (gallery.h); 0 = no gallery (metrics'
  // default: it keeps no paths unless asked).
  int gallery = kDefaultGallerySize;
  bool scores_by_default = false;  // eval filled `scores` with its defaults (none was named)
  std::filesystem::path out_dir;
  std::string junit;  // JUnit XML path, "" = none
};

void AddReportOptions(CLI::App* cmd, ReportOptions* opt);
// --gallery K (ReportOptions::gallery; its default is the command's).
void AddGalleryOption(CLI::App* cmd, ReportOptions* opt);

// The --csid sets of `report`'s run: their counts and accuracy, and with --fsood the accuracy
// over the ID set and them together. Refuses a csid set that is the ID set, an OOD set, or
// absent from `table`.
void AddCsidResults(const ScoreTable& table, const ReportOptions& opt,
                    const std::vector<std::string>& ood_names, Report* report);

// The check of a flag's number: finite and in `range` (the check card fields get too,
// json_text.h's JsonNumber). CLI11 refuses with exit 2: "--odin-epsilon: must be a finite
// number >= 0, got nan".
CLI::Validator InRange(const NumberRange& range);
// A share in (0, 1] such as a TPR, as a fraction or a percentage ("0.95" or "95%", passed on
// as 0.95); a bare value above 1 gets "did you mean 0.95 or 95%?", as gates do.
CLI::Validator ShareFlag();
// A whole number >= 0 that fits 64 bits, as digits ("-1" is refused, not wrapped).
CLI::Validator WholeNumber();

// What every score means and which way it points (from the score catalogue), how metrics
// orient them, and the exit codes: the end of every --help.
std::string ScoreConventions();

// A --help footer: the example command lines, then ScoreConventions().
std::string HelpFooter(const std::vector<std::string>& examples);

// CLI11's help layout with the required options first, in a group of their own ("Required"),
// before the others: what a command cannot run without is what a reader looks for first.
// Set on the app before its commands are added (they take their parent's formatter).
std::shared_ptr<CLI::Formatter> RequiredFirstFormatter();

// Checks the command line's options before CLI11 parses it, so that a mistyped option is
// named before a "required" error it causes: returns "" when every word that looks like an
// option (after `cmd`'s name in args) is one of `cmd`'s or the tool's, else the message, e.g.
// "oodscore eval: unknown option '--gates', did you mean '--gate'? (oodscore eval --help
// lists its options)"; eval's -i/--input names --id/--ood. Values that begin with '-' ("-",
// numbers) and everything after "--" are left alone.
std::string UnknownOptionText(const CLI::App* cmd, const std::vector<std::string>& args);
MetricOptions ToMetricOptions(const ReportOptions& opt);

// Splits "NAME=PATH" into name and path; a bare PATH is named after its base name
// (a trailing ".csv"/".txt"/".npy" removed), and "-" (standard input) is named "stdin".
std::pair<std::string, std::string> SplitNamed(const std::string& arg);

// Set names must be unique; "mean" names the mean row in gates and "id" the ID set, so no
// set may be called "mean", and with roles (the first set is ID) only the ID set "id".
// Throws UsageError.
void CheckSetNames(const std::vector<std::string>& names, bool roles);

// "--lower-is-id" / "--higher-is-id": the metrics flag that gives a column this orientation.
const char* OrientationFlag(Orientation o);

// Picks the scores to report from a table's columns (opt.scores, or every known score and
// every column of opt.orientations), and builds the report input for id_set against
// ood_sets. A column the catalogue does not know needs its orientation in opt.orientations;
// one it knows must not have one there (UsageError either way).
ReportInput InputFromTable(const ScoreTable& table, const std::string& id_set,
                           const std::vector<std::string>& ood_sets, const ReportOptions& opt);

// The files a report run reads and writes besides its inputs: --baseline, the report folder
// (--out-dir) and --junit.
void AddReportPaths(const ReportOptions& opt, RunPaths* paths);

// The --gate, --baseline, --max-drop, --max-rise and --max-skipped options, parsed and loaded.
// Built before any expensive work, so that a typo fails at once. Refuses (UsageError) an
// --out-dir of "-", and any overlap of the report's files (AddReportPaths) with each other or
// with what `reads` holds (RunPaths::Check): a failing run must not replace the baseline it
// failed against. Throws UsageError / Error.
struct Checks {
  std::vector<Gate> gates;
  BaselineRules baseline_rules;
  std::optional<nlohmann::json> baseline;
  // The baseline folder's scores.csv, for the significance of each change; none: why not.
  std::shared_ptr<const CompareRun> baseline_run;
  std::string baseline_run_missing;
  std::string baseline_skipped;       // why --baseline's checks were skipped ("" = they were not)
  std::optional<double> max_skipped;  // a fraction; none = no skipped-share checks
};
Checks PrepareChecks(const ReportOptions& opt, const std::vector<std::string>& score_names,
                     std::optional<double> max_skipped = std::nullopt, RunPaths reads = {});
// The scores the gates name, in gate order: the report's headline scores (gallery.h).
std::vector<std::string> GatedScores(const Checks& checks);

// Evaluates the checks, logs the report's warnings, stages report.json / report.md /
// report.html (and opt.junit, when it lies in the report folder) in `folder` and commits it,
// writes opt.junit when it lies elsewhere, prints the Markdown table to stdout and a one-line
// verdict to stderr. suite names the run in the JUnit file; seconds is its wall time.
// Returns kExitInput when a set skipped more than --max-skipped, else kExitGateFailed when a
// check failed, else kExitOk.
int FinishReport(Report* report, const ReportInput& input, const ReportOptions& opt,
                 const Checks& checks, const std::string& suite, double seconds,
                 ReportFolder* folder);

// The subcommands. Each Setup adds its subcommand to app and arranges for *exit_code to be
// set when it runs.
void SetupMetricsCommand(CLI::App* app, int* exit_code);
void SetupScoreCommand(CLI::App* app, int* exit_code);
void SetupEvalCommand(CLI::App* app, int* exit_code);
void SetupCalibrateCommand(CLI::App* app, int* exit_code);
void SetupFinetuneCommand(CLI::App* app, int* exit_code);
void SetupFitCommand(CLI::App* app, int* exit_code);
void SetupCompareCommand(CLI::App* app, int* exit_code);
// `oodscore help [COMMAND]`.
void SetupHelpCommand(CLI::App* app);
// The hidden `install-files DIR` the build runs: man pages and shell completion.
void SetupInstallFilesCommand(CLI::App* app, int* exit_code);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_CLI_H_
