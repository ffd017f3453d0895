#include "oodscore/csv.h"

#include "oodscore/error.h"

namespace oodscore {

bool CsvReader::Next(std::vector<std::string>* fields) {
  fields->clear();
  if (first_) {
    first_ = false;
    // Skip a UTF-8 byte order mark.
    if (in_.peek() == 0xEF) {
      char bom[3];
      in_.read(bom, 3);
      if (!(in_.gcount() == 3 && bom[1] == '\xBB' && bom[2] == '\xBF')) {
        in_.clear();
        in_.seekg(0);
      }
    }
  }
  int c = in_.get();
  if (c == EOF) return false;
  record_line_ = line_;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // this field started with a quote and it has closed
  for (;; c = in_.get()) {
    if (quoted) {
      if (c == EOF) {
        throw Error("line " + std::to_string(record_line_) +
                    ": unterminated quoted field (expected a closing '\"')");
      }
      if (c == '"') {
        if (in_.peek() == '"') {
          in_.get();
          field.push_back('"');
        } else {
          quoted = false;
          was_quoted = true;
        }
        continue;
      }
      if (c == '\n') ++line_;
      field.push_back(static_cast<char>(c));
      continue;
    }
    if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
      was_quoted = false;
      continue;
    }
    if (c == EOF || c == '\n' || c == '\r') {
      if (c == '\r' && in_.peek() == '\n') in_.get();
      if (c != EOF) ++line_;
      fields->push_back(std::move(field));
      return true;
    }
    if (was_quoted) {
      throw Error("line " + std::to_string(line_) + ": unexpected character '" +
                  std::string(1, static_cast<char>(c)) + "' after a closing quote");
    }
    if (c == '"' && field.empty()) {
      quoted = true;
      continue;
    }
    field.push_back(static_cast<char>(c));
  }
}

void AppendCsvField(std::string_view field, std::string* out) {
  bool needs_quotes = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                      (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!needs_quotes) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char ch : field) {
    if (ch == '"') out->push_back('"');
    out->push_back(ch);
  }
  out->push_back('"');
}

void AppendCsvRecord(const std::vector<std::string>& fields, std::string* out) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out->push_back(',');
    AppendCsvField(fields[i], out);
  }
  out->push_back('\n');
}

}  // namespace oodscore
