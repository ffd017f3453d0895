#include "oodscore/gallery.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "oodscore/error.h"
#include "oodscore/html_report.h"
#include "oodscore/report.h"

namespace oodscore {

std::vector<std::size_t> GalleryPicks(const std::vector<double>& oriented, std::size_t k,
                                      bool highest) {
  std::vector<std::size_t> order(oriented.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const std::size_t n = std::min(k, order.size());
  // Most extreme first; equal values by position, so the pick never depends on the sort.
  auto before = [&](std::size_t a, std::size_t b) {
    if (oriented[a] != oriented[b])
      return highest ? oriented[a] > oriented[b] : oriented[a] < oriented[b];
    return a < b;
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    before);
  order.resize(n);
  return order;
}

std::vector<ScoreInfo> HeadlineScores(const std::vector<ScoreInfo>& reported,
                                      const std::vector<std::string>& gated) {
  std::vector<ScoreInfo> out;
  for (const ScoreInfo& s : reported) {
    if (std::find(gated.begin(), gated.end(), s.name) != gated.end()) out.push_back(s);
  }
  if (!out.empty()) return out;
  for (const ScoreInfo& s : reported) {
    if (s.name == "energy") return {s};
  }
  return {reported.front()};
}

namespace {

std::string ScoreText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.5g", v);
  return buf;
}

// "The 12 most ID-looking samples of noise (OOD) by energy; the threshold accepts energy <=
// -2.4492 as ID"
std::string ListTitle(const GalleryList& l) {
  return "The " + std::to_string(l.items.size()) + " most " +
         (l.id ? "OOD-looking samples of " + l.set + " (ID)"
               : "ID-looking samples of " + l.set + " (OOD)") +
         " by " + l.score + "; the threshold accepts " + l.rule_shown + " as ID";
}

// What the threshold does with an item, and whether that is the detector's mistake: an ID
// sample rejected or an OOD sample accepted.
std::string Verdict(const GalleryItem& it) { return it.accepted ? "accepted" : "rejected"; }
bool Missed(const GalleryList& l, const GalleryItem& it) { return l.id != it.accepted; }

// A Markdown table cell: '|' and line breaks would end the cell or the row.
std::string MdCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Gallery BuildGallery(const ScoreTable& table, const std::vector<ScoreInfo>& scores,
                     const std::vector<double>& thresholds, const std::vector<std::string>& id_sets,
                     const std::vector<std::string>& ood_sets, int k,
                     const std::vector<std::string>& class_names) {
  Gallery g;
  g.k = k;
  if (k <= 0) return g;
  if (!table.keeps_paths()) throw Error("internal error: the gallery needs the samples' paths");
  if (thresholds.size() != scores.size() || id_sets.empty()) {
    throw Error("internal error: the gallery needs a threshold per score and an ID set");
  }
  // The lists' sets: the ID sets together, then each OOD set; their rows in row order.
  std::vector<std::vector<std::string>> sets = {id_sets};
  for (const std::string& o : ood_sets) sets.push_back({o});
  std::vector<std::vector<std::size_t>> rows;
  for (const auto& group : sets) {
    for (const std::string& set : group) {
      const std::vector<std::string>& names = table.SetNames();
      if (std::find(names.begin(), names.end(), set) == names.end()) {
        throw Error("the score table has no rows of set '" + set + "'");
      }
    }
    rows.push_back(table.RowsOf(group));
  }
  std::string id_name = id_sets.front();
  for (std::size_t i = 1; i < id_sets.size(); ++i) id_name += " + " + id_sets[i];
  for (std::size_t sc = 0; sc < scores.size(); ++sc) {
    const ScoreInfo& info = scores[sc];
    const int rank = table.ColumnIndex(info.rank_column);
    const int shown = table.ColumnIndex(info.name) >= 0 ? table.ColumnIndex(info.name) : rank;
    if (rank < 0) throw Error("the score table has no '" + info.rank_column + "' column");
    const double raw = RawThreshold(info, thresholds[sc]);
    const std::string rule = AcceptRule(info, raw);
    const std::string rule_shown = AcceptRule(info, std::strtod(ScoreText(raw).c_str(), nullptr));
    for (std::size_t s = 0; s < sets.size(); ++s) {
      std::vector<double> oriented;
      oriented.reserve(rows[s].size());
      for (std::size_t r : rows[s])
        oriented.push_back(Orient(table.values(rank)[r], info.orientation));
      GalleryList list;
      list.score = info.name;
      list.set = s == 0 ? id_name : sets[s][0];
      list.rule = rule;
      list.rule_shown = rule_shown;
      list.id = s == 0;
      for (std::size_t i : GalleryPicks(oriented, static_cast<std::size_t>(k), !list.id)) {
        const std::size_t r = rows[s][i];
        GalleryItem item;
        item.row = r;
        item.path = std::string(table.path(r));
        item.score = table.values(shown)[r];
        item.pred = table.ClassName(table.pred(r), class_names);
        if (list.id) item.label = table.ClassName(table.label(r), class_names);
        item.accepted = oriented[i] >= thresholds[sc];
        list.items.push_back(std::move(item));
      }
      g.lists.push_back(std::move(list));
    }
  }
  return g;
}

nlohmann::json GalleryJson(const Gallery& g) {
  nlohmann::json lists = nlohmann::json::array();
  for (const GalleryList& l : g.lists) {
    nlohmann::json items = nlohmann::json::array();
    for (const GalleryItem& it : l.items) {
      nlohmann::json j = {{"path", it.path}, {"score", it.score}, {"pred", it.pred}};
      if (l.id) j["label"] = it.label;
      j["accepted"] = it.accepted;
      items.push_back(j);
    }
    lists.push_back({{"score", l.score},
                     {"set", l.set},
                     {"role", l.id ? "id" : "ood"},
                     {"looks", l.id ? "most OOD-looking" : "most ID-looking"},
                     {"accept_as_id", l.rule},
                     {"items", items}});
  }
  return {{"k", g.k}, {"note", g.note}, {"lists", lists}};
}

std::string GalleryMarkdown(const Gallery& g) {
  if (g.lists.empty()) return "";
  std::string md = "\n## Failure gallery\n\n";
  if (!g.note.empty()) md += "Note: " + g.note + "\n\n";
  for (const GalleryList& l : g.lists) {
    md += MdCell(ListTitle(l)) + ":\n\n| # | path | " + l.score + " | pred |" +
          (l.id ? " true |" : "") + " threshold |\n|---:|---|---:|---|" + (l.id ? "---|" : "") +
          "---|\n";
    for (std::size_t i = 0; i < l.items.size(); ++i) {
      const GalleryItem& it = l.items[i];
      md += "| " + std::to_string(i + 1) + " | " + MdCell(it.path) + " | " + ScoreText(it.score) +
            " | " + MdCell(it.pred) + " |" + (l.id ? " " + MdCell(it.label) + " |" : "") + " " +
            Verdict(it) + " |\n";
    }
    md += "\n";
  }
  return md;
}

std::string GalleryHtml(const Gallery& g) {
  if (g.lists.empty()) return "";
  std::string h =
      "<h2 id=\"gallery\">Failure gallery</h2>\n<p>What the detector gets most wrong: the ID "
      "images that look most OOD, and for each OOD set the images that look most ID, most "
      "wrong first. Red marks an ID image's wrong prediction, and the threshold's mistakes: an "
      "ID image it rejects, an OOD image it accepts.</p>\n";
  if (!g.note.empty()) h += "<p class=\"warn\">" + EscapeMarkup(g.note) + "</p>\n";
  for (const GalleryList& l : g.lists) {
    h += "<h3>" + EscapeMarkup(ListTitle(l)) + "</h3>\n<div class=\"gallery\">";
    for (const GalleryItem& it : l.items) {
      h += "<figure class=\"thumb\">";
      if (it.png_base64.empty()) {
        h += "<div class=\"noimg\">no image</div>";
      } else {
        h += "<img src=\"data:image/png;base64," + it.png_base64 + "\" alt=\"\">";
      }
      h += "<figcaption><span class=\"path\">" + EscapeMarkup(it.path) + "</span><br>" +
           EscapeMarkup(l.score) + " " + ScoreText(it.score);
      // An ID sample the model also misclassifies: its predicted class in red.
      const bool wrong = l.id && !it.label.empty() && !it.pred.empty() && it.pred != it.label;
      if (!it.pred.empty()) {
        h += std::string("<br>") + (wrong ? "<span class=\"wrong\">" : "<span>") + "pred " +
             EscapeMarkup(it.pred) + "</span>";
      }
      if (l.id && !it.label.empty()) h += "<br>true " + EscapeMarkup(it.label);
      // The threshold's mistake (an ID image rejected, an OOD image accepted) in red too.
      h += std::string("<br>") + (Missed(l, it) ? "<span class=\"wrong\">" : "<span>") +
           Verdict(it) + "</span>";
      h += "</figcaption></figure>";
    }
    h += "</div>\n";
  }
  return h;
}

}  // namespace oodscore
