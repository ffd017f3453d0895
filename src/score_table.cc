#include "oodscore/score_table.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "oodscore/csv.h"
#include "oodscore/error.h"
#include "oodscore/format.h"

namespace oodscore {

const char* const kScoreKeyColumns[4] = {"set", "path", "label", "pred"};

int ScoreTable::ColumnIndex(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> ScoreTable::SetNames() const {
  std::vector<std::string> names;
  for (const ScoreRow& row : rows) {
    if (names.empty() || names.back() != row.set) {
      bool seen = false;
      for (const auto& n : names) seen = seen || n == row.set;
      if (!seen) names.push_back(row.set);
    }
  }
  return names;
}

std::vector<double> ScoreTable::Column(const std::string& set, int column) const {
  if (column < 0 || column >= static_cast<int>(columns.size())) {
    throw Error("internal error: score column " + std::to_string(column) + " does not exist");
  }
  std::vector<double> out;
  for (const ScoreRow& row : rows) {
    if (row.set == set) out.push_back(row.values[column]);
  }
  return out;
}

namespace {

// Class indices compare as integers: "007" and "7" are the same class.
std::string_view WithoutLeadingZeros(std::string_view s) {
  const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits) return s;
  const std::size_t nz = s.find_first_not_of('0');
  return nz == std::string_view::npos ? s.substr(s.size() - 1) : s.substr(nz);
}

}  // namespace

std::optional<double> LabelAccuracy(const ScoreTable& table, const std::string& set) {
  std::size_t labelled = 0, correct = 0;
  for (const auto& row : table.rows) {
    if (row.set != set || row.label.empty() || row.pred.empty()) continue;
    ++labelled;
    correct += WithoutLeadingZeros(row.label) == WithoutLeadingZeros(row.pred);
  }
  if (labelled == 0) return std::nullopt;
  return static_cast<double>(correct) / labelled;
}

namespace {

std::string Where(const std::filesystem::path& file, std::size_t line) {
  return "'" + file.string() + "' line " + std::to_string(line);
}

void ReadOneStream(std::istream& in, const std::filesystem::path& file, ScoreTable* table,
                   bool first) {
  CsvReader reader(in);
  std::vector<std::string> fields;
  try {
    if (!reader.Next(&fields)) throw Error("'" + file.string() + "' is empty (expected a header)");
    for (int i = 0; i < 4; ++i) {
      if (static_cast<int>(fields.size()) <= i || fields[i] != kScoreKeyColumns[i]) {
        throw Error(Where(file, 1) + ": header must start with set,path,label,pred (got '" +
                    (static_cast<int>(fields.size()) > i ? fields[i] : std::string()) +
                    "' as column " + std::to_string(i + 1) + ")");
      }
    }
    std::vector<std::string> columns(fields.begin() + 4, fields.end());
    if (columns.empty()) throw Error(Where(file, 1) + ": no score columns after 'pred'");
    if (first) {
      table->columns = columns;
    } else if (columns != table->columns) {
      throw Error(Where(file, 1) + ": header differs from the first score file's");
    }
    while (reader.Next(&fields)) {
      if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
      if (fields.size() != columns.size() + 4) {
        throw Error(Where(file, reader.line()) + ": expected " +
                    std::to_string(columns.size() + 4) + " fields, got " +
                    std::to_string(fields.size()));
      }
      ScoreRow row{std::move(fields[0]),
                   std::move(fields[1]),
                   std::move(fields[2]),
                   std::move(fields[3]),
                   {}};
      row.values.reserve(columns.size());
      for (std::size_t c = 0; c < columns.size(); ++c) {
        const std::string& text = fields[c + 4];
        auto v = ParseDouble(text);
        if (!v || std::isnan(*v)) {
          throw Error(Where(file, reader.line()) + " column '" + columns[c] + "': " +
                      (text.empty()
                           ? std::string("empty score")
                           : (v ? std::string("score is NaN") : "not a number: '" + text + "'")));
        }
        row.values.push_back(*v);
      }
      table->rows.push_back(std::move(row));
    }
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("line ", 0) == 0) msg = "'" + file.string() + "' " + msg;  // from CsvReader
    throw Error(msg);
  }
}

}  // namespace

ScoreTable ReadScoreFiles(const std::vector<std::filesystem::path>& files) {
  ScoreTable table;
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::ifstream in(files[i], std::ios::binary);
    if (!in) {
      throw Error("cannot open score file '" + files[i].string() + "': " + std::strerror(errno));
    }
    ReadOneStream(in, files[i], &table, i == 0);
  }
  return table;
}

ScoreTable ParseScoreCsv(std::istream& in, const std::string& source) {
  ScoreTable table;
  ReadOneStream(in, source, &table, true);
  return table;
}

std::vector<double> ReadScoreColumn(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot open score file '" + file.string() + "': " + std::strerror(errno));
  std::vector<double> out;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    std::size_t e = line.find_last_not_of(" \t");
    std::string_view text(line.data() + b, e - b + 1);
    auto v = ParseDouble(text);
    if (!v) {
      if (n == 1) continue;  // header
      throw Error(Where(file, n) + ": not a number: '" + std::string(text) + "'");
    }
    if (std::isnan(*v)) throw Error(Where(file, n) + ": score is NaN");
    out.push_back(*v);
  }
  return out;
}

ScoreWriter::ScoreWriter(const std::string& path, const std::vector<std::string>& columns,
                         bool append)
    : path_(path), append_(append), n_columns_(columns.size()) {
  if (append) return;
  std::vector<std::string> header(std::begin(kScoreKeyColumns), std::end(kScoreKeyColumns));
  header.insert(header.end(), columns.begin(), columns.end());
  AppendCsvRecord(header, &buffer_);
}

ScoreWriter::~ScoreWriter() {
  if (!file_) return;  // never flushed: leave no file behind
  try {
    Close();
  } catch (...) {
  }
}

void ScoreWriter::Open() {
  if (file_ || closed_) return;
  if (path_ == "-") {
    file_ = stdout;
    return;
  }
  const std::filesystem::path p(path_);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) throw Error("cannot create folder '" + p.parent_path().string() + "': " + ec.message());
  file_ = std::fopen(path_.c_str(), append_ ? "ab" : "wb");
  if (!file_) throw Error("cannot write '" + path_ + "': " + std::strerror(errno));
  owned_ = true;
  struct stat st;
  if (append_ && ::fstat(::fileno(file_), &st) == 0) written_ = static_cast<std::size_t>(st.st_size);
  // Unbuffered: this class buffers whole rows itself, so a failed write can be cut back to
  // the last complete row.
  std::setvbuf(file_, nullptr, _IONBF, 0);
  regular_ = ::fstat(::fileno(file_), &st) == 0 && S_ISREG(st.st_mode);
}

void ScoreWriter::Write(const ScoreRow& row) {
  AppendCsvField(row.set, &buffer_);
  buffer_.push_back(',');
  AppendCsvField(row.path, &buffer_);
  buffer_.push_back(',');
  AppendCsvField(row.label, &buffer_);
  buffer_.push_back(',');
  AppendCsvField(row.pred, &buffer_);
  for (double v : row.values) {
    buffer_.push_back(',');
    buffer_ += FormatDouble(v);
  }
  buffer_.push_back('\n');
  ++rows_buffered_;
}

void ScoreWriter::Flush() {
  if (closed_) return;
  Open();
  const bool ok = buffer_.empty() ||
                  std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size();
  if (!ok || std::fflush(file_) != 0) {
    const int err = errno;
    // Disk full halfway through a batch: cut the file back to its last complete row, so
    // that it never ends in half a row, and stop writing.
    if (regular_) {
      const int rc = ::ftruncate(::fileno(file_), static_cast<off_t>(written_));
      (void)rc;
    }
    closed_ = true;
    if (owned_) std::fclose(file_);
    file_ = nullptr;
    throw Error("writing '" + path_ + "' failed: " + std::strerror(err) + " (the file keeps its " +
                "first " + std::to_string(rows_written_) + " complete rows)");
  }
  written_ += buffer_.size();
  rows_written_ = rows_buffered_;
  buffer_.clear();
}

void ScoreWriter::Close() {
  if (closed_) return;
  Flush();
  closed_ = true;
  std::FILE* f = file_;
  file_ = nullptr;
  if (owned_ && std::fclose(f) != 0) {
    throw Error("closing '" + path_ + "' failed: " + std::strerror(errno));
  }
}

}  // namespace oodscore
