// The one check of a number a user gives, on a command-line flag (cli.h's InRange) or in a
// file's field (json_text.h's JsonNumber): it must be finite and in its range, and the message
// says what was expected and what was found.
#ifndef OODSCORE_SRC_BASE_NUMBER_RANGE_H_
#define OODSCORE_SRC_BASE_NUMBER_RANGE_H_

#include <limits>
#include <string>

namespace oodscore {

struct NumberRange {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;  // lo < v instead of lo <= v; v < hi instead of v <= hi

  // "a finite number", "a finite number > 0", "a finite number >= 0 and < 100".
  std::string Text() const;
  // "" when v is finite and in range, else "must be <Text()>, got <v>" (v as FormatDouble).
  std::string Problem(double v) const;
};

constexpr double kNoLimit = std::numeric_limits<double>::infinity();
constexpr NumberRange kFinite{};
constexpr NumberRange kPositive{0, kNoLimit, true, false};
constexpr NumberRange kNonNegative{0, kNoLimit, false, false};
constexpr NumberRange kPercentile{0, 100, false, false};
constexpr NumberRange kShare{0, 1, true, false};  // a rate such as a TPR: (0, 1]

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_NUMBER_RANGE_H_
