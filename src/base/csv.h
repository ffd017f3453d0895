// Writing RFC 4180 CSV: quoted fields may hold commas, quotes ("" escapes) and line breaks.
// (Score files are read by ReadScoreFiles, oodscore/score_table.h.)
#ifndef OODSCORE_SRC_BASE_CSV_H_
#define OODSCORE_SRC_BASE_CSV_H_

#include <string>
#include <string_view>
#include <vector>

namespace oodscore {

// Appends one field, quoted only when it holds a comma, quote, CR or LF (or leading/trailing
// space, so that spreadsheets keep it).
void AppendCsvField(std::string_view field, std::string* out);

// Appends fields joined by commas plus "\n".
void AppendCsvRecord(const std::vector<std::string>& fields, std::string* out);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_CSV_H_
