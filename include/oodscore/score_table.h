// The score CSV: what `oodscore score` writes and `oodscore metrics` reads.
//
//   set,path,label,pred,energy,msp,maxlogit[,extra score columns...]
//
// RFC 4180 quoting; label and pred may be empty; scores are written in the shortest form
// that reads back to the same double, so metrics from a file equal metrics in memory.
#ifndef OODSCORE_SCORE_TABLE_H_
#define OODSCORE_SCORE_TABLE_H_

#include <climits>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oodscore {

// The four leading columns every score file has.
extern const char* const kScoreKeyColumns[4];  // "set", "path", "label", "pred"

// One row as text and numbers: what ScoreWriter writes, and ScoreTable::Row() gives back.
struct ScoreRow {
  std::string set, path, label, pred;
  std::vector<double> values;  // aligned with ScoreTable::columns
};

// A score file in memory, by column: a few bytes a row, no string per row. Labels and
// predictions are class codes: a class index (digits, compared as integers: "07" is 7), an
// interned class name, or none (an empty field).
class ScoreTable {
 public:
  static constexpr std::int32_t kNoClass = INT32_MIN;

  std::vector<std::string> columns;  // the score columns, after "pred", in file order

  std::size_t size() const { return set_of_.size(); }
  // Index of a score column, or -1.
  int ColumnIndex(const std::string& name) const;
  // Set names in order of first appearance.
  const std::vector<std::string>& SetNames() const { return sets_; }
  // Raw values of one column for the rows of one set, in row order.
  std::vector<double> Column(const std::string& set, int column) const;
  // The rows of any of `sets`, in row order (none for a name the table lacks).
  std::vector<std::size_t> RowsOf(const std::vector<std::string>& sets) const;
  // All of one column, in row order.
  const std::vector<double>& values(int column) const { return values_[column]; }
  const std::string& set(std::size_t row) const { return sets_[set_of_[row]]; }
  std::int32_t label(std::size_t row) const { return label_[row]; }
  std::int32_t pred(std::size_t row) const { return pred_[row]; }
  // The path; "" unless the table keeps paths (built in memory, or read with keep_paths).
  std::string_view path(std::size_t row) const;
  bool keeps_paths() const { return keep_paths_; }
  // A digest of the set's sample paths that does not depend on their order: the sum of each
  // row's 64-bit path hash, as 16 hex digits. Two runs over the same files under the same
  // paths share it, however they were listed or sharded; "" for a set the table lacks.
  std::string SamplesDigest(const std::string& set) const;
  // A class code as text ("" for none).
  std::string ClassText(std::int32_t code) const;
  // The same, with class index i shown as names[i] when names has a non-empty one (the
  // folder names of a labelled set).
  std::string ClassName(std::int32_t code, const std::vector<std::string>& names) const;
  ScoreRow Row(std::size_t row) const;

  // Appends a row (values aligned with columns; with paths kept, path is stored).
  void AddRow(std::string_view set, std::string_view path, std::string_view label,
              std::string_view pred, const double* values);
  // Appends every row of `other`, which must have the same columns.
  void Append(const ScoreTable& other);
  void KeepPaths(bool keep) { keep_paths_ = keep; }
  void Reserve(std::size_t rows);

 private:
  std::uint32_t SetIndex(std::string_view name);
  std::int32_t ClassCode(std::string_view text);

  std::vector<std::string> sets_;
  std::vector<std::uint32_t> set_of_;
  std::vector<std::uint64_t> samples_digest_;  // per set: the sum of its rows' PathHash
  std::vector<std::vector<double>> values_;    // [column][row]
  std::vector<std::int32_t> label_, pred_;
  std::vector<std::string> class_names_;  // code -1 - i is class_names_[i]
  bool keep_paths_ = true;
  std::string path_bytes_;
  std::vector<std::size_t> path_end_;  // path r is path_bytes_[path_end_[r-1], path_end_[r])
};

// Share of the sets' rows whose pred equals their label, over the rows that have both;
// nullopt when none has.
std::optional<double> LabelAccuracy(const ScoreTable& table, const std::vector<std::string>& sets);

// The largest class index among the set's labels and predictions, plus one (0 when none).
long ClassCount(const ScoreTable& table, const std::string& set);

struct ScoreReadOptions {
  bool keep_paths = false;      // paths cost memory; only resume needs them
  int threads = 0;              // parse threads for large files; 0 = the number of cores
  std::size_t block_bytes = 0;  // bytes read at a time; 0 = 32 MiB (tests use tiny blocks)
};

// Reads and pools score files (shards), in the order given. Every file must have the same
// header. Reads in large blocks, parsing them on several threads; RFC 4180 quoting (fields
// with commas, quotes, line breaks), LF or CRLF, a UTF-8 byte order mark. Throws
// oodscore::Error naming file, line and column on a missing column, a non-numeric or NaN
// score, or a row with the wrong number of fields.
ScoreTable ReadScoreFiles(const std::vector<std::filesystem::path>& files,
                          const ScoreReadOptions& options = {});

// Reads one more score file into *table, whose columns it sets when the table has none, and
// must match otherwise (an empty table also takes options.keep_paths). Throws like
// ReadScoreFiles.
void AppendScoreFile(const std::filesystem::path& file, const ScoreReadOptions& options,
                     ScoreTable* table);

// Parses one score CSV held in memory; `source` names it in messages.
ScoreTable ParseScoreCsv(std::string_view text, const std::string& source,
                         const ScoreReadOptions& options = {});

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
  // Called at each Flush() with the bytes that reached the file (after they did): what a
  // run's stamp hashes to prove the file is the one it wrote.
  void OnFlushed(std::function<void(std::string_view bytes)> f) { on_flushed_ = std::move(f); }

 private:
  void Open();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  bool closed_ = false;
  bool append_ = false;
  bool regular_ = false;     // a regular file: can be cut back after a failed write
  std::size_t written_ = 0;  // bytes of complete rows in the file
  std::size_t rows_buffered_ = 0, rows_written_ = 0;
  std::string buffer_;
  std::size_t n_columns_;
  std::function<void(std::string_view)> on_flushed_;
};

}  // namespace oodscore

#endif  // OODSCORE_SCORE_TABLE_H_
