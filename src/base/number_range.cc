#include "base/number_range.h"

#include <cmath>

#include "base/format.h"

namespace oodscore {

std::string NumberRange::Text() const {
  std::string text = "a finite number";
  if (std::isfinite(lo)) text += (lo_open ? " > " : " >= ") + FormatDouble(lo);
  if (std::isfinite(lo) && std::isfinite(hi)) text += " and";
  if (std::isfinite(hi)) text += (hi_open ? " < " : " <= ") + FormatDouble(hi);
  return text;
}

std::string NumberRange::Problem(double v) const {
  const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  return ok ? "" : "must be " + Text() + ", got " + FormatDouble(v);
}

}  // namespace oodscore
