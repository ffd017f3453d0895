#include "oodscore/risk_coverage.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "oodscore/error.h"
#include "oodscore/gallery.h"
#include "oodscore/report.h"

namespace oodscore {

std::vector<RiskCoverage> BuildRiskCoverage(const ScoreTable& table,
                                            const std::vector<ScoreInfo>& scores,
                                            const std::vector<double>& thresholds,
                                            const std::vector<std::string>& id_sets) {
  std::vector<std::size_t> rows;
  for (std::size_t r : table.RowsOf(id_sets)) {
    if (table.label(r) != ScoreTable::kNoClass && table.pred(r) != ScoreTable::kNoClass) {
      rows.push_back(r);
    }
  }
  std::vector<RiskCoverage> out;
  if (rows.empty()) return out;
  const std::size_t n = rows.size();
  for (std::size_t s = 0; s < scores.size(); ++s) {
    const int rank = table.ColumnIndex(scores[s].rank_column);
    if (rank < 0) throw Error("the score table has no '" + scores[s].rank_column + "' column");
    std::vector<double> oriented;
    for (std::size_t r : rows)
      oriented.push_back(Orient(table.values(rank)[r], scores[s].orientation));
    RiskCoverage rc;
    rc.score = scores[s].name;
    rc.n = n;
    // correct[k]: the right predictions among the k most ID-looking rows.
    std::vector<std::size_t> correct(n + 1, 0);
    const std::vector<std::size_t> order = GalleryPicks(oriented, n, /*highest=*/true);
    std::size_t accepted = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t r = rows[order[k]];
      correct[k + 1] = correct[k] + (table.pred(r) == table.label(r));
      accepted += oriented[order[k]] >= thresholds[s];
    }
    auto accuracy = [&](std::size_t k) {
      return k ? static_cast<double>(correct[k]) / k : std::nan("");
    };
    const std::size_t step = std::max<std::size_t>(1, n / 100);
    for (std::size_t k = step; k < n; k += step) {
      rc.curve.emplace_back(static_cast<double>(k) / n, accuracy(k));
    }
    rc.curve.emplace_back(1.0, accuracy(n));
    for (double c : kCoverageLevels) {
      rc.at_levels.push_back(accuracy(static_cast<std::size_t>(std::ceil(c * n - 1e-9))));
    }
    rc.threshold_coverage = static_cast<double>(accepted) / n;
    rc.threshold_accuracy = accuracy(accepted);
    out.push_back(std::move(rc));
  }
  return out;
}

namespace {

nlohmann::json Num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

std::string Level(double c) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%g", c);
  return buf;
}

}  // namespace

nlohmann::json RiskCoverageJson(const std::vector<RiskCoverage>& curves) {
  nlohmann::json out = nlohmann::json::array();
  for (const RiskCoverage& rc : curves) {
    nlohmann::json levels = nlohmann::json::object();
    for (std::size_t i = 0; i < rc.at_levels.size(); ++i) {
      levels[Level(kCoverageLevels[i])] = Num(rc.at_levels[i]);
    }
    nlohmann::json curve = nlohmann::json::array();
    for (const auto& [c, a] : rc.curve) curve.push_back({Num(c), Num(a)});
    out.push_back(
        {{"score", rc.score},
         {"n", rc.n},
         {"threshold",
          {{"coverage", Num(rc.threshold_coverage)}, {"accuracy", Num(rc.threshold_accuracy)}}},
         {"at_coverage", levels},
         {"curve", curve}});
  }
  return out;
}

std::vector<std::vector<std::string>> RiskCoverageRows(const std::vector<RiskCoverage>& curves) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"score", "threshold accepts", "accuracy there"};
  for (double c : kCoverageLevels) head.push_back("at " + Level(100 * c) + "%");
  rows.push_back(head);
  for (const RiskCoverage& rc : curves) {
    std::vector<std::string> row = {rc.score, PercentCell(rc.threshold_coverage),
                                    PercentCell(rc.threshold_accuracy)};
    for (double a : rc.at_levels) row.push_back(PercentCell(a));
    rows.push_back(row);
  }
  return rows;
}

std::string RiskCoverageMarkdown(const std::vector<RiskCoverage>& curves) {
  if (curves.empty()) return "";
  std::string md =
      "\n## Risk-coverage (ID)\n\nThe classifier's accuracy on the ID images a score accepts "
      "(the most ID-looking first), in %: the share its threshold accepts and the accuracy there, "
      "then the accuracy at fixed shares accepted:\n\n";
  const auto rows = RiskCoverageRows(curves);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    md += "|";
    for (const auto& cell : rows[r]) md += " " + cell + " |";
    md += "\n";
    if (r == 0) {
      md += "|---|";
      for (std::size_t i = 1; i < rows[0].size(); ++i) md += "---:|";
      md += "\n";
    }
  }
  return md;
}

}  // namespace oodscore
