// The score CSV: what `oodscore score` writes and `oodscore metrics` reads.
//
//   set,path,label,pred,energy,msp,maxlogit[,extra score columns...]
//
// RFC 4180 quoting; label and pred may be empty; scores are written in the shortest form
// that reads back to the same double, so metrics from a file equal metrics in memory.
#ifndef OODSCORE_SCORE_TABLE_H_
#define OODSCORE_SCORE_TABLE_H_

#include <cstdio>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace oodscore {

// The four leading columns every score file has.
extern const char* const kScoreKeyColumns[4];  // "set", "path", "label", "pred"

struct ScoreRow {
  std::string set, path, label, pred;
  std::vector<double> values;  // aligned with ScoreTable::columns
};

struct ScoreTable {
  std::vector<std::string> columns;  // the score columns, after "pred", in file order
  std::vector<ScoreRow> rows;

  // Index of a score column, or -1.
  int ColumnIndex(const std::string& name) const;
  // Set names in order of first appearance.
  std::vector<std::string> SetNames() const;
  // Raw values of one column for the rows of one set, in row order.
  std::vector<double> Column(const std::string& set, int column) const;
};

// Share of the set's rows whose pred equals their label (compared as integers: "07" equals
// "7"), over the rows that have both; nullopt when none has.
std::optional<double> LabelAccuracy(const ScoreTable& table, const std::string& set);

// Reads and pools score files (shards). Every file must have the same header.
// Throws oodscore::Error naming file, line and column on a missing column, a non-numeric
// or NaN score, or a row with the wrong number of fields.
ScoreTable ReadScoreFiles(const std::vector<std::filesystem::path>& files);

// Parses one score CSV from a stream; `source` names it in messages.
ScoreTable ParseScoreCsv(std::istream& in, const std::string& source);

// Reads a plain column of scores (one number per line; blank lines and lines starting with
// '#' are skipped; a header line that is not a number is allowed on line 1 only).
std::vector<double> ReadScoreColumn(const std::filesystem::path& file);

// Writes a score CSV row by row. Rows reach the file at each Flush(), so a run that dies
// keeps what it flushed. The file (and missing parent folders) is created at the first
// Flush(): a run that fails before it leaves no header-only file. "-" writes to stdout.
class ScoreWriter {
 public:
  // append: add rows to an existing file that already has this header (score --resume).
  ScoreWriter(const std::string& path, const std::vector<std::string>& columns,
              bool append = false);
  ~ScoreWriter();
  ScoreWriter(const ScoreWriter&) = delete;
  ScoreWriter& operator=(const ScoreWriter&) = delete;

  void Write(const ScoreRow& row);
  // Throws oodscore::Error on a write failure (disk full), after cutting a regular file back
  // to its last complete row; nothing more is written after that.
  void Flush();
  void Close();

 private:
  void Open();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  bool closed_ = false;
  bool append_ = false;
  bool regular_ = false;          // a regular file: can be cut back after a failed write
  std::size_t written_ = 0;       // bytes of complete rows in the file
  std::size_t rows_buffered_ = 0, rows_written_ = 0;
  std::string buffer_;
  std::size_t n_columns_;
};

}  // namespace oodscore

#endif  // OODSCORE_SCORE_TABLE_H_
