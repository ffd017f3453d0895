#include "oodscore/class_breakdown.h"

#include <cmath>
#include <map>

#include "oodscore/error.h"
#include "oodscore/html_report.h"
#include "oodscore/report.h"

namespace oodscore {

namespace {

// Class codes in report order: indices ascending, then names in the order first seen.
struct CodeOrder {
  bool operator()(std::int32_t a, std::int32_t b) const {
    if ((a < 0) != (b < 0)) return a >= 0;
    return a >= 0 ? a < b : a > b;
  }
};

nlohmann::json Num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json SharesJson(const std::vector<std::string>& scores, const std::vector<double>& v) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t s = 0; s < scores.size(); ++s) j[scores[s]] = Num(v[s]);
  return j;
}

// The tables as rows of cells (header first), shared by Markdown and HTML.
struct Table {
  std::string title;
  std::vector<std::vector<std::string>> rows;
};

std::vector<Table> Tables(const ClassBreakdown& b) {
  std::vector<Table> out;
  Table id{"ID set: per true class, its accuracy and the share the threshold accepts", {}};
  std::vector<std::string> head = {"true class", "n", "accuracy (%)"};
  for (const auto& s : b.scores) head.push_back("accepted by " + s + " (%)");
  id.rows.push_back(head);
  for (const auto& c : b.id) {
    std::vector<std::string> row = {c.name, std::to_string(c.n), PercentCell(c.accuracy)};
    for (double a : c.accepted) row.push_back(PercentCell(a));
    id.rows.push_back(row);
  }
  out.push_back(id);
  for (const auto& o : b.ood) {
    Table t{"OOD set " + o.name + " (n=" + std::to_string(o.n) +
                "): per predicted class, the share of the set predicted as it and accepted as ID",
            {}};
    std::vector<std::string> h = {"predicted class", "predicted (%)"};
    for (const auto& s : b.scores) h.push_back("accepted by " + s + " (%)");
    t.rows.push_back(h);
    for (const auto& c : o.classes) {
      std::vector<std::string> row = {c.name, PercentCell(c.predicted)};
      for (double a : c.accepted) row.push_back(PercentCell(a));
      t.rows.push_back(row);
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace

std::optional<ClassBreakdown> BuildClassBreakdown(const ScoreTable& table,
                                                  const std::vector<ScoreInfo>& scores,
                                                  const std::vector<double>& thresholds,
                                                  const std::vector<std::string>& id_sets,
                                                  const std::vector<std::string>& ood_sets,
                                                  const std::vector<std::string>& class_names) {
  std::vector<int> rank;
  for (const ScoreInfo& info : scores) {
    rank.push_back(table.ColumnIndex(info.rank_column));
    if (rank.back() < 0) throw Error("the score table has no '" + info.rank_column + "' column");
  }
  auto accepted = [&](std::size_t r, std::size_t s) {
    return Orient(table.values(rank[s])[r], scores[s].orientation) >= thresholds[s];
  };
  const std::size_t n_scores = scores.size();
  struct Counts {
    std::size_t n = 0, predicted = 0, right = 0;
    std::vector<std::size_t> accepted;
  };
  auto count = [&](std::map<std::int32_t, Counts, CodeOrder>* by, std::int32_t code,
                   std::size_t r) {
    Counts& c = (*by)[code];
    c.accepted.resize(n_scores);
    ++c.n;
    for (std::size_t s = 0; s < n_scores; ++s) c.accepted[s] += accepted(r, s);
    return &c;
  };
  ClassBreakdown b;
  for (const ScoreInfo& info : scores) b.scores.push_back(info.name);
  std::map<std::int32_t, Counts, CodeOrder> id;
  for (std::size_t r : table.RowsOf(id_sets)) {
    if (table.label(r) == ScoreTable::kNoClass) continue;
    Counts* c = count(&id, table.label(r), r);
    if (table.pred(r) != ScoreTable::kNoClass) {
      ++c->predicted;
      c->right += table.pred(r) == table.label(r);
    }
  }
  if (id.empty()) return std::nullopt;
  for (const auto& [code, c] : id) {
    ClassBreakdown::IdClass row;
    row.name = table.ClassName(code, class_names);
    row.n = c.n;
    row.accuracy = c.predicted ? static_cast<double>(c.right) / c.predicted : std::nan("");
    for (std::size_t a : c.accepted) row.accepted.push_back(static_cast<double>(a) / c.n);
    b.id.push_back(row);
  }
  for (const std::string& set : ood_sets) {
    std::map<std::int32_t, Counts, CodeOrder> by_pred;
    ClassBreakdown::OodSet o;
    o.name = set;
    for (std::size_t r = 0; r < table.size(); ++r) {
      if (table.set(r) != set) continue;
      ++o.n;
      if (table.pred(r) != ScoreTable::kNoClass) count(&by_pred, table.pred(r), r);
    }
    if (o.n == 0) throw Error("the score table has no rows of set '" + set + "'");
    for (const auto& [code, c] : by_pred) {
      ClassBreakdown::PredClass row;
      row.name = table.ClassName(code, class_names);
      row.predicted = static_cast<double>(c.n) / o.n;
      for (std::size_t a : c.accepted) row.accepted.push_back(static_cast<double>(a) / o.n);
      o.classes.push_back(row);
    }
    b.ood.push_back(o);
  }
  return b;
}

nlohmann::json ClassBreakdownJson(const ClassBreakdown& b) {
  nlohmann::json id = nlohmann::json::array();
  for (const auto& c : b.id) {
    id.push_back({{"class", c.name},
                  {"n", c.n},
                  {"accuracy", Num(c.accuracy)},
                  {"accepted", SharesJson(b.scores, c.accepted)}});
  }
  nlohmann::json ood = nlohmann::json::array();
  for (const auto& o : b.ood) {
    nlohmann::json classes = nlohmann::json::array();
    for (const auto& c : o.classes) {
      classes.push_back({{"class", c.name},
                         {"predicted", Num(c.predicted)},
                         {"accepted", SharesJson(b.scores, c.accepted)}});
    }
    ood.push_back({{"set", o.name}, {"n", o.n}, {"classes", classes}});
  }
  return {{"scores", b.scores}, {"id", id}, {"ood", ood}};
}

std::string ClassBreakdownMarkdown(const ClassBreakdown& b) {
  std::string md = "\n## Per class\n";
  for (const Table& t : Tables(b)) {
    md += "\n" + t.title + ":\n\n";
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      md += "|";
      for (const auto& cell : t.rows[r]) {
        std::string c;
        for (char ch : cell) c += ch == '|' ? std::string("\\|") : std::string(1, ch);
        md += " " + c + " |";
      }
      md += "\n";
      if (r == 0) {
        md += "|---|";
        for (std::size_t i = 1; i < t.rows[0].size(); ++i) md += "---:|";
        md += "\n";
      }
    }
  }
  return md;
}

std::string ClassBreakdownHtml(const ClassBreakdown& b) {
  std::string h = "<h2 id=\"per-class\">Per class</h2>\n";
  for (const Table& t : Tables(b)) {
    h += "<p>" + EscapeMarkup(t.title) + ":</p><div class=\"scroll\"><table>\n";
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      const char* tag = r == 0 ? "th" : "td";
      h += "<tr>";
      for (const auto& cell : t.rows[r]) {
        h += std::string("<") + tag + ">" + EscapeMarkup(cell) + "</" + tag + ">";
      }
      h += "</tr>\n";
    }
    h += "</table></div>\n";
  }
  return h;
}

}  // namespace oodscore
