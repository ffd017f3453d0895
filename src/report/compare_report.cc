#include "oodscore/compare_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/parallel.h"
#include "base/suggest.h"
#include "base/version.h"
#include "oodscore/error.h"

namespace fs = std::filesystem;

namespace oodscore {
namespace {

std::string Quoted(const fs::path& p) { return "'" + p.string() + "'"; }

nlohmann::json Num(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

bool HasSet(const CompareRun& run, const std::string& set) {
  return std::find(run.ood_sets.begin(), run.ood_sets.end(), set) != run.ood_sets.end();
}

// "93.12%", a share in percent to 2 decimals.
std::string Percent(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100 * v);
  return buf;
}

// "+0.41 pp", a difference of shares in percentage points, signed.
std::string Points(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%+.2f pp", 100 * v);
  return buf;
}

std::string CiText(const Interval& ci) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "[%+.2f, %+.2f]", 100 * ci.lo, 100 * ci.hi);
  return buf;
}

std::string General(double v, const char* format = "%.3g") {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

nlohmann::json SideJson(const CompareReport& r, std::size_t column, const Metrics& m) {
  const CompareColumn& c = r.columns[column];
  nlohmann::json j;
  AddNameField(&j, "run", r.runs[c.run].name);
  j["score"] = c.score.name;
  j["auroc"] = Num(m.auroc);
  j["fpr_at_tpr"] = Num(m.fpr_at_tpr);
  j["aupr_in"] = Num(m.aupr_in);
  j["n_id"] = m.n_id;
  j["n_ood"] = m.n_ood;
  return j;
}

}  // namespace

std::string CompareColumnName(const CompareReport& r, std::size_t c) {
  return r.runs[r.columns[c].run].name + "." + r.columns[c].score.name;
}

std::string CompareTestName(const PairComparison& c) {
  if (c.paired) return "paired DeLong (normal)";
  return "unpaired DeLong (Student t, " + General(c.delong.df, "%.1f") + " df)";
}

KeyedScores RunSetScores(const CompareRun& run, const std::string& set, const ScoreInfo& score) {
  const int col = run.table.ColumnIndex(score.rank_column);
  KeyedScores k;
  for (std::size_t r = 0; r < run.table.size(); ++r) {
    if (run.table.set(r) != set) continue;
    k.keys.emplace_back(run.table.path(r));
    k.values.push_back(Orient(run.table.values(col)[r], score.orientation));
  }
  return k;
}

CompareRun LoadCompareRun(const std::string& name, const fs::path& dir) {
  const std::string what = "RUN " + Quoted(dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError(what +
                     " is not a folder: a RUN is a report folder that `oodscore eval` wrote "
                     "(report.json and scores.csv)");
  }
  const fs::path json_path = dir / "report.json", csv_path = dir / "scores.csv";
  for (const fs::path& p : {json_path, csv_path}) {
    if (!fs::is_regular_file(p, ec)) {
      throw UsageError(what + " has no " + p.filename().string() + " (" + Quoted(p) +
                       "): a RUN is a report folder that `oodscore eval` or `eval --from-scores` "
                       "wrote, with report.json and scores.csv");
    }
  }
  CompareRun run;
  run.name = name;
  run.dir = dir;
  const std::string where = Quoted(json_path);
  const nlohmann::json j = ParseJsonText(ReadFile(json_path), json_path.string());
  if (!j.is_object() || !j.contains("id") || !j["id"].is_object() || !j.contains("ood") ||
      !j["ood"].is_array() || !j.contains("scores") || !j["scores"].is_object()) {
    throw Error(where + ": not a report.json of oodscore (expected the fields id, ood and scores)");
  }
  run.id_set = ReadNameField(j["id"], "name");
  for (const auto& o : j["ood"]) {
    if (!o.is_object()) throw Error(where + ": /ood must hold objects with a name");
    run.ood_sets.push_back(ReadNameField(o, "name"));
  }
  run.tpr = JsonNumber(j, "/tpr_level", where, kShare);
  const std::string convention =
      JsonField<std::string>(j, "/fpr_convention", where, "an FPR convention name");
  if (!ParseConvention(convention, &run.convention)) {
    throw Error(where +
                ": /fpr_convention must be exact, hendrycks, openood or pytorch-ood, got '" +
                convention + "'");
  }
  ScoreReadOptions read;
  read.keep_paths = true;
  run.table = ReadScoreFiles({csv_path}, read);
  for (const auto& [score, info] : j["scores"].items()) {
    const std::string at = "/scores/" + score;
    const std::string key =
        JsonField<std::string>(j, at + "/orientation", where, "higher_is_id or lower_is_id");
    const auto orientation = ParseOrientationKey(key);
    if (!orientation) {
      throw Error(where + ": " + at + "/orientation must be higher_is_id or lower_is_id, got '" +
                  key + "'");
    }
    const std::string ranked_by =
        JsonField<std::string>(j, at + "/ranked_by", where, "the column the score is ranked by");
    if (run.table.ColumnIndex(ranked_by) < 0) {
      throw Error(Quoted(csv_path) + " has no column '" + ranked_by + "', which " + where +
                  " ranks score '" + score + "' by (columns: " + JoinNames(run.table.columns) +
                  ")");
    }
    run.scores.push_back({score, *orientation, ranked_by});
  }
  // report.json's object lists its scores sorted by name: take the score file's column order
  // (the catalogue's), so that "the first score" means what the run wrote first.
  std::stable_sort(
      run.scores.begin(), run.scores.end(), [&](const ScoreInfo& a, const ScoreInfo& b) {
        return run.table.ColumnIndex(a.rank_column) < run.table.ColumnIndex(b.rank_column);
      });
  const auto& sets = run.table.SetNames();
  std::vector<std::string> roles = {run.id_set};
  roles.insert(roles.end(), run.ood_sets.begin(), run.ood_sets.end());
  for (const auto& s : roles) {
    if (std::find(sets.begin(), sets.end(), s) == sets.end()) {
      throw Error(Quoted(csv_path) + " has no rows of set '" + s + "', which " + where +
                  " reports (sets: " + JoinNames(sets) + ")");
    }
    std::size_t rows = 0;
    for (std::size_t i = 0; i < run.table.size() && rows < 2; ++i) rows += run.table.set(i) == s;
    if (rows < 2) {
      throw Error(Quoted(csv_path) + " has 1 row of set '" + s +
                  "': a comparison needs at least 2 of each set");
    }
  }
  return run;
}

std::vector<CompareColumn> SelectColumns(const std::vector<CompareRun>& runs,
                                         const std::vector<std::string>& scores,
                                         std::vector<std::string>* notes) {
  auto find = [](const CompareRun& run, const std::string& name) -> const ScoreInfo* {
    for (const auto& s : run.scores) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  auto names_of = [](const CompareRun& run) {
    std::vector<std::string> names;
    for (const auto& s : run.scores) names.push_back(s.name);
    return names;
  };
  std::vector<std::string> chosen;
  if (!scores.empty()) {
    std::vector<std::string> known;  // every run's columns, custom ones included
    for (const auto& run : runs) {
      for (const auto& n : names_of(run)) known.push_back(n);
    }
    for (const auto& s : scores) {
      const std::string name = CheckedScoreName(s, known);
      if (std::find(chosen.begin(), chosen.end(), name) != chosen.end()) continue;
      for (const auto& run : runs) {
        if (!find(run, name)) {
          throw UsageError("run '" + run.name + "' (" + Quoted(run.dir / "report.json") +
                           ") has no score '" + name + "'" + DidYouMeanClause(name, names_of(run)) +
                           " (its scores: " + JoinNames(names_of(run)) + ")");
        }
      }
      chosen.push_back(name);
    }
  } else {
    for (const auto& s : runs.front().scores) {
      std::vector<std::string> lacking;
      for (const auto& run : runs) {
        if (!find(run, s.name)) lacking.push_back(run.name);
      }
      if (lacking.empty()) {
        chosen.push_back(s.name);
      } else {
        notes->push_back("score '" + s.name + "' is left out: run(s) " + JoinNames(lacking) +
                         " do not report it");
      }
    }
  }
  std::vector<CompareColumn> columns;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (const auto& name : chosen) columns.push_back({r, *find(runs[r], name)});
  }
  if (columns.size() < 2) {
    throw UsageError("compare needs at least 2 columns (a column is one run's score), got " +
                     std::to_string(columns.size()) +
                     (runs.size() == 1 ? ": give a second RUN, or --scores A,B to compare two "
                                         "scores of run '" +
                                             runs.front().name + "'"
                                       : ": the runs share no score"));
  }
  return columns;
}

bool CompareReport::passed() const {
  for (const auto& s : sets) {
    for (const auto& p : s.pairs) {
      if (!p.pass) return false;
    }
  }
  return true;
}

std::size_t CompareReport::gated() const {
  std::size_t n = 0;
  for (const auto& s : sets) {
    for (const auto& p : s.pairs) n += p.gated ? 1 : 0;
  }
  return n;
}

CompareReport BuildCompare(std::vector<CompareRun> runs, CompareSpec spec) {
  if (runs.empty()) throw UsageError("no RUN given: compare needs report folders");
  CompareReport r;
  r.columns = SelectColumns(runs, spec.scores, &r.notes);
  const CompareRun& first = runs.front();
  spec.options.metric.tpr = first.tpr;
  spec.options.metric.convention = first.convention;
  spec.options.metric.bootstrap = 0;
  for (const auto& run : runs) {
    if (run.tpr != first.tpr || run.convention != first.convention) {
      r.notes.push_back("run '" + run.name + "' was reported at TPR " + General(run.tpr, "%g") +
                        " (" + ConventionName(run.convention) + "); compare uses the first run's " +
                        General(first.tpr, "%g") + " (" + ConventionName(first.convention) +
                        ") for every column");
    }
  }
  const bool one_run = runs.size() == 1;
  std::vector<std::string> ood_sets;
  for (const auto& run : runs) {
    for (const auto& s : run.ood_sets) {
      if (std::find(ood_sets.begin(), ood_sets.end(), s) == ood_sets.end()) ood_sets.push_back(s);
    }
  }
  // The ID scores of each column, computed once.
  std::vector<KeyedScores> id_scores;
  for (const auto& c : r.columns) {
    id_scores.push_back(RunSetScores(runs[c.run], runs[c.run].id_set, c.score));
  }
  for (const auto& set : ood_sets) {
    CompareSet cs;
    cs.ood_set = set;
    std::vector<KeyedScores> ood_scores(r.columns.size());
    std::vector<std::string> lacking;
    for (std::size_t c = 0; c < r.columns.size(); ++c) {
      const CompareRun& run = runs[r.columns[c].run];
      if (!HasSet(run, set)) {
        if (std::find(lacking.begin(), lacking.end(), run.name) == lacking.end()) {
          lacking.push_back(run.name);
        }
        continue;
      }
      ood_scores[c] = RunSetScores(run, set, r.columns[c].score);
      MetricOptions m = spec.options.metric;
      cs.columns.push_back({c, ComputeMetrics(id_scores[c].values, ood_scores[c].values, m), 0,
                            RocCurve(id_scores[c].values, ood_scores[c].values, 256)});
    }
    if (!lacking.empty()) {
      r.notes.push_back("OOD set '" + set + "' is not in run(s) " + JoinNames(lacking) +
                        ": compared among the others");
    }
    for (auto& col : cs.columns) {
      col.rank = 1;
      for (const auto& other : cs.columns) {
        if (other.metrics.auroc > col.metrics.auroc) ++col.rank;
      }
    }
    // Each pair's samples, matched here; the comparisons then run on every core.
    struct Job {
      std::vector<double> id_a, ood_a, id_b, ood_b;
      bool paired = false;
    };
    std::vector<Job> jobs;
    for (std::size_t i = 0; i < cs.columns.size(); ++i) {
      for (std::size_t j = i + 1; j < cs.columns.size(); ++j) {
        CompareSet::Pair p;
        p.a = cs.columns[i].column;
        p.b = cs.columns[j].column;
        const CompareColumn &ca = r.columns[p.a], &cb = r.columns[p.b];
        const CompareRun &ra = runs[ca.run], &rb = runs[cb.run];
        const KeyedScores &ia = id_scores[p.a], &ib = id_scores[p.b];
        const KeyedScores &oa = ood_scores[p.a], &ob = ood_scores[p.b];
        if (ca.run == cb.run) {  // one run's scores of the same rows
          jobs.push_back({ia.values, oa.values, ib.values, ob.values, true});
          p.n_id = ia.values.size();
          p.n_ood = oa.values.size();
        } else {
          const std::string id_what =
              "ID set '" + ra.id_set + "' of runs '" + ra.name + "' and '" + rb.name + "'";
          // Paired only when both runs scored exactly the same samples; else unpaired on all
          // of them, saying why.
          Paired pid, pood;
          std::string why;
          if (ra.id_set != rb.id_set) {
            why =
                "the runs' ID sets have different names ('" + ra.id_set + "', '" + rb.id_set + "')";
          } else {
            try {
              pid = PairByKey(ia, ib, id_what);
              pood = PairByKey(
                  oa, ob, "OOD set '" + set + "' of runs '" + ra.name + "' and '" + rb.name + "'");
            } catch (const Error& e) {  // a path twice in one run's set
              why = e.what();
            }
            const std::size_t unshared = pid.only_a + pid.only_b + pood.only_a + pood.only_b;
            if (why.empty() && unshared > 0) {
              why = "the runs share " + std::to_string(pid.a.size()) + " ID samples (of " +
                    std::to_string(ia.values.size()) + " and " + std::to_string(ib.values.size()) +
                    ") and " + std::to_string(pood.a.size()) + " OOD samples (of " +
                    std::to_string(oa.values.size()) + " and " + std::to_string(ob.values.size()) +
                    ") by (set, path); pairing needs the same samples";
            }
          }
          if (why.empty()) {
            jobs.push_back(
                {std::move(pid.a), std::move(pood.a), std::move(pid.b), std::move(pood.b), true});
            p.n_id = jobs.back().id_a.size();
            p.n_ood = jobs.back().ood_a.size();
          } else {
            jobs.push_back({ia.values, oa.values, ib.values, ob.values, false});
            p.note = "unpaired: " + why;
          }
        }
        p.gated =
            spec.gate &&
            (one_run ? p.a == 0 : ca.run == 0 && cb.run != 0 && ca.score.name == cb.score.name);
        cs.pairs.push_back(std::move(p));
      }
    }
    ParallelFor(jobs.size(), [&](std::size_t k) {
      const Job& job = jobs[k];
      cs.pairs[k].stats =
          job.paired ? ComparePaired(job.id_a, job.ood_a, job.id_b, job.ood_b, spec.options)
                     : CompareUnpaired(job.id_a, job.ood_a, job.id_b, job.ood_b, spec.options);
    });
    for (auto& p : cs.pairs) {
      if (p.gated) {
        p.pass =
            !(p.stats.auroc_diff < -spec.max_auroc_drop && p.stats.delong.p < spec.significance);
        if (!std::isfinite(p.stats.delong.p)) {
          p.note += std::string(p.note.empty() ? "" : "; ") +
                    "DeLong's test is undefined here (zero variance): the gate passes it untested";
        }
      }
    }
    r.sets.push_back(std::move(cs));
  }
  for (auto& run : runs) run.table = ScoreTable();  // the report keeps no rows
  r.runs = std::move(runs);
  r.spec = std::move(spec);
  return r;
}

std::string CompareVerdict(const CompareReport& r) {
  if (!r.spec.gate) return "OK (no gate)";
  std::size_t failed = 0;
  for (const auto& s : r.sets) {
    for (const auto& p : s.pairs) failed += p.pass ? 0 : 1;
  }
  const std::string rule = "AUROC drop > " + Points(r.spec.max_auroc_drop).substr(1) +
                           " with DeLong p < " + General(r.spec.significance, "%g");
  if (failed > 0) {
    return "FAIL: " + std::to_string(failed) + " of " + std::to_string(r.gated()) +
           " gated comparisons show an " + rule;
  }
  return "PASS: none of " + std::to_string(r.gated()) + " gated comparisons shows an " + rule;
}

nlohmann::json CompareJson(const CompareReport& r) {
  nlohmann::json j;
  j["tool"] = ToolJson();
  j["kind"] = "oodscore-compare";
  j["tpr_level"] = r.spec.options.metric.tpr;
  j["fpr_convention"] = ConventionName(r.spec.options.metric.convention);
  j["differences"] = "b - a";
  j["bootstrap"] = {{"resamples", r.spec.options.bootstrap},
                    {"seed", r.spec.options.seed},
                    {"interval", "percentile 95%"},
                    {"resampling", "ID and OOD separately; paired: one draw for both columns"}};
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : r.runs) {
    nlohmann::json rj;
    AddNameField(&rj, "name", run.name);
    AddNameField(&rj, "dir", run.dir.string());
    AddNameField(&rj, "id_set", run.id_set);
    runs.push_back(rj);
  }
  j["runs"] = runs;
  nlohmann::json sets = nlohmann::json::array(), comparisons = nlohmann::json::array();
  for (const auto& s : r.sets) {
    nlohmann::json cols = nlohmann::json::array();
    for (const auto& c : s.columns) {
      nlohmann::json cj = SideJson(r, c.column, c.metrics);
      cj["aupr_out"] = Num(c.metrics.aupr_out);
      cj["rank"] = c.rank;
      cols.push_back(cj);
    }
    nlohmann::json sj;
    AddNameField(&sj, "ood_set", s.ood_set);
    sj["columns"] = cols;
    sets.push_back(sj);
    for (const auto& p : s.pairs) {
      const PairComparison& st = p.stats;
      nlohmann::json cj;
      AddNameField(&cj, "ood_set", s.ood_set);
      cj["a"] = SideJson(r, p.a, st.a);
      cj["b"] = SideJson(r, p.b, st.b);
      cj["auroc_diff"] = Num(st.auroc_diff);
      cj["delong_z"] = Num(st.delong.z);
      cj["delong_p"] = Num(st.delong.p);
      cj["paired"] = st.paired;
      cj["test"] = CompareTestName(st);
      if (!st.paired) cj["delong_df"] = Num(st.delong.df);
      cj["n_id"] = p.n_id ? nlohmann::json(*p.n_id) : nlohmann::json(nullptr);
      cj["n_ood"] = p.n_ood ? nlohmann::json(*p.n_ood) : nlohmann::json(nullptr);
      cj["fpr_diff"] = Num(st.fpr_diff);
      cj["aupr_in_diff"] = Num(st.aupr_in_diff);
      if (st.has_ci) {
        cj["fpr_diff_ci"] = {Num(st.fpr_diff_ci.lo), Num(st.fpr_diff_ci.hi)};
        cj["aupr_in_diff_ci"] = {Num(st.aupr_in_diff_ci.lo), Num(st.aupr_in_diff_ci.hi)};
      }
      if (!p.note.empty()) cj["note"] = p.note;
      cj["gated"] = p.gated;
      if (p.gated) cj["pass"] = p.pass;
      comparisons.push_back(cj);
    }
  }
  j["sets"] = sets;
  j["comparisons"] = comparisons;
  if (r.spec.gate) {
    j["gate"] = {{"max_auroc_drop", r.spec.max_auroc_drop},
                 {"significance", r.spec.significance},
                 {"gated", r.gated()},
                 {"passed", r.passed()}};
  }
  j["verdict"] = CompareVerdict(r);
  j["notes"] = r.notes;
  return j;
}

std::string CompareMarkdown(const CompareReport& r) {
  std::ostringstream md;
  md << "# oodscore compare\n\n";
  md << "**" << CompareVerdict(r) << "**\n\n";
  md << "Runs:";
  for (std::size_t i = 0; i < r.runs.size(); ++i) {
    md << (i ? "," : "") << " `" << r.runs[i].name << "` (" << r.runs[i].dir.string() << ", ID `"
       << r.runs[i].id_set << "`)";
  }
  const bool ci = r.spec.options.bootstrap > 0;
  md << ". FPR at TPR " << General(100 * r.spec.options.metric.tpr, "%g") << "% ("
     << ConventionName(r.spec.options.metric.convention)
     << "). Differences are b - a; AUROC compared with DeLong's test (two-sided p)";
  if (ci) {
    md << ", FPR and AUPR-in differences with percentile 95% intervals over "
       << r.spec.options.bootstrap << " bootstrap resamples (seed " << r.spec.options.seed
       << "; ID and OOD resampled separately, the same draw for both columns when paired)";
  }
  md << ".\n";
  for (const auto& s : r.sets) {
    md << "\n## " << s.ood_set << "\n\n";
    md << "| rank | run | score | AUROC | FPR@" << General(100 * r.spec.options.metric.tpr, "%g")
       << " | AUPR-in | AUPR-out | n ID | n OOD |\n|---|---|---|---|---|---|---|---|---|\n";
    std::vector<const CompareSet::Column*> ranked;
    for (const auto& c : s.columns) ranked.push_back(&c);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto* x, const auto* y) { return x->rank < y->rank; });
    for (const auto* c : ranked) {
      const CompareColumn& col = r.columns[c->column];
      md << "| " << c->rank << " | " << r.runs[col.run].name << " | " << col.score.name << " | "
         << Percent(c->metrics.auroc) << " | " << Percent(c->metrics.fpr_at_tpr) << " | "
         << Percent(c->metrics.aupr_in) << " | " << Percent(c->metrics.aupr_out) << " | "
         << c->metrics.n_id << " | " << c->metrics.n_ood << " |\n";
    }
    if (s.pairs.empty()) continue;
    md << "\n| a | b | ΔAUROC | z | p | test | ΔFPR@"
       << General(100 * r.spec.options.metric.tpr, "%g") << (ci ? " [95% CI]" : "") << " | ΔAUPR-in"
       << (ci ? " [95% CI]" : "") << " | n ID / OOD | gate |\n"
       << "|---|---|---|---|---|---|---|---|---|---|\n";
    std::vector<std::string> notes;
    for (const auto& p : s.pairs) {
      const PairComparison& st = p.stats;
      md << "| " << CompareColumnName(r, p.a) << " | " << CompareColumnName(r, p.b) << " | "
         << Points(st.auroc_diff) << " | " << General(st.delong.z, "%.3f") << " | "
         << General(st.delong.p, "%.3g") << " | " << CompareTestName(st) << " | "
         << Points(st.fpr_diff) << (st.has_ci ? " " + CiText(st.fpr_diff_ci) : "") << " | "
         << Points(st.aupr_in_diff) << (st.has_ci ? " " + CiText(st.aupr_in_diff_ci) : "") << " | "
         << (p.n_id ? std::to_string(*p.n_id) + " / " + std::to_string(*p.n_ood) : "unpaired")
         << " | " << (p.gated ? (p.pass ? "pass" : "**FAIL**") : "-") << " |\n";
      if (!p.note.empty())
        notes.push_back(CompareColumnName(r, p.a) + " vs " + CompareColumnName(r, p.b) + ": " +
                        p.note);
    }
    if (!notes.empty()) {
      md << "\n";
      for (const auto& n : notes) md << "- " << n << "\n";
    }
  }
  if (!r.notes.empty()) {
    md << "\n## Notes\n\n";
    for (const auto& n : r.notes) md << "- " << n << "\n";
  }
  return md.str();
}

}  // namespace oodscore
