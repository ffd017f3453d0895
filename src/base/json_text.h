// JSON from and to users' files: bounded parsing with messages that name the file, and names
// that are not UTF-8 written without losing the report or the bytes.
#ifndef OODSCORE_SRC_BASE_JSON_TEXT_H_
#define OODSCORE_SRC_BASE_JSON_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace oodscore {

// Deeper nesting than this is refused before parsing, so that no file can exhaust the stack.
constexpr int kMaxJsonDepth = 64;

// Parses JSON text read from `source` (a file name, for messages). Throws oodscore::Error
// "'<source>': not valid JSON at line L, column C: <reason>", or "'<source>': too deeply
// nested (more than 64 levels) at line L, column C".
nlohmann::json ParseJsonText(const std::string& text, const std::string& source);

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

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_JSON_TEXT_H_
