// "Did you mean ...?" for names a user typed: commands, presets, score names, set names.
#ifndef OODSCORE_SRC_BASE_SUGGEST_H_
#define OODSCORE_SRC_BASE_SUGGEST_H_

#include <string>
#include <vector>

namespace oodscore {

// The closest candidate within edit distance 2 (ties: the first); failing that, for a word of
// 3 or more characters, the only candidate that begins with it; else "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

// ", did you mean 'X'?" when a candidate is close, else "".
std::string DidYouMeanClause(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names, const std::string& sep = ", ");

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_SUGGEST_H_
