// RFC 4180 CSV: quoted fields may hold commas, quotes ("" escapes) and line breaks.
#ifndef OODSCORE_CSV_H_
#define OODSCORE_CSV_H_

#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace oodscore {

// Reads records one at a time. Accepts LF and CRLF line ends and a UTF-8 byte order mark.
class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // Reads the next record into *fields. Returns false at end of input. Throws
  // oodscore::Error("line N: ...") on an unterminated quote or text after a closing quote;
  // the caller adds the file name.
  bool Next(std::vector<std::string>* fields);

  // Line (1-based) on which the last record returned by Next() started.
  std::size_t line() const { return record_line_; }

 private:
  std::istream& in_;
  std::size_t line_ = 1;
  std::size_t record_line_ = 0;
  bool first_ = true;
};

// Appends one field, quoted only when it holds a comma, quote, CR or LF (or leading/trailing
// space, so that spreadsheets keep it).
void AppendCsvField(std::string_view field, std::string* out);

// Appends fields joined by commas plus "\n".
void AppendCsvRecord(const std::vector<std::string>& fields, std::string* out);

}  // namespace oodscore

#endif  // OODSCORE_CSV_H_
