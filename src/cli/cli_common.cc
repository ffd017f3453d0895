#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <optional>

#include "base/atomic_file.h"
#include "base/format.h"
#include "base/json_text.h"
#include "base/parallel.h"
#include "base/suggest.h"
#include "base/version.h"
#include "cli/cli.h"
#include "oodscore/error.h"
#include "oodscore/gate.h"
#include "oodscore/html_report.h"
#include "oodscore/junit.h"

namespace oodscore {

std::string ScoreConventions() {
  return ScoreHelpText() +
         "ID = in-distribution. Metrics orient every score so that higher = ID, with ID as the\n"
         "positive class (exact, hendrycks) or OOD as the positive class (openood, pytorch-ood).\n"
         "Exit codes: 0 ok, 1 gate or baseline check failed, 2 usage error, 3 input or model "
         "error.";
}

std::string HelpFooter(const std::vector<std::string>& examples) {
  std::string s = "Examples:\n";
  for (const auto& e : examples) s += "  " + e + "\n";
  return s + "\n" + ScoreConventions();
}

namespace {

class RequiredFirst : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    return make_description(app) + make_usage(app, name) + make_positionals(app) +
           Groups(app, mode) + make_subcommands(app, mode) + "\n" + make_footer(app);
  }

 private:
  // As CLI::Formatter::make_groups, with the required options taken out to a first group.
  std::string Groups(const CLI::App* app, CLI::AppFormatMode mode) const {
    const auto shown = [app, mode](const CLI::Option* opt) {
      return opt->nonpositional() && !opt->get_group().empty() &&
             (mode != CLI::AppFormatMode::Sub ||
              (app->get_help_ptr() != opt && app->get_help_all_ptr() != opt));
    };
    std::string out;
    const std::vector<const CLI::Option*> required =
        app->get_options([&](const CLI::Option* opt) { return shown(opt) && opt->get_required(); });
    if (!required.empty()) out += make_group("Required", false, required);
    for (const std::string& group : app->get_groups()) {
      const std::vector<const CLI::Option*> opts = app->get_options([&](const CLI::Option* opt) {
        return shown(opt) && !opt->get_required() && opt->get_group() == group;
      });
      if (!opts.empty()) out += make_group(group, false, opts);
    }
    return out;
  }
};

}  // namespace

std::shared_ptr<CLI::Formatter> RequiredFirstFormatter() {
  return std::make_shared<RequiredFirst>();
}

CLI::Validator InRange(const NumberRange& range) {
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        const std::optional<double> v = ParseDouble(text);
        if (!v) return "must be " + range.Text() + ", got '" + text + "'";
        return range.Problem(*v);
      },
      range.Text());
}

CLI::Validator ShareFlag() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::optional<double> plain = ParseDouble(text);
        if (plain && !std::isfinite(*plain)) return kShare.Problem(*plain);  // "got nan"
        double v = 0;
        try {
          v = ParseMetricValue(text, "tpr_achieved", "'" + text + "'");
        } catch (const UsageError& e) {  // "... did you mean 0.95 or 95%?"
          std::string why = e.what();
          const std::size_t at = why.find("tpr_achieved is");
          return at == std::string::npos ? why : why.replace(at, 15, "a TPR is");
        }
        const std::string problem = kShare.Problem(v);
        if (!problem.empty()) return problem;
        text = FormatDouble(v);  // "95%" as 0.95
        return "";
      },
      "a share in (0, 1]: 0.95 or 95%");
}

CLI::Validator WholeNumber() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits =
            !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        // 20 digits may exceed 2^64 - 1: compare as text of equal length.
        // Leading zeros go: CLI11 would read "010" as octal 8.
        if (digits) text.erase(0, std::min(text.find_first_not_of('0'), text.size() - 1));
        if (digits && (text.size() < 20 || (text.size() == 20 && text <= "18446744073709551615"))) {
          return "";
        }
        return "must be a whole number from 0 to 18446744073709551615, got '" + text + "'";
      },
      "a whole number >= 0");
}

void AddGalleryOption(CLI::App* cmd, ReportOptions* opt) {
  cmd->add_option("--gallery", opt->gallery,
                  "K: the failure gallery's images per list (the K most OOD-looking ID images, "
                  "and per OOD set the K most ID-looking, by the gated scores, else energy), as "
                  "thumbnails in report.html and paths in report.json/.md; 0 = none")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
}

void AddReportOptions(CLI::App* cmd, ReportOptions* opt) {
  cmd->add_option("--tpr", opt->tpr, "TPR level of the FPR metric (ID recall): 0.95 or 95%")
      ->transform(ShareFlag())
      ->capture_default_str();
  cmd->add_option("--fpr-convention", opt->convention,
                  "exact (the paper's definition: threshold = ceil(tpr*n_id)-th best ID score), "
                  "hendrycks (energy_ood reference code), openood (OOD positive, scikit-learn "
                  "vertex dropping), pytorch-ood (OOD positive, full ROC)")
      ->check(CLI::IsMember({"exact", "hendrycks", "openood", "pytorch-ood"}))
      ->capture_default_str();
  cmd->add_option("--bootstrap", opt->bootstrap,
                  "resamples for percentile 95% intervals of auroc and fpr_at_tpr (0 = none)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed,
                  "seed of --bootstrap's resamples and --ood-subsample's draws")
      ->check(WholeNumber())
      ->capture_default_str();
  cmd->add_option("--ood-subsample", opt->ood_subsample,
                  "F: the energy paper's protocol: report each OOD set's metrics as mean ± std "
                  "over --repeats draws of floor(F * n_id) of its samples (the paper's code: "
                  "0.2); the ID set is used whole")
      ->check(InRange({0, std::numeric_limits<double>::infinity(), true, false}));
  cmd->add_option("--repeats", opt->repeats, "draws of --ood-subsample (default 10)")
      ->check(CLI::Range(1, 10000));
  cmd->add_flag("--fsood", opt->fsood,
                "count the --csid sets as ID in every metric, threshold and card (OpenOOD's "
                "full-spectrum OOD, eval_ood(fsood=True))");
  cmd->add_option("--group", opt->groups,
                  "NAME=SET[,SET...]: a mean row over these OOD sets (OpenOOD's near and far: "
                  "--group near=ssb,ninco --group far=textures,inat); gates read it as "
                  "NAME.SCORE.METRIC; repeatable");
  cmd->add_option("--score", opt->scores,
                  "NAME[,NAME...]: score column(s) to report (default: every known score "
                  "column); repeatable; metrics takes any column of another tool's CSV given "
                  "--lower-is-id/--higher-is-id NAME")
      ->delimiter(',');
  cmd->add_option("--gate", opt->gates,
                  "[SET.]SCORE.METRIC OP VALUE, e.g. 'energy.auroc>=0.95' or 'energy.auroc>=95%', "
                  "'mean.energy.fpr_at_tpr<=30%', 'id.accuracy>=0.9', 'noise.skipped<=0', "
                  "'id.n>=5000'; shares are a fraction in [0, 1] or a percentage; a failing gate "
                  "exits 1");
  cmd->add_option("--baseline", opt->baseline, "an earlier report.json to compare with");
  cmd->add_option("--max-drop", opt->max_drop,
                  "METRIC=DELTA: largest allowed decrease vs --baseline, e.g. auroc=0.005 or "
                  "auroc=0.5%");
  cmd->add_option("--max-rise", opt->max_rise,
                  "METRIC=DELTA: largest allowed increase vs --baseline, e.g. fpr_at_tpr=0.01 or "
                  "fpr_at_tpr=1%");
  cmd->add_option("--baseline-scores", opt->baseline_scores,
                  "NAME[,NAME] or all: the scores --baseline checks (default: those named by "
                  "--score or a gate, so that a score you do not deploy cannot fail the build; "
                  "every score when none is)")
      ->delimiter(',');
  cmd->add_option("--baseline-missing", opt->baseline_missing,
                  "fail (exit 3) or skip (run without the baseline checks, said in the verdict "
                  "and the report): what a --baseline that does not exist yet does")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->default_str("fail");
  cmd->add_flag("--baseline-allow-resample", opt->baseline_allow_resample,
                "compare with a baseline scored on other samples (another count or sample list "
                "in a set) instead of failing that set's samples check");
  cmd->add_option("--significance", opt->significance,
                  "ALPHA: a --max-drop/--max-rise check of auroc fails only when the change is "
                  "beyond the tolerance and DeLong's p < ALPHA (paired by (set, path) with the "
                  "baseline folder's scores.csv); without it a significant drop within the "
                  "tolerance only warns")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--junit", opt->junit,
                  "write a JUnit XML test report (one testcase per check) for CI");
}

std::string UnknownOptionText(const CLI::App* cmd, const std::vector<std::string>& args) {
  const std::string where = "oodscore " + cmd->get_name();
  const std::string help = " (" + where + " --help lists its options)";
  std::vector<std::string> names;  // the command's options and the tool's own (-q, -v)
  std::string shorts;
  for (const CLI::App* a = cmd; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
      for (const std::string& n : o->get_snames()) {
        names.push_back("-" + n);
        shorts += n;
      }
    }
  }
  auto is_number = [](const std::string& w) {
    char* end = nullptr;
    std::strtod(w.c_str(), &end);
    return end != w.c_str() && *end == '\0';
  };
  for (const std::string& word : args) {
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-' || is_number(word)) continue;
    const std::string flag = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), flag) != names.end()) continue;
    if (flag[1] != '-' && flag.find_first_not_of(shorts, 1) == std::string::npos) continue;  // -qv
    if (cmd->get_name() == "eval" && (flag == "-i" || flag == "--input")) {
      return where + ": unknown option '" + flag +
             "': eval takes its sets as --id [NAME=]PATH and --ood [NAME=]PATH (repeatable); "
             "-i/--input is score's" +
             help;
    }
    std::string guess;
    std::vector<std::string> longer;  // --out for --out-dir: the one option it begins
    for (const std::string& n : names) {
      if (n.size() > flag.size() && n.compare(0, flag.size(), flag) == 0) longer.push_back(n);
    }
    if (longer.size() == 1) guess = longer[0];
    if (guess.empty() && flag[1] != '-' &&
        std::find(names.begin(), names.end(), "-" + flag) != names.end()) {
      guess = "-" + flag;  // -model for --model
    }
    if (guess.empty()) guess = DidYouMean(flag, names);
    return where + ": unknown option '" + flag + "'" +
           (guess.empty() ? "" : ", did you mean '" + guess + "'?") + help;
  }
  return "";
}

MetricOptions ToMetricOptions(const ReportOptions& opt) {
  MetricOptions m;
  m.tpr = opt.tpr;
  if (!ParseConvention(opt.convention, &m.convention)) {
    throw UsageError("unknown fpr convention '" + opt.convention + "'");
  }
  m.bootstrap = opt.bootstrap;
  m.seed = opt.seed;
  return m;
}

std::pair<std::string, std::string> SplitNamed(const std::string& arg) {
  if (arg == "-") return {"stdin", arg};
  const std::size_t eq = arg.find('=');
  if (eq != std::string::npos && eq > 0 && arg.find('/') > eq) {
    return {arg.substr(0, eq), arg.substr(eq + 1)};
  }
  std::filesystem::path p(arg);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  std::string name = p.filename().string();
  for (const char* ext : {".csv", ".txt", ".npy"}) {
    const std::string e(ext);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      name.resize(name.size() - e.size());
    }
  }
  return {name.empty() ? arg : name, arg};
}

void CheckSetNames(const std::vector<std::string>& names, bool roles) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "mean") {
      throw UsageError(
          "a set may not be called 'mean': gates use it for the mean row over OOD "
          "sets; name it with NAME=PATH");
    }
    if (roles && names[i] == "id" && i > 0) {
      throw UsageError(
          "only the ID set may be called 'id': gates use it for the ID set; name "
          "it with NAME=PATH");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) {
        throw UsageError("two inputs are named '" + names[i] + "'; name them with NAME=PATH");
      }
    }
  }
}

namespace {

// True when `a` and `b` are the same file, or would be once written (links resolved).
bool SameFile(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  if (std::filesystem::equivalent(a, b, ec) && !ec) return true;
  const auto ca = std::filesystem::weakly_canonical(std::filesystem::absolute(a), ec);
  if (ec) return false;
  const auto cb = std::filesystem::weakly_canonical(std::filesystem::absolute(b), ec);
  return !ec && ca == cb;
}

}  // namespace

void AddReportPaths(const ReportOptions& opt, RunPaths* paths) {
  paths->Read("--baseline", opt.baseline);
  paths->WriteReportFolder("--out-dir", opt.out_dir);
  paths->Write("--junit", opt.junit);
}

const char* OrientationFlag(Orientation o) {
  return o == Orientation::kLowerIsId ? "--lower-is-id" : "--higher-is-id";
}

namespace {

// A reported column's orientation: the catalogue's, or the user's for a column it does not
// know. Giving one for a known score would do nothing (or contradict it), so it is refused.
ScoreInfo ColumnInfo(const std::string& name, const ReportOptions& opt) {
  ScoreInfo info;
  const auto given = opt.orientations.find(name);
  if (LookupScore(name, &info)) {
    if (given != opt.orientations.end()) {
      throw UsageError(std::string(OrientationFlag(given->second)) + " " + name + ": " + name +
                       " is a score oodscore knows (" + OrientationText(info.orientation) +
                       "), so the flag would do nothing; it is for columns oodscore does not know");
    }
    return info;
  }
  if (given == opt.orientations.end()) {
    throw UsageError("column '" + name +
                     "' is not a score oodscore knows, so which way it points is unknown: add "
                     "--lower-is-id " +
                     name + " (lower = ID, like energy) or --higher-is-id " + name +
                     " (higher = ID, like msp)");
  }
  info.name = info.rank_column = name;
  info.orientation = given->second;
  return info;
}

// The columns to report: --score's, else every known score and every column given an
// orientation, in file order.
std::vector<std::string> ReportedColumns(const ScoreTable& table, const ReportOptions& opt) {
  for (const auto& [column, o] : opt.orientations) {
    if (table.ColumnIndex(column) < 0) {
      throw UsageError(std::string(OrientationFlag(o)) + " " + column +
                       ": the score files have no column '" + column + "'" +
                       DidYouMeanClause(column, table.columns) +
                       " (columns: " + JoinNames(table.columns) + ")");
    }
  }
  std::vector<std::string> names;
  for (const auto& s : opt.scores) names.push_back(CheckedScoreName(s, table.columns));
  if (!names.empty()) {
    for (const auto& [column, o] : opt.orientations) {
      if (std::find(names.begin(), names.end(), column) == names.end()) {
        throw UsageError(std::string(OrientationFlag(o)) + " " + column +
                         " would do nothing: the report's scores (--score) are " +
                         JoinNames(names));
      }
    }
    return names;
  }
  for (const auto& c : table.columns) {
    ScoreInfo info;
    if (LookupScore(c, &info) || opt.orientations.count(c)) names.push_back(c);
  }
  if (names.empty()) {
    throw Error("no known score column in the score file (columns: " + JoinNames(table.columns) +
                "; known scores: " + KnownScoresText() +
                "); name another column with --score NAME and --lower-is-id NAME or "
                "--higher-is-id NAME");
  }
  return names;
}

}  // namespace

namespace {

std::optional<SubsampleProtocol> SubsampleOf(const ReportOptions& opt) {
  if (opt.ood_subsample <= 0) {
    if (opt.repeats > 0) throw UsageError("--repeats needs --ood-subsample F (the draws' size)");
    return std::nullopt;
  }
  if (opt.bootstrap > 0) {
    throw UsageError(
        "--ood-subsample reports each metric's spread over its draws; --bootstrap's intervals "
        "are for whole sets: give one of them");
  }
  return SubsampleProtocol{opt.ood_subsample, opt.repeats > 0 ? opt.repeats : 10, opt.seed};
}

// --group NAME=SET,SET: each name new (not a set, "id" or "mean"), each set an OOD set of
// this report, once.
std::vector<SetGroup> ParseGroups(const std::vector<std::string>& args, const std::string& id_set,
                                  const std::vector<std::string>& ood_sets) {
  std::vector<SetGroup> groups;
  for (const std::string& arg : args) {
    const std::size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
      throw UsageError("--group '" + arg + "': expected NAME=SET[,SET...], e.g. near=ssb,ninco");
    }
    SetGroup g;
    g.name = arg.substr(0, eq);
    const bool taken = g.name == "mean" || g.name == "id" || g.name == id_set ||
                       std::find(ood_sets.begin(), ood_sets.end(), g.name) != ood_sets.end() ||
                       std::any_of(groups.begin(), groups.end(),
                                   [&](const SetGroup& x) { return x.name == g.name; });
    if (taken) {
      throw UsageError("--group '" + arg + "': the name '" + g.name +
                       "' is taken (by a set, another group, 'id' or 'mean'): gates could not "
                       "tell them apart");
    }
    std::string rest = arg.substr(eq + 1);
    for (std::size_t at = 0; at <= rest.size();) {
      const std::size_t comma = std::min(rest.find(',', at), rest.size());
      const std::string name = rest.substr(at, comma - at);
      if (std::find(ood_sets.begin(), ood_sets.end(), name) == ood_sets.end()) {
        throw UsageError("--group '" + arg + "': no OOD set named '" + name + "'" +
                         DidYouMeanClause(name, ood_sets) + " (OOD sets: " + JoinNames(ood_sets) +
                         ")");
      }
      if (std::find(g.sets.begin(), g.sets.end(), name) != g.sets.end()) {
        throw UsageError("--group '" + arg + "': names OOD set '" + name + "' twice");
      }
      g.sets.push_back(name);
      at = comma + 1;
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

}  // namespace

void AddCsidResults(const ScoreTable& table, const ReportOptions& opt,
                    const std::vector<std::string>& ood_names, Report* report) {
  if (opt.fsood && opt.csid.empty()) throw UsageError("--fsood needs --csid sets to count as ID");
  const std::vector<std::string>& sets = table.SetNames();
  for (const std::string& name : opt.csid) {
    if (name == report->id_name ||
        std::find(ood_names.begin(), ood_names.end(), name) != ood_names.end()) {
      throw UsageError("--csid '" + name +
                       "' is also the ID set or an OOD set: give each set one "
                       "role");
    }
    if (std::find(sets.begin(), sets.end(), name) == sets.end()) {
      throw UsageError("--csid: no set '" + name + "' in the scores" +
                       DidYouMeanClause(name, sets) + " (sets: " + JoinNames(sets) + ")");
    }
    Report::CsidResult c;
    c.name = name;
    c.n = table.Column(name, 0).size();
    c.accuracy = LabelAccuracy(table, {name});
    report->csid.push_back(c);
  }
  report->fsood = opt.fsood;
  if (opt.fsood) {
    std::vector<std::string> id_sets = {report->id_name};
    id_sets.insert(id_sets.end(), opt.csid.begin(), opt.csid.end());
    report->fsood_accuracy = LabelAccuracy(table, id_sets);
  }
}

ReportInput InputFromTable(const ScoreTable& table, const std::string& id_set,
                           const std::vector<std::string>& ood_sets, const ReportOptions& opt) {
  ReportInput in;
  in.options = ToMetricOptions(opt);
  const std::vector<std::string> names = ReportedColumns(table, opt);
  std::vector<int> rank_columns;
  for (const auto& name : names) {
    ScoreInfo info = ColumnInfo(name, opt);
    int col = table.ColumnIndex(info.rank_column);
    if (col < 0) {
      if (info.rank_column != info.name) {
        spdlog::warn("no '{}' column: ranking {} by its rounded value, which can tie at 1.0",
                     info.rank_column, info.name);
      }
      col = table.ColumnIndex(info.name);
      if (col < 0) throw Error("the score file has no '" + name + "' column");
      info.rank_column = info.name;
    }
    in.scores.push_back(info);
    rank_columns.push_back(col);
  }
  auto set_scores = [&](const std::string& set) {
    SetScores s;
    s.name = set;
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::vector<double> v = table.Column(set, rank_columns[i]);
      for (double& x : v) x = Orient(x, in.scores[i].orientation);
      s.oriented.push_back(std::move(v));
    }
    if (table.keeps_paths() && !opt.baseline.empty()) {  // pairs with the baseline's samples
      for (std::size_t r = 0; r < table.size(); ++r) {
        if (table.set(r) == set) s.paths.emplace_back(table.path(r));
      }
      s.row_order = s.oriented;  // before the sort below
    } else if (opt.ood_subsample > 0) {
      s.row_order = s.oriented;
    }
    return s;
  };
  in.id = set_scores(id_set);
  if (opt.fsood) {  // the csid sets join the ID set, as OpenOOD's fsood concatenates them
    if (opt.csid.empty()) throw UsageError("--fsood needs --csid sets to count as ID");
    for (const std::string& name : opt.csid) {
      const SetScores c = set_scores(name);
      for (std::size_t i = 0; i < c.oriented.size(); ++i) {
        in.id.oriented[i].insert(in.id.oriented[i].end(), c.oriented[i].begin(),
                                 c.oriented[i].end());
        if (!c.row_order.empty()) {
          in.id.row_order[i].insert(in.id.row_order[i].end(), c.row_order[i].begin(),
                                    c.row_order[i].end());
        }
      }
      in.id.paths.insert(in.id.paths.end(), c.paths.begin(), c.paths.end());
    }
  }
  in.subsample = SubsampleOf(opt);
  in.groups = ParseGroups(opt.groups, id_set, ood_sets);
  for (const auto& o : ood_sets) in.ood.push_back(set_scores(o));
  // Sorted once here, on every core, instead of in each metric call.
  std::vector<std::vector<double>*> columns;
  for (auto& v : in.id.oriented) columns.push_back(&v);
  for (auto& set : in.ood) {
    for (auto& v : set.oriented) columns.push_back(&v);
  }
  ParallelFor(columns.size(), [&](std::size_t i) { SortDescending(columns[i]); });
  return in;
}

namespace {

// The scores --baseline compares: --baseline-scores' (all = every score), else the scores the
// run names with --score or gates, else every score (an empty list).
std::vector<std::string> BaselineScope(const ReportOptions& opt, const std::vector<Gate>& gates,
                                       const std::vector<std::string>& score_names) {
  std::vector<std::string> scope;
  auto add = [&](const std::string& name) {
    if (std::find(scope.begin(), scope.end(), name) == scope.end()) scope.push_back(name);
  };
  for (const auto& s : opt.baseline_scores) {
    if (s == "all") {
      if (opt.baseline_scores.size() > 1) {
        throw UsageError("--baseline-scores all covers every score: give it alone");
      }
      return {};
    }
    const std::string name = CanonicalScoreName(s);
    if (std::find(score_names.begin(), score_names.end(), name) == score_names.end()) {
      throw UsageError("--baseline-scores " + s + ": the report has no score '" + s + "'" +
                       DidYouMeanClause(s, score_names) + " (scores: " + JoinNames(score_names) +
                       ", or all)");
    }
    add(name);
  }
  if (!scope.empty()) return scope;
  if (!opt.scores_by_default) {
    for (const auto& s : opt.scores) add(CanonicalScoreName(s));
  }
  for (const auto& g : gates) {
    if (!g.score.empty()) add(g.score);
  }
  return scope;
}

}  // namespace

Checks PrepareChecks(const ReportOptions& opt, const std::vector<std::string>& score_names,
                     std::optional<double> max_skipped, RunPaths paths) {
  Checks checks;
  if (opt.out_dir == "-") {
    throw UsageError(
        "--out-dir -: reports are several files, so they need a folder (report.md "
        "is printed to stdout anyway)");
  }
  if (max_skipped && *max_skipped < 1) checks.max_skipped = max_skipped;
  AddReportPaths(opt, &paths);
  paths.Check();
  for (const auto& g : opt.gates) checks.gates.push_back(ParseGate(g, score_names));
  BaselineRules& rules = checks.baseline_rules;
  for (const auto& t : opt.max_drop) rules.max_drop.insert(ParseTolerance(t));
  for (const auto& t : opt.max_rise) rules.max_rise.insert(ParseTolerance(t));
  if (opt.baseline.empty()) {
    if (!opt.max_drop.empty() || !opt.max_rise.empty()) {
      throw UsageError("--max-drop and --max-rise need --baseline");
    }
    for (const auto& [flag, given] :
         {std::pair<const char*, bool>{"--baseline-scores", !opt.baseline_scores.empty()},
          {"--baseline-missing", !opt.baseline_missing.empty()},
          {"--baseline-allow-resample", opt.baseline_allow_resample},
          {"--significance", opt.significance != 0}}) {
      if (given) throw UsageError(std::string(flag) + " needs --baseline");
    }
    return checks;
  }
  if (rules.max_drop.empty() && rules.max_rise.empty()) {
    throw UsageError("--baseline needs at least one --max-drop or --max-rise");
  }
  rules.scores = BaselineScope(opt, checks.gates, score_names);
  rules.allow_resample = opt.baseline_allow_resample;
  if (opt.significance != 0) {
    if (!(opt.significance > 0 && opt.significance < 1)) {
      throw UsageError("--significance " + FormatDouble(opt.significance) +
                       ": ALPHA is a level strictly between 0 and 1, e.g. 0.05");
    }
    rules.significance = opt.significance;
  }
  spdlog::info("baseline checks cover {}", rules.scores.empty()
                                               ? "every score (none is gated or named with --score)"
                                               : JoinNames(rules.scores));
  std::error_code ec;
  if (!std::filesystem::exists(opt.baseline, ec)) {
    if (opt.baseline_missing == "skip") {
      checks.baseline_skipped = "--baseline '" + opt.baseline +
                                "' does not exist, so its checks were skipped "
                                "(--baseline-missing skip)";
      return checks;
    }
    throw Error("--baseline '" + opt.baseline +
                "' does not exist; a first run has none: make it from the main branch (README, "
                "'CI'), or pass --baseline-missing skip to run without its checks");
  }
  checks.baseline = ParseJsonText(ReadFile(opt.baseline), opt.baseline);
  // The baseline's samples, for the significance of each change: its folder's scores.csv.
  std::filesystem::path dir = std::filesystem::path(opt.baseline).parent_path();
  if (dir.empty()) dir = ".";
  if (!std::filesystem::is_regular_file(dir / "scores.csv", ec)) {
    checks.baseline_run_missing = "the baseline folder '" + dir.string() +
                                  "' has no scores.csv, so the changes could not be tested "
                                  "for significance";
  } else {
    try {
      checks.baseline_run = std::make_shared<const CompareRun>(LoadCompareRun("baseline", dir));
    } catch (const Error& e) {
      checks.baseline_run_missing =
          std::string("the baseline's scores.csv could not be used: ") + e.what();
    }
  }
  if (!checks.baseline_run_missing.empty()) spdlog::warn("{}", checks.baseline_run_missing);
  return checks;
}

std::vector<std::string> GatedScores(const Checks& checks) {
  std::vector<std::string> out;
  for (const Gate& g : checks.gates) {
    if (!g.score.empty()) out.push_back(g.score);
  }
  return out;
}

int FinishReport(Report* report, const ReportInput& input, const ReportOptions& opt,
                 const Checks& checks, const std::string& suite, double seconds,
                 ReportFolder* folder) {
  // How the report was made, to make it again (the run stamp; a merge's equals no shard's).
  if (report->run.is_object() || report->run.is_null()) report->run["argv"] = CommandLine();
  report->checks = EvaluateGates(checks.gates, *report);
  if (checks.baseline) {
    try {
      BaselineSamples samples;
      samples.baseline = checks.baseline_run.get();
      samples.none_reason = checks.baseline_run_missing;
      samples.current = &input;
      for (auto& c :
           CompareWithBaseline(*checks.baseline, *report, checks.baseline_rules, samples)) {
        if (c.significance && !c.significance->warning.empty()) {
          report->warnings.push_back(c.significance->warning);
        }
        report->checks.push_back(c);
      }
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      throw Error("baseline '" + opt.baseline + "': " + e.what());
    } catch (const nlohmann::json::exception& e) {
      throw Error("baseline '" + opt.baseline + "': not an oodscore report: " + JsonErrorText(e));
    }
  }
  bool too_many_skipped = false;
  if (checks.max_skipped) {
    for (auto& c : SkippedChecks(report->sets, *checks.max_skipped)) {
      too_many_skipped = too_many_skipped || !c.pass;
      report->checks.push_back(c);
    }
  }
  if (!checks.baseline_skipped.empty()) report->warnings.push_back(checks.baseline_skipped);
  for (const auto& w : report->warnings) spdlog::warn("{}", w);

  int failed = 0;
  for (const auto& c : report->checks) failed += !c.pass;
  const std::string md = ReportMarkdown(*report);
  WriteFileAtomic(folder->Stage("report.json"), DumpJson(ReportJson(*report)) + "\n");
  WriteFileAtomic(folder->Stage("report.md"), md);
  WriteFileAtomic(folder->Stage("report.html"), ReportHtml(*report, input));
  // A JUnit file inside the report folder belongs to the run's set of files.
  std::string junit = opt.junit;
  if (!junit.empty() && SameFile(std::filesystem::path(junit).parent_path().empty()
                                     ? std::filesystem::path(".")
                                     : std::filesystem::path(junit).parent_path(),
                                 opt.out_dir)) {
    WriteFileAtomic(folder->Stage(std::filesystem::path(junit).filename().string()),
                    JunitXml(*report, suite, seconds));
    junit.clear();
  }
  folder->Commit({{"suite", suite},
                  {"checks", report->checks.size()},
                  {"failed", failed},
                  {"verdict", failed                   ? "FAIL"
                              : report->checks.empty() ? "OK"
                                                       : "PASS"}});
  if (!junit.empty()) WriteFileAtomic(junit, JunitXml(*report, suite, seconds));
  std::cout << md << std::flush;

  for (const auto& c : report->checks) {
    if (!c.pass) spdlog::error("check failed: {}", c.message);
  }
  // The verdict is a result, not a log line: printed even with --quiet.
  std::string verdict = VerdictText(report->checks);
  if (!checks.baseline_skipped.empty()) verdict += " (baseline missing: its checks skipped)";
  verdict += "; sets (scored/found): " + SetsSummary(report->sets);
  char buf[200];
  std::snprintf(buf, sizeof(buf), "; mean %s fpr@%g%% = %.2f%%, auroc = %.2f%%; report in '",
                report->scores[0].name.c_str(), 100 * report->options.tpr,
                100 * report->mean[0].fpr_at_tpr, 100 * report->mean[0].auroc);
  verdict += buf + opt.out_dir.string() + "'";
  std::fprintf(stderr, "oodscore: %s\n", verdict.c_str());
  if (too_many_skipped) return kExitInput;
  return failed ? kExitGateFailed : kExitOk;
}

}  // namespace oodscore
