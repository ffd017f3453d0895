// ReadScoreFiles: score CSVs into a columnar ScoreTable at memory speed.
//
// A file is read in large blocks. A block without any '"' is cut at line breaks into one
// piece per thread, and the pieces are parsed in parallel into small tables that are then
// appended in order; a block with a quote (a path holding a comma, a quote or a line break)
// is parsed on one thread, since a line break there may lie inside a field. Numbers are parsed
// with std::from_chars (ParseDouble); set names and class names are interned; paths are kept
// only when asked for.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>

#include "base/format.h"
#include "oodscore/error.h"
#include "oodscore/score_table.h"

namespace oodscore {

namespace {

constexpr std::size_t kBlockBytes = 32u << 20;
constexpr std::size_t kParallelBytes = 1u << 20;  // smaller blocks are parsed on one thread

// A parse failure inside a piece: `line` counts line breaks from the piece's start.
struct ParseFailure {
  std::size_t line = 0;
  std::string what;  // the message after "'file' line N"
};

// Bytes that end an unquoted field.
struct Delimiters {
  bool table[256] = {};
  constexpr Delimiters() {
    table[static_cast<unsigned char>(',')] = true;
    table[static_cast<unsigned char>('\n')] = true;
    table[static_cast<unsigned char>('\r')] = true;
  }
};
constexpr Delimiters kDelimiters;

class RecordParser {
 public:
  explicit RecordParser(std::size_t n_fields) { fields_.reserve(n_fields); }

  // Parses one record at p. Returns the byte after its line end (LF, CRLF or CR), or
  // nullptr when the record runs past `end` and more input may follow (!at_eof). Counts the
  // line breaks it consumes in *lines. Throws ParseFailure on bad quoting.
  const char* Next(const char* p, const char* end, bool at_eof, std::size_t* lines) {
    fields_.clear();
    scratch_.clear();
    std::size_t local_lines = 0;
    for (;;) {
      Field f;
      if (p < end && *p == '"') {
        // Quoted: "" is a quote; commas and line breaks are text.
        f.quoted = true;
        f.begin = scratch_.size();
        ++p;
        for (;;) {
          if (p == end) {
            if (!at_eof) return nullptr;
            throw ParseFailure{0, ": unterminated quoted field (expected a closing '\"')"};
          }
          const char c = *p++;
          if (c == '"') {
            if (p < end && *p == '"') {
              scratch_.push_back('"');
              ++p;
              continue;
            }
            if (p == end && !at_eof) return nullptr;  // may be the first of a "" pair
            break;
          }
          if (c == '\n') ++local_lines;
          scratch_.push_back(c);
        }
        f.size = scratch_.size() - f.begin;
        if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
          throw ParseFailure{local_lines, ": unexpected character '" + std::string(1, *p) +
                                              "' after a closing quote"};
        }
      } else {
        const char* b = p;
        while (p < end && !kDelimiters.table[static_cast<unsigned char>(*p)]) ++p;
        f.text = b;
        f.size = static_cast<std::size_t>(p - b);
      }
      fields_.push_back(f);
      if (p == end) {
        if (!at_eof) return nullptr;
        break;
      }
      const char c = *p++;
      if (c == ',') continue;
      if (c == '\r') {
        if (p == end && !at_eof) return nullptr;  // maybe CRLF split by the block's end
        if (p < end && *p == '\n') ++p;
      }
      ++local_lines;
      break;
    }
    *lines += local_lines;
    return p;
  }

  std::size_t size() const { return fields_.size(); }
  std::string_view field(std::size_t i) const {
    const Field& f = fields_[i];
    return f.quoted ? std::string_view(scratch_).substr(f.begin, f.size)
                    : std::string_view(f.text, f.size);
  }

 private:
  struct Field {
    bool quoted = false;
    const char* text = nullptr;
    std::size_t begin = 0, size = 0;
  };
  std::vector<Field> fields_;
  std::string scratch_;
};

// Parses the records in [p, end) into table. Stops at a record that runs past end (when
// !at_eof) and returns where it starts. *lines counts line breaks consumed.
const char* ParseRecords(const char* p, const char* end, bool at_eof, ScoreTable* table,
                         std::size_t* lines) {
  const std::size_t n_columns = table->columns.size();
  RecordParser parser(n_columns + 4);
  std::vector<double> values(n_columns);
  while (p < end) {
    const std::size_t line_before = *lines;
    const char* next = nullptr;
    try {
      next = parser.Next(p, end, at_eof, lines);
    } catch (ParseFailure& f) {
      f.line += line_before;
      throw;
    }
    if (next == nullptr) return p;
    if (parser.size() == 1 && parser.field(0).empty()) {  // blank line
      p = next;
      continue;
    }
    if (parser.size() != n_columns + 4) {
      throw ParseFailure{line_before, ": expected " + std::to_string(n_columns + 4) +
                                          " fields, got " + std::to_string(parser.size())};
    }
    for (std::size_t c = 0; c < n_columns; ++c) {
      const std::string_view text = parser.field(c + 4);
      const auto v = ParseDouble(text);
      if (!v || std::isnan(*v)) {
        throw ParseFailure{line_before,
                           " column '" + table->columns[c] + "': " +
                               (text.empty() ? std::string("empty score")
                                             : (v ? std::string("score is NaN")
                                                  : "not a number: '" + std::string(text) + "'"))};
      }
      values[c] = *v;
    }
    table->AddRow(parser.field(0), parser.field(1), parser.field(2), parser.field(3),
                  values.data());
    p = next;
  }
  return p;
}

// Where a score file's bytes come from: a file, read block by block, or text in memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Appends up to `bytes` more bytes to *buffer. Returns false at the end.
  virtual bool Read(std::string* buffer, std::size_t bytes) = 0;
  virtual std::size_t size() const = 0;  // 0 when unknown
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      throw Error("cannot open score file '" + path.string() + "': " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) size_ = static_cast<std::size_t>(st.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  bool Read(std::string* buffer, std::size_t bytes) override {
    const std::size_t old = buffer->size();
    buffer->resize(old + bytes);
    std::size_t got = 0;
    while (got < bytes) {
      const ssize_t n = ::read(fd_, buffer->data() + old + got, bytes - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        buffer->resize(old);
        throw Error("cannot read score file '" + path_.string() + "': " + std::strerror(errno));
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    buffer->resize(old + got);
    return got > 0;
  }
  std::size_t size() const override { return size_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::size_t size_ = 0;
};

class TextSource : public ByteSource {
 public:
  explicit TextSource(std::string_view text) : text_(text) {}
  bool Read(std::string* buffer, std::size_t bytes) override {
    const std::size_t n = std::min(bytes, text_.size() - pos_);
    buffer->append(text_.substr(pos_, n));
    pos_ += n;
    return n > 0;
  }
  std::size_t size() const override { return text_.size(); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// Reads the header record into *columns and moves *pos past it. Returns false when the
// header runs past the text read so far (and more may follow).
bool ParseHeader(const std::string& text, bool at_eof, std::size_t* pos, std::size_t* lines,
                 const std::string& source, std::vector<std::string>* columns) {
  RecordParser parser(16);
  const char* begin = text.data() + *pos;
  const char* next = nullptr;
  try {
    next = parser.Next(begin, text.data() + text.size(), at_eof, lines);
  } catch (const ParseFailure& f) {
    throw Error("'" + source + "' line 1" + f.what);
  }
  if (next == nullptr) return false;
  for (int i = 0; i < 4; ++i) {
    if (parser.size() <= static_cast<std::size_t>(i) || parser.field(i) != kScoreKeyColumns[i]) {
      throw Error("'" + source + "' line 1: header must start with set,path,label,pred (got '" +
                  std::string(parser.size() > static_cast<std::size_t>(i) ? parser.field(i) : "") +
                  "' as column " + std::to_string(i + 1) +
                  "); another tool's scores go in as plain columns (metrics --id-file/--ood-file), "
                  "and its logits as a .npy [N, K] (eval --id NAME=logits.npy)");
    }
  }
  for (std::size_t i = 4; i < parser.size(); ++i) columns->emplace_back(parser.field(i));
  if (columns->empty()) throw Error("'" + source + "' line 1: no score columns after 'pred'");
  *pos = static_cast<std::size_t>(next - text.data());
  return true;
}

// Parses [begin, end), which starts and ends at record boundaries and holds no quote, on
// up to `threads` threads, appending to *table in order.
void ParseParallel(const char* begin, const char* end, bool at_eof, int threads, ScoreTable* table,
                   std::size_t* line, const std::string& source) {
  std::vector<const char*> cuts = {begin};
  const std::size_t step = static_cast<std::size_t>(end - begin) / threads;
  for (int t = 1; t < threads; ++t) {
    const char* c = std::max(cuts.back(), begin + step * t);
    const char* nl =
        static_cast<const char*>(std::memchr(c, '\n', static_cast<std::size_t>(end - c)));
    if (nl == nullptr) break;
    cuts.push_back(nl + 1);
  }
  cuts.push_back(end);
  const std::size_t pieces = cuts.size() - 1;
  std::vector<ScoreTable> parts(pieces);
  std::vector<std::size_t> lines(pieces, 0);
  std::vector<std::optional<ParseFailure>> failures(pieces);
  std::vector<std::exception_ptr> errors(pieces);  // bad_alloc: rethrown here
  auto run = [&](std::size_t i) {
    parts[i].columns = table->columns;
    parts[i].KeepPaths(table->keeps_paths());
    try {
      ParseRecords(cuts[i], cuts[i + 1], at_eof && i + 1 == pieces, &parts[i], &lines[i]);
    } catch (const ParseFailure& f) {
      failures[i] = f;
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < pieces; ++i) workers.emplace_back(run, i);
  run(0);
  for (auto& w : workers) w.join();
  for (std::size_t i = 0; i < pieces; ++i) {
    if (errors[i]) std::rethrow_exception(errors[i]);
    if (failures[i])
      throw Error("'" + source + "' line " + std::to_string(*line + failures[i]->line) +
                  failures[i]->what);
    table->Append(parts[i]);
    *line += lines[i];
  }
}

void ReadOne(ByteSource& file, const std::string& source, const ScoreReadOptions& options,
             ScoreTable* table, bool first) {
  std::string buffer;
  const std::size_t first_block = options.block_bytes > 0 ? options.block_bytes : kBlockBytes;
  bool more = file.Read(&buffer, first_block);
  if (buffer.empty()) throw Error("'" + source + "' is empty (expected a header)");
  std::size_t pos = 0;
  if (buffer.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;  // UTF-8 byte order mark
  std::size_t line = 1;                                    // the line the next record starts on
  std::size_t header_lines = 0;
  std::vector<std::string> columns;
  while (!ParseHeader(buffer, !more, &pos, &header_lines, source, &columns)) {
    more = file.Read(&buffer, first_block);
  }
  line += header_lines;
  if (first) {
    table->columns = columns;
  } else if (columns != table->columns) {
    throw Error("'" + source + "' line 1: header differs from the first score file's");
  }
  ScoreTable& part = *table;
  const int threads =
      std::max(1, options.threads > 0 ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency()));
  bool reserved = false;
  std::size_t block = options.block_bytes > 0 ? options.block_bytes : kBlockBytes;
  const std::size_t parallel_bytes = std::min(kParallelBytes, block / 4);
  for (;;) {
    const char* begin = buffer.data() + pos;
    const char* end = buffer.data() + buffer.size();
    const bool at_eof = !more;
    // Whole records only: up to the last line break, unless this is the end of the file.
    const char* cut = end;
    if (!at_eof) {
      const char* nl =
          static_cast<const char*>(::memrchr(begin, '\n', static_cast<std::size_t>(end - begin)));
      cut = nl == nullptr ? begin : nl + 1;
    }
    if (!reserved && file.size() > 0 && cut > begin) {
      // Rows ahead, from this block's bytes per row, so that columns do not grow by copying.
      std::size_t sample_rows = 0;
      const char* sample_end = begin;
      for (const char* p = begin; p < cut && sample_rows < 4096; ++p) {
        if (*p == '\n') {
          ++sample_rows;
          sample_end = p + 1;
        }
      }
      if (sample_rows > 0) {
        const double per_row = static_cast<double>(sample_end - begin) / sample_rows;
        part.Reserve(part.size() + static_cast<std::size_t>(file.size() / per_row * 1.02) + 16);
      }
      reserved = true;
    }
    const char* stop = cut;
    if (cut > begin) {
      const bool quotes = std::memchr(begin, '"', static_cast<std::size_t>(cut - begin)) != nullptr;
      if (!quotes && threads > 1 && static_cast<std::size_t>(cut - begin) >= parallel_bytes) {
        ParseParallel(begin, cut, at_eof, threads, &part, &line, source);
      } else {
        // On one thread, over everything read: a quoted field may hold line breaks, so the
        // last whole record is found by parsing.
        std::size_t lines = 0;
        try {
          stop = ParseRecords(begin, end, at_eof, &part, &lines);
        } catch (const ParseFailure& f) {
          throw Error("'" + source + "' line " + std::to_string(line + f.line) + f.what);
        }
        line += lines;
      }
    }
    if (at_eof) break;
    buffer.erase(0, static_cast<std::size_t>(stop - buffer.data()));
    pos = 0;
    // A record longer than a block: read more before parsing again.
    if (buffer.size() >= block / 2) block *= 2;
    more = file.Read(&buffer, block);
  }
}

}  // namespace

ScoreTable ReadScoreFiles(const std::vector<std::filesystem::path>& files,
                          const ScoreReadOptions& options) {
  ScoreTable table;
  table.KeepPaths(options.keep_paths);
  for (const auto& f : files) AppendScoreFile(f, options, &table);
  return table;
}

void AppendScoreFile(const std::filesystem::path& path, const ScoreReadOptions& options,
                     ScoreTable* table) {
  FileSource file(path);
  if (table->size() == 0) table->KeepPaths(options.keep_paths);
  ReadOne(file, path.string(), options, table, table->columns.empty());
}

ScoreTable ParseScoreCsv(std::string_view text, const std::string& source,
                         const ScoreReadOptions& options) {
  ScoreTable table;
  table.KeepPaths(options.keep_paths);
  TextSource bytes(text);
  ReadOne(bytes, source, options, &table, true);
  return table;
}

}  // namespace oodscore
