#include "base/suggest.h"

#include <algorithm>

namespace oodscore {

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& c : candidates) {
    std::vector<std::size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (word[i - 1] != c[j - 1])});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = c;
    }
  }
  if (!best.empty() || word.size() < 3) return best;
  // No close spelling: the one candidate the word begins ("fashion" for "fashion-mnist").
  std::vector<std::string> longer;
  for (const auto& c : candidates) {
    if (c.size() > word.size() && c.compare(0, word.size(), word) == 0) longer.push_back(c);
  }
  return longer.size() == 1 ? longer[0] : "";
}

std::string DidYouMeanClause(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string s = DidYouMean(word, candidates);
  return s.empty() ? "" : ", did you mean '" + s + "'?";
}

std::string JoinNames(const std::vector<std::string>& names, const std::string& sep) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : sep) + n;
  return s;
}

}  // namespace oodscore
