// JSON from and to users' files: bounded parsing with messages that name the file, and names
// that are not UTF-8 written without losing the report or the bytes.
#ifndef OODSCORE_SRC_BASE_JSON_TEXT_H_
#define OODSCORE_SRC_BASE_JSON_TEXT_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/number_range.h"
#include "oodscore/error.h"

namespace oodscore {

// Deeper nesting than this is refused before parsing, so that no file can exhaust the stack.
constexpr int kMaxJsonDepth = 64;

// Parses JSON text read from `source` (a file name, for messages). Throws oodscore::Error
// "'<source>': not valid JSON at line L, column C: <reason>", or "'<source>': too deeply
// nested (more than 64 levels) at line L, column C".
nlohmann::json ParseJsonText(const std::string& text, const std::string& source);

// The same with the messages' subject as given: "<where>: not valid JSON ...", for JSON
// inside another format (where = "fit file 'm.fit'").
nlohmann::json ParseJsonWhere(const std::string& text, const std::string& where);

// A nlohmann error's text without the library's "[json.exception.type_error.302] " prefix.
std::string JsonErrorText(const std::exception& e);

// JSON text of a value whose strings may hold bytes that are not UTF-8 (file names on Linux):
// such bytes are written as U+FFFD instead of failing. Fields that name files carry the exact
// bytes too (see NameFields).
std::string DumpJson(const nlohmann::json& value, int indent = 2);

bool IsValidUtf8(std::string_view s);

// The length (2 to 4) of the well-formed UTF-8 sequence of a non-ASCII byte at s[i] (no
// overlong forms, surrogates or code points above U+10FFFF), or 0.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i);

// {"<key>": name} for a name that is UTF-8; otherwise also {"<key>_hex": the bytes in
// lowercase hex}, so that a reader can recover the exact bytes (the UTF-8 field then shows
// U+FFFD where a byte was not UTF-8).
void AddNameField(nlohmann::json* object, const std::string& key, const std::string& name);

// The exact bytes AddNameField stored: from "<key>_hex" when present, else "<key>"; "" when
// neither is there.
std::string ReadNameField(const nlohmann::json& object, const std::string& key);

// True when `v` is a whole number that T holds (no sign wrap, no cut fraction).
template <typename T>
bool JsonIntegerFits(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  }
  if (v.is_number_integer()) {
    const std::int64_t i = v.get<std::int64_t>();
    return i >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
           (i < 0 || static_cast<std::uint64_t>(i) <=
                         static_cast<std::uint64_t>(std::numeric_limits<T>::max()));
  }
  return false;
}

// The value at `pointer` (a JSON pointer such as "/shard/index") of a file's JSON as T, or
// *fallback when it is absent (fallback nullptr: the field is required). Throws
// oodscore::Error "<where>: missing <pointer> (<expected>)" or "<where>: <pointer> must be
// <expected>, got <value>". Integers must be whole and in T's range (-1 for a count, 2.5 or
// 1e300 are refused, not wrapped or cut); booleans, numbers and strings must be of that type.
template <typename T>
T JsonField(const nlohmann::json& j, const std::string& pointer, const std::string& where,
            const char* expected, const T* fallback = nullptr) {
  const nlohmann::json::json_pointer ptr(pointer);
  if (!j.contains(ptr)) {
    if (fallback) return *fallback;
    throw Error(where + ": missing " + pointer + " (" + expected + ")");
  }
  const nlohmann::json& v = j.at(ptr);
  bool ok = true;
  if constexpr (std::is_same_v<T, bool>) {
    ok = v.is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    ok = JsonIntegerFits<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = v.is_number() && std::isfinite(v.get<double>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    ok = v.is_string();
  }
  if (ok) {
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
    }
  }
  throw Error(where + ": " + pointer + " must be " + expected + ", got " + DumpJson(v, -1));
}

// The number at `pointer`, checked against `range` (the check the flags use too, cli.h's
// InRange), or *fallback when it is absent. Throws oodscore::Error "<where>: <pointer> must be
// a finite number > 0, got -1".
double JsonNumber(const nlohmann::json& j, const std::string& pointer, const std::string& where,
                  const NumberRange& range, const double* fallback = nullptr);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_JSON_TEXT_H_
