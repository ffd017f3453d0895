// oodscore compare: report folders in, compare.{json,md,html} out: every (run, score) column's
// metrics side by side, and for each pair of columns the AUROC difference with DeLong's test
// and bootstrap intervals of the FPR and AUPR differences; --max-auroc-drop/--significance make
// it a CI check (exit 1). No model involved.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/suggest.h"
#include "cli/cli.h"
#include "oodscore/compare_report.h"
#include "oodscore/error.h"

namespace oodscore {

namespace {

struct CompareCommand {
  std::vector<std::string> runs;  // [NAME=]DIR
  std::vector<std::string> scores;
  std::filesystem::path out_dir = "oodscore-compare";
  int bootstrap = 1000;
  std::uint64_t seed = 0;
  double max_auroc_drop = 0, significance = 0.05;
  bool gate = false;  // either of the two was given
};

// A report folder that an earlier command other than compare wrote: committing there would
// remove its files (report_folder.h), so it is refused.
void CheckOutDir(const std::filesystem::path& dir) {
  const std::filesystem::path manifest = dir / kManifestName;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(manifest, ec)) {
    // No manifest: the commit would still replace every report file there (report_folder.h),
    // e.g. a baseline's report.json copied in by hand.
    for (const char* name : {"report.json", "report.md", "report.html", "scores.csv"}) {
      if (std::filesystem::exists(dir / name, ec)) {
        throw UsageError("--out-dir '" + dir.string() + "' holds " + name +
                         " of another report, which compare would replace: give --out-dir a "
                         "folder of its own");
      }
    }
    return;
  }
  std::string command;
  try {
    const nlohmann::json j = ParseJsonText(ReadFile(manifest), manifest.string());
    command = j.at("run").value("command", "");
  } catch (const std::exception&) {
  }
  if (command != "compare") {
    throw UsageError("--out-dir '" + dir.string() + "' holds the report of another oodscore run (" +
                     manifest.string() +
                     "), which compare would replace: give --out-dir a folder of its own");
  }
}

int RunCompare(const CompareCommand& cmd) {
  if (cmd.runs.empty()) throw UsageError("no RUN given: compare needs report folders");
  if (cmd.out_dir.empty() || cmd.out_dir == "-") {
    throw UsageError(
        "--out-dir must be a folder (compare writes compare.json, compare.md and compare.html)");
  }
  std::vector<CompareRun> runs;
  std::vector<std::string> names;
  RunPaths paths;
  for (const auto& arg : cmd.runs) {
    const std::size_t eq = arg.find('=');
    std::string name = eq == std::string::npos ? "" : arg.substr(0, eq);
    const std::filesystem::path dir = eq == std::string::npos ? arg : arg.substr(eq + 1);
    if (name.empty()) name = std::filesystem::path(dir).lexically_normal().filename().string();
    if (name.empty() || name == ".") name = dir.string();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw UsageError("two RUNs are named '" + name + "': name them NAME=DIR");
    }
    names.push_back(name);
    paths.Read("RUN", (dir / "report.json").string());
    paths.Read("RUN", (dir / "scores.csv").string());
    runs.push_back(LoadCompareRun(name, dir));
  }
  paths.WriteReportFolder("--out-dir", cmd.out_dir);
  paths.Check();
  CheckOutDir(cmd.out_dir);

  CompareSpec spec;
  spec.scores = cmd.scores;
  spec.options.bootstrap = cmd.bootstrap;
  spec.options.seed = cmd.seed;
  spec.gate = cmd.gate;
  spec.max_auroc_drop = cmd.max_auroc_drop;
  spec.significance = cmd.significance;
  const CompareReport report = BuildCompare(std::move(runs), spec);
  for (const auto& n : report.notes) spdlog::warn("{}", n);

  const std::string md = CompareMarkdown(report);
  ReportFolder folder(cmd.out_dir);
  WriteFileAtomic(folder.Stage("compare.json"), DumpJson(CompareJson(report)) + "\n");
  WriteFileAtomic(folder.Stage("compare.md"), md);
  WriteFileAtomic(folder.Stage("compare.html"), CompareHtml(report));
  const bool passed = report.passed();
  folder.Commit({{"command", "compare"},
                 {"runs", names},
                 {"gated", report.gated()},
                 {"verdict", !spec.gate ? "OK"
                             : passed   ? "PASS"
                                        : "FAIL"}});
  std::cout << md << std::flush;
  for (const auto& s : report.sets) {
    for (const auto& p : s.pairs) {
      if (p.pass) continue;
      const auto& a = report.columns[p.a];
      const auto& b = report.columns[p.b];
      spdlog::error("gate failed on {}: {}.{} vs {}.{}: AUROC {:+.2f} pp, DeLong p = {:.3g}",
                    s.ood_set, report.runs[a.run].name, a.score.name, report.runs[b.run].name,
                    b.score.name, 100 * p.stats.auroc_diff, p.stats.delong.p);
    }
  }
  // The verdict is a result, not a log line: printed even with --quiet.
  std::fprintf(stderr, "oodscore: %s; comparison in '%s'\n", CompareVerdict(report).c_str(),
               cmd.out_dir.string().c_str());
  return passed ? kExitOk : kExitGateFailed;
}

}  // namespace

void SetupCompareCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<CompareCommand>();
  CLI::App* sub = app->add_subcommand(
      "compare",
      "compare report folders of eval (or one folder's scores): metrics side by side, AUROC "
      "differences with DeLong's test, bootstrap intervals of FPR differences; "
      "--max-auroc-drop/--significance make it a CI check (exit 1)");
  sub->add_option("runs", cmd->runs,
                  "[NAME=]DIR: report folders with report.json and scores.csv (from eval or eval "
                  "--from-scores); the first is the reference of the gate")
      ->required();
  sub->add_option("--scores", cmd->scores,
                  "NAME[,NAME...]: the scores to compare (default: one RUN, all of its scores; "
                  "several RUNs, the scores they all report)")
      ->delimiter(',');
  sub->add_option("--out-dir", cmd->out_dir, "where compare.json, compare.md and compare.html go")
      ->capture_default_str();
  sub->add_option("--bootstrap", cmd->bootstrap,
                  "resamples for the 95% intervals of the FPR and AUPR differences (0 = none)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  sub->add_option("--seed", cmd->seed, "bootstrap seed")
      ->check(WholeNumber())
      ->capture_default_str();
  CLI::Option* drop =
      sub->add_option(
             "--max-auroc-drop", cmd->max_auroc_drop,
             "D: the gate fails (exit 1) when a run's AUROC is below the first run's (same "
             "score and OOD set) by more than D (a fraction: 0.005 = 0.5 points) AND DeLong's "
             "p < --significance; with one RUN, the other scores against the first. "
             "Default 0 when only --significance is given")
          ->check(InRange({0, 1, false, false}));
  CLI::Option* alpha =
      sub->add_option(
             "--significance", cmd->significance,
             "ALPHA: a drop fails the gate only when DeLong's two-sided p < ALPHA (default "
             "0.05 when --max-auroc-drop is given)")
          ->check(InRange({0, 1, true, true}));
  sub->footer(HelpFooter(
      {"oodscore compare main=reports/main new=reports/new --scores energy",
       "oodscore compare reports/main reports/new --max-auroc-drop 0.005 --significance 0.05",
       "oodscore compare oodscore-report --scores energy,msp,knn --out-dir detectors"}));
  sub->callback([cmd, exit_code, drop, alpha] {
    cmd->gate = drop->count() > 0 || alpha->count() > 0;
    *exit_code = RunCompare(*cmd);
  });
}

}  // namespace oodscore
