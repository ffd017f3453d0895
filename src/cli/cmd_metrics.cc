// oodscore metrics: score files in, OOD report out. No model involved.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/suggest.h"
#include "cli/cli.h"
#include "cli/gallery_images.h"
#include "cli/score_stamp.h"
#include "cli/shards.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct MetricsCommand {
  std::vector<std::filesystem::path> files;
  std::string id;
  std::vector<std::string> ood;
  std::vector<std::string> id_files, ood_files;
  // --lower-is-id NAME / --higher-is-id NAME, in order; "" = the flag without a name (the
  // plain column of --id-file/--ood-file).
  std::vector<std::pair<std::string, Orientation>> orientations;
  ReportOptions report;
};

// Fills report.orientations from the named --lower-is-id/--higher-is-id flags and returns
// whether a bare --lower-is-id was given (which applies to plain files only).
bool TakeOrientations(MetricsCommand* cmd) {
  bool bare_lower = false;
  for (const auto& [column, o] : cmd->orientations) {
    if (column.empty()) {
      if (o == Orientation::kHigherIsId) {
        throw UsageError("--higher-is-id needs a column name: --higher-is-id NAME");
      }
      bare_lower = true;
      continue;
    }
    const auto [it, added] = cmd->report.orientations.emplace(column, o);
    if (!added && it->second != o) {
      throw UsageError("column '" + column + "' is given both --lower-is-id and --higher-is-id");
    }
  }
  return bare_lower;
}

// The column name of plain score files: "score" (higher = ID) or "score_lower" (lower = ID),
// a known score's own name (--score energy), whose orientation a bare --lower-is-id must match,
// or any other name with its orientation (--score my_energy --lower-is-id my_energy, or a bare
// --lower-is-id).
std::string PlainColumn(MetricsCommand* cmd, bool bare_lower) {
  const std::string asked = cmd->report.scores.empty() ? "" : cmd->report.scores.front();
  if (cmd->report.scores.size() > 1) {
    throw UsageError("plain score files hold one score; give at most one --score");
  }
  for (const auto& [column, o] : cmd->report.orientations) {
    if (column != asked) {
      throw UsageError(std::string(OrientationFlag(o)) + " " + column +
                       " would do nothing: plain score files hold one column, " +
                       (asked.empty() ? std::string("named 'score' unless --score NAME names it")
                                      : "--score " + asked));
    }
  }
  if (asked.empty() || asked == "score" || asked == "score_lower") {
    return bare_lower || asked == "score_lower" ? "score_lower" : "score";
  }
  ScoreInfo info;
  if (!LookupScore(CanonicalScoreName(asked), &info)) {
    if (bare_lower) cmd->report.orientations.emplace(asked, Orientation::kLowerIsId);
    return asked;  // its orientation is checked with the reported columns
  }
  const std::string name = CheckedScoreName(asked);
  if (bare_lower && info.orientation == Orientation::kHigherIsId) {
    throw UsageError("--lower-is-id contradicts --score " + name + ", which is higher = ID");
  }
  return name;
}

int RunMetrics(MetricsCommand& cmd) {
  const auto start = std::chrono::steady_clock::now();
  const bool bare_lower = TakeOrientations(&cmd);
  ScoreTable table;
  MergedScores merged;  // score files: with shard stamps, checked and in shard order
  std::string id_name;
  std::vector<std::string> ood_names;
  if (!cmd.id_files.empty() || !cmd.ood_files.empty()) {
    // Plain score columns: build a one-score table.
    if (!cmd.files.empty())
      throw UsageError("give score CSV files or --id-file/--ood-file, not both");
    if (cmd.id_files.size() != 1 || cmd.ood_files.empty()) {
      throw UsageError("--id-file needs exactly one file and --ood-file at least one");
    }
    if (cmd.report.gallery > 0) {
      throw UsageError(
          "--gallery shows samples by their paths, which plain score columns "
          "(--id-file/--ood-file) lack: give score CSV files");
    }
    const std::string column = PlainColumn(&cmd, bare_lower);
    table.columns = {column};
    table.KeepPaths(false);
    std::vector<std::string> names;
    for (const auto& f : cmd.id_files) names.push_back(SplitNamed(f).first);
    for (const auto& f : cmd.ood_files) names.push_back(SplitNamed(f).first);
    CheckSetNames(names, /*roles=*/true);
    auto add = [&](const std::string& arg) {
      auto [name, path] = SplitNamed(arg);
      for (double v : ReadScoreColumn(path)) table.AddRow(name, path, "", "", &v);
      return name;
    };
    id_name = add(cmd.id_files[0]);
    for (const auto& f : cmd.ood_files) ood_names.push_back(add(f));
    cmd.report.scores = {column};
  } else {
    if (cmd.files.empty()) {
      for (const auto& [column, o] : cmd.report.orientations) {
        if (std::filesystem::exists(column)) {
          throw UsageError(std::string(OrientationFlag(o)) + " took '" + column +
                           "' as a column name, so no score files are left; put the flag after "
                           "the files, or write it as --lower-is-id=NAME");
        }
      }
      throw UsageError("no score files given");
    }
    if (bare_lower) {
      throw UsageError(
          "--lower-is-id without a column name is for the plain column of --id-file/--ood-file; "
          "for score CSV files name the column: --lower-is-id NAME");
    }
    if (cmd.id.empty()) throw UsageError("--id NAME is required: which set is in-distribution");
    merged = ReadMergedScores(cmd.files, !cmd.report.baseline.empty() || cmd.report.gallery > 0);
    table = std::move(merged.table);
    const auto sets = table.SetNames();
    bool found = false;
    for (const auto& s : sets) found = found || s == cmd.id;
    if (!found) {
      throw UsageError("no rows with set '" + cmd.id + "' in the score files" +
                       DidYouMeanClause(cmd.id, sets) + " (sets: " + JoinNames(sets) + ")");
    }
    id_name = cmd.id;
    if (cmd.ood.empty()) {
      const std::vector<std::string>& csid = cmd.report.csid;
      for (const auto& s : sets) {
        if (s != cmd.id && std::find(csid.begin(), csid.end(), s) == csid.end()) {
          ood_names.push_back(s);
        }
      }
    }
    for (const auto& o : cmd.ood) {  // in the order the user gave
      if (std::find(sets.begin(), sets.end(), o) == sets.end()) {
        throw UsageError("no rows with set '" + o + "' in the score files" +
                         DidYouMeanClause(o, sets) + " (sets: " + JoinNames(sets) + ")");
      }
      if (o != cmd.id && std::find(ood_names.begin(), ood_names.end(), o) == ood_names.end()) {
        ood_names.push_back(o);
      }
    }
    if (ood_names.empty())
      throw UsageError("the score files hold no set other than '" + cmd.id + "'");
    std::vector<std::string> roles = {id_name};
    roles.insert(roles.end(), ood_names.begin(), ood_names.end());
    CheckSetNames(roles, /*roles=*/true);
  }
  spdlog::debug("{} rows, ID '{}', {} OOD set(s)", table.size(), id_name, ood_names.size());
  ReportInput input = InputFromTable(table, id_name, ood_names, cmd.report);
  std::vector<std::string> score_names;
  for (const auto& s : input.scores) score_names.push_back(s.name);
  RunPaths reads;
  for (const auto& f : merged.files) {  // a folder argument's files too
    reads.Read("a score file", f.string());
    reads.Read("a score file's stamp", StampPath(f.string()));
  }
  for (const auto& f : cmd.id_files) reads.Read("--id-file", SplitNamed(f).second);
  for (const auto& f : cmd.ood_files) reads.Read("--ood-file", SplitNamed(f).second);
  const Checks checks = PrepareChecks(cmd.report, score_names, std::nullopt, reads);
  const std::optional<double> accuracy = LabelAccuracy(table, {id_name});
  // What the report takes from the rows before they are freed: the csid sets' counts and
  // accuracy; the per-class tables, risk-coverage curves and failure gallery, at the ID
  // thresholds the report will hold.
  Report from_rows;
  from_rows.id_name = id_name;
  AddCsidResults(table, cmd.report, ood_names, &from_rows);
  from_rows.scores = input.scores;
  for (const auto& id : input.id.oriented) {
    from_rows.id_thresholds.push_back(ThresholdFromId(id, input.options.tpr));
  }
  AddClassesAndGallery(table, id_name, ood_names, {}, GatedScores(checks), cmd.report.gallery,
                       &from_rows);
  // The class count, as far as the file shows it: the largest class index seen, plus one.
  const long classes = ClassCount(table, id_name);
  // Plain columns have no sample paths, so no digest for a baseline to compare.
  std::map<std::string, std::string> digests;
  if (cmd.id_files.empty()) {
    for (const auto& set : table.SetNames()) digests[set] = table.SamplesDigest(set);
  }
  table = ScoreTable();  // the report needs only `input` now: free the rows before sorting
  Report report = BuildReport(input);
  if (merged.stamped) UseStampedCounts(merged, &report);
  for (auto& c : report.sets) c.samples_digest = digests[c.name];
  // A stopped run, stamps without a digest: in report.json too, not on stderr alone.
  report.warnings.insert(report.warnings.begin(), merged.warnings.begin(), merged.warnings.end());
  report.id_accuracy = accuracy;
  report.csid = from_rows.csid;
  report.fsood = from_rows.fsood;
  report.fsood_accuracy = from_rows.fsood_accuracy;
  report.per_class = std::move(from_rows.per_class);
  report.risk_coverage = std::move(from_rows.risk_coverage);
  report.gallery = std::move(from_rows.gallery);
  if (report.id_accuracy) {
    const std::string w = BelowChanceWarning(*report.id_accuracy, static_cast<int>(classes));
    if (!w.empty()) report.warnings.push_back(w);
  }
  std::vector<std::string> files;
  for (const auto& f : merged.files) files.push_back(f.string());
  report.run = {{"command", "metrics"},
                {"score_files", files},
                {"id_files", cmd.id_files},
                {"ood_files", cmd.ood_files}};
  if (merged.stamped) {
    report.run["shards"] = merged.files.size();
    report.run["score_stamp"] = merged.stamp.ToJson(/*run_only=*/true);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ReportFolder folder(cmd.report.out_dir);
  return FinishReport(&report, input, cmd.report, checks,
                      "oodscore metrics: " + id_name + " (ID) vs " + JoinNames(ood_names), seconds,
                      &folder);
}

}  // namespace

void SetupMetricsCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<MetricsCommand>();
  cmd->report.out_dir = ".";
  cmd->report.gallery = 0;  // paths cost memory in a large score file: only when asked
  CLI::App* sub = app->add_subcommand(
      "metrics", "OOD metrics from score files (the CSV that `score` writes, or plain columns)");
  sub->add_option("files", cmd->files, "score CSV files (shards are pooled)");
  sub->add_option("--id", cmd->id, "name of the in-distribution set (the 'set' column)");
  sub->add_option("--ood", cmd->ood,
                  "OOD set(s) to report (default: every other set but the --csid sets)");
  sub->add_option("--csid", cmd->report.csid,
                  "NAME of a covariate-shifted ID set (OpenOOD's csid): its accuracy reported, "
                  "and with --fsood counted as ID; repeatable");
  sub->add_option("--id-file", cmd->id_files, "[NAME=]FILE: a plain column of ID scores")
      ->expected(1);
  sub->add_option("--ood-file", cmd->ood_files, "[NAME=]FILE: a plain column of OOD scores");
  // Per occurrence: a bare --lower-is-id (plain files) and --lower-is-id NAME, repeatable.
  for (const Orientation o : {Orientation::kLowerIsId, Orientation::kHigherIsId}) {
    const bool lower = o == Orientation::kLowerIsId;
    sub->add_option_function<std::string>(
           lower ? "--lower-is-id" : "--higher-is-id",
           [cmd, o](const std::string& column) { cmd->orientations.emplace_back(column, o); },
           lower ? "NAME: a score column oodscore does not know is lower = ID (like energy); "
                   "repeatable. Without NAME, with --id-file: the plain column is lower = ID"
                 : "NAME: a score column oodscore does not know is higher = ID (like msp); "
                   "repeatable")
        ->expected(lower ? 0 : 1, 1)
        ->trigger_on_parse();
  }
  sub->add_option("--out-dir", cmd->report.out_dir, "where report.json/.md/.html go")
      ->capture_default_str();
  AddGalleryOption(sub, &cmd->report);
  AddReportOptions(sub, &cmd->report);
  sub->footer(HelpFooter(
      {"oodscore metrics scores.csv --id cifar10 --gate 'energy.auroc>=95%' --junit junit.xml",
       "oodscore metrics shard-*.csv --id cifar10 --out-dir report --fpr-convention openood",
       "oodscore metrics --id-file id.txt --ood-file ood.txt --lower-is-id --out-dir report",
       "oodscore metrics other_tool.csv --id cifar10 --score my_energy --lower-is-id my_energy"}));
  sub->callback([cmd, exit_code] { *exit_code = RunMetrics(*cmd); });
}

}  // namespace oodscore
