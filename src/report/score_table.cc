#include "oodscore/score_table.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "base/csv.h"
#include "base/format.h"
#include "oodscore/error.h"

namespace oodscore {

const char* const kScoreKeyColumns[4] = {"set", "path", "label", "pred"};

int ScoreTable::ColumnIndex(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::size_t> ScoreTable::RowsOf(const std::vector<std::string>& sets) const {
  std::vector<bool> wanted(sets_.size(), false);
  for (std::size_t s = 0; s < sets_.size(); ++s) {
    wanted[s] = std::find(sets.begin(), sets.end(), sets_[s]) != sets.end();
  }
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < set_of_.size(); ++r) {
    if (wanted[set_of_[r]]) rows.push_back(r);
  }
  return rows;
}

std::vector<double> ScoreTable::Column(const std::string& set, int column) const {
  if (column < 0 || column >= static_cast<int>(columns.size())) {
    throw Error("internal error: score column " + std::to_string(column) + " does not exist");
  }
  std::vector<double> out;
  const auto it = std::find(sets_.begin(), sets_.end(), set);
  if (it == sets_.end() || values_.empty()) return out;
  const auto s = static_cast<std::uint32_t>(it - sets_.begin());
  const std::vector<double>& v = values_[column];
  for (std::size_t r = 0; r < v.size(); ++r) {
    if (set_of_[r] == s) out.push_back(v[r]);
  }
  return out;
}

std::string_view ScoreTable::path(std::size_t row) const {
  if (path_end_.empty()) return {};
  const std::size_t b = row == 0 ? 0 : path_end_[row - 1];
  return std::string_view(path_bytes_).substr(b, path_end_[row] - b);
}

std::string ScoreTable::ClassText(std::int32_t code) const {
  if (code == kNoClass) return "";
  if (code >= 0) return std::to_string(code);
  return class_names_[static_cast<std::size_t>(-1 - code)];
}

std::string ScoreTable::ClassName(std::int32_t code, const std::vector<std::string>& names) const {
  if (code >= 0 && static_cast<std::size_t>(code) < names.size() && !names[code].empty()) {
    return names[code];
  }
  return ClassText(code);
}

ScoreRow ScoreTable::Row(std::size_t row) const {
  ScoreRow r{set(row), std::string(path(row)), ClassText(label_[row]), ClassText(pred_[row]), {}};
  for (const auto& v : values_) r.values.push_back(v[row]);
  return r;
}

namespace {

// A 64-bit hash of a path, 8 bytes a step (a row's cost must stay small beside its parse):
// multiply-xorshift rounds and a murmur3 finaliser. Not cryptographic: it tells a resampled
// set from the baseline's, it does not defend against forgery. Words are read in the
// machine's byte order, so digests compare between little-endian machines (x86-64, arm64).
std::uint64_t PathHash(std::string_view path) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ path.size();
  std::size_t i = 0;
  for (; i + 8 <= path.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, path.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  std::uint64_t tail = 0;
  if (i < path.size()) std::memcpy(&tail, path.data() + i, path.size() - i);
  h = (h ^ tail) * 0x94D049BB133111EBull;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

}  // namespace

std::string ScoreTable::SamplesDigest(const std::string& set) const {
  for (std::size_t i = 0; i < sets_.size(); ++i) {
    if (sets_[i] != set) continue;
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(samples_digest_[i]));
    return buf;
  }
  return "";
}

std::uint32_t ScoreTable::SetIndex(std::string_view name) {
  if (!set_of_.empty() && sets_[set_of_.back()] == name) return set_of_.back();
  for (std::size_t i = 0; i < sets_.size(); ++i) {
    if (sets_[i] == name) return static_cast<std::uint32_t>(i);
  }
  sets_.emplace_back(name);
  samples_digest_.push_back(0);
  return static_cast<std::uint32_t>(sets_.size() - 1);
}

std::int32_t ScoreTable::ClassCode(std::string_view text) {
  if (text.empty()) return kNoClass;
  // Class indices compare as integers: "007" and "7" are the same class. Larger numbers than
  // fit are kept as names.
  const std::size_t digits = text.find_first_not_of('0') == std::string_view::npos
                                 ? 1
                                 : text.size() - text.find_first_not_of('0');
  if (digits <= 9 && text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int32_t v = 0;
    for (char c : text) v = v * 10 + (c - '0');
    return v;
  }
  for (std::size_t i = 0; i < class_names_.size(); ++i) {
    if (class_names_[i] == text) return -1 - static_cast<std::int32_t>(i);
  }
  class_names_.emplace_back(text);
  return -static_cast<std::int32_t>(class_names_.size());
}

void ScoreTable::AddRow(std::string_view set, std::string_view path, std::string_view label,
                        std::string_view pred, const double* values) {
  if (values_.size() != columns.size()) values_.resize(columns.size());
  set_of_.push_back(SetIndex(set));
  samples_digest_[set_of_.back()] += PathHash(path);
  label_.push_back(ClassCode(label));
  pred_.push_back(ClassCode(pred));
  for (std::size_t c = 0; c < columns.size(); ++c) values_[c].push_back(values[c]);
  if (keep_paths_) {
    path_bytes_.append(path);
    path_end_.push_back(path_bytes_.size());
  }
}

void ScoreTable::Append(const ScoreTable& other) {
  if (other.columns != columns) throw Error("internal error: appending a table with other columns");
  if (values_.size() != columns.size()) values_.resize(columns.size());
  if (other.size() == 0) return;
  std::vector<std::uint32_t> set_map;
  for (const auto& name : other.sets_) {
    const auto it = std::find(sets_.begin(), sets_.end(), name);
    set_map.push_back(static_cast<std::uint32_t>(it - sets_.begin()));
    if (it == sets_.end()) {
      sets_.push_back(name);
      samples_digest_.push_back(0);
    }
  }
  for (std::size_t i = 0; i < set_map.size(); ++i) {
    samples_digest_[set_map[i]] += other.samples_digest_[i];
  }
  std::vector<std::int32_t> class_map;
  for (const auto& name : other.class_names_) class_map.push_back(ClassCode(name));
  auto remap = [&](std::int32_t code) {
    return code >= 0 || code == kNoClass ? code : class_map[static_cast<std::size_t>(-1 - code)];
  };
  const std::size_t n = other.size();
  for (std::size_t r = 0; r < n; ++r) {
    set_of_.push_back(set_map[other.set_of_[r]]);
    label_.push_back(remap(other.label_[r]));
    pred_.push_back(remap(other.pred_[r]));
  }
  for (std::size_t c = 0; c < columns.size(); ++c) {
    values_[c].insert(values_[c].end(), other.values_[c].begin(), other.values_[c].end());
  }
  if (keep_paths_) {
    const std::size_t base = path_bytes_.size();
    path_bytes_ += other.path_bytes_;
    for (std::size_t e : other.path_end_) path_end_.push_back(base + e);
    if (other.path_end_.size() != n) path_end_.resize(set_of_.size(), path_bytes_.size());
  }
}

void ScoreTable::Reserve(std::size_t rows) {
  if (values_.size() != columns.size()) values_.resize(columns.size());
  set_of_.reserve(rows);
  label_.reserve(rows);
  pred_.reserve(rows);
  for (auto& v : values_) v.reserve(rows);
  if (keep_paths_) path_end_.reserve(rows);
}

std::optional<double> LabelAccuracy(const ScoreTable& table, const std::vector<std::string>& sets) {
  std::size_t labelled = 0, correct = 0;
  for (std::size_t r = 0; r < table.size(); ++r) {
    const std::int32_t label = table.label(r), pred = table.pred(r);
    if (label == ScoreTable::kNoClass || pred == ScoreTable::kNoClass ||
        std::find(sets.begin(), sets.end(), table.set(r)) == sets.end())
      continue;
    ++labelled;
    correct += label == pred;
  }
  if (labelled == 0) return std::nullopt;
  return static_cast<double>(correct) / labelled;
}

long ClassCount(const ScoreTable& table, const std::string& set) {
  long classes = 0;
  for (std::size_t r = 0; r < table.size(); ++r) {
    if (table.set(r) != set) continue;
    for (std::int32_t code : {table.label(r), table.pred(r)}) {
      if (code >= 0) classes = std::max<long>(classes, code + 1L);
    }
  }
  return classes;
}

namespace {

std::string Where(const std::filesystem::path& file, std::size_t line) {
  return "'" + file.string() + "' line " + std::to_string(line);
}

}  // namespace

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
  if (append_ && ::fstat(::fileno(file_), &st) == 0)
    written_ = static_cast<std::size_t>(st.st_size);
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
  const bool ok =
      buffer_.empty() || std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size();
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
  if (on_flushed_ && !buffer_.empty()) on_flushed_(buffer_);
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
