// Exact number formatting and parsing shared by score files and reports.
#ifndef OODSCORE_SRC_BASE_FORMAT_H_
#define OODSCORE_SRC_BASE_FORMAT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace oodscore {

// Shortest decimal form that reads back to the same double (std::to_chars).
// Infinities print as "inf" / "-inf"; NaN as "nan".
std::string FormatDouble(double value);

// Parses a whole field as a double ("inf", "-inf" accepted; "nan" parses to NaN so the
// caller can say where it was). Returns nullopt if the field is not a number.
std::optional<double> ParseDouble(std::string_view text);

// "1 image", "2 images", "0 images": a count and its noun, plural unless the count is 1
// (`plural` when the noun does not just take an "s": "1 class", "3 classes").
std::string Counted(std::size_t n, const std::string& noun, const std::string& plural = "");

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_FORMAT_H_
