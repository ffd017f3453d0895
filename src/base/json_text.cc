#include "base/json_text.h"

#include <cstring>

#include "oodscore/error.h"

namespace oodscore {

namespace {

void LineColumn(const std::string& text, std::size_t byte, std::size_t* line, std::size_t* col) {
  *line = 1;
  *col = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++*line;
      *col = 1;
    } else {
      ++*col;
    }
  }
}

std::string At(const std::string& text, std::size_t byte) {
  std::size_t line, col;
  LineColumn(text, byte, &line, &col);
  return " at line " + std::to_string(line) + ", column " + std::to_string(col);
}

}  // namespace

std::string JsonErrorText(const std::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const std::size_t end = what.find("] ");
    if (end != std::string::npos) what = what.substr(end + 2);
  }
  if (what.rfind("parse error at line ", 0) == 0) {  // nlohmann's own position: ours is kept
    const std::size_t colon = what.find(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
  }
  return what;
}

nlohmann::json ParseJsonText(const std::string& text, const std::string& source) {
  return ParseJsonWhere(text, "'" + source + "'");
}

nlohmann::json ParseJsonWhere(const std::string& text, const std::string& where) {
  // Depth, outside strings: a pre-scan, so that the recursive parser never goes deep.
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw Error(where + ": too deeply nested (more than " + std::to_string(kMaxJsonDepth) +
                    " levels)" + At(text, i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(where + ": not valid JSON" + At(text, e.byte > 0 ? e.byte - 1 : 0) + ": " +
                JsonErrorText(e));
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
    throw Error(where + ": not valid JSON: " + JsonErrorText(e));
  }
}

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t len = c >= 0xF0 && c <= 0xF4   ? 4
                          : c >= 0xE0 && c <= 0xEF ? 3
                          : c >= 0xC2 && c <= 0xDF ? 2
                                                   : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
      (c == 0xF4 && c1 >= 0x90)) {
    return 0;
  }
  return len;
}

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void AddNameField(nlohmann::json* object, const std::string& key, const std::string& name) {
  (*object)[key] = name;
  if (IsValidUtf8(name)) return;
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : name) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  (*object)[key + "_hex"] = hex;
}

std::string ReadNameField(const nlohmann::json& object, const std::string& key) {
  const auto hex = object.find(key + "_hex");
  if (hex != object.end() && hex->is_string()) {
    const std::string& h = hex->get_ref<const std::string&>();
    std::string out;
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
      out.push_back(static_cast<char>(nibble(h[i]) * 16 + nibble(h[i + 1])));
    return out;
  }
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double JsonNumber(const nlohmann::json& j, const std::string& pointer, const std::string& where,
                  const NumberRange& range, const double* fallback) {
  const std::string expected = range.Text();
  const double v = JsonField<double>(j, pointer, where, expected.c_str(), fallback);
  if (const std::string problem = range.Problem(v); !problem.empty()) {
    throw Error(where + ": " + pointer + " " + problem);
  }
  return v;
}

}  // namespace oodscore
