#include "base/format.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace oodscore {

std::string FormatDouble(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, res.ptr);
}

std::optional<double> ParseDouble(std::string_view text) {
  double v = 0;
  if (!text.empty() && ((text[0] >= '0' && text[0] <= '9') ||
                        (text[0] == '-' && text.size() > 1 && text[1] >= '0' && text[1] <= '9'))) {
    // The common case, a plain number: straight to from_chars.
    auto res = std::from_chars(text.data(), text.data() + text.size(), v);
    if (res.ec != std::errc() || res.ptr != text.data() + text.size()) return std::nullopt;
    return v;
  }
  if (text == "inf" || text == "+inf" || text == "Infinity" || text == "infinity") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-inf" || text == "-Infinity" || text == "-infinity") {
    return -std::numeric_limits<double>::infinity();
  }
  if (text == "nan" || text == "NaN" || text == "-nan") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  auto res = std::from_chars(text.data(), text.data() + text.size(), v);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return v;
}

std::string Counted(std::size_t n, const std::string& noun, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? noun : plural.empty() ? noun + "s" : plural);
}

}  // namespace oodscore
