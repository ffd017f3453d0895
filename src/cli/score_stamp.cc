#include "cli/score_stamp.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "base/atomic_file.h"
#include "base/json_text.h"
#include "base/sha256.h"
#include "oodscore/error.h"
#include "oodscore/report.h"

namespace oodscore {

namespace {

constexpr const char* kKind = "oodscore-score-stamp";

nlohmann::json InputJson(const StampInput& in) {
  nlohmann::json j = {{"found", in.found}, {"classes", in.classes}};
  AddNameField(&j, "name", in.name);
  if (in.found > 0) {
    AddNameField(&j, "first", in.first);
    AddNameField(&j, "last", in.last);
  }
  return j;
}

nlohmann::json SetJson(const StampSet& s) {
  nlohmann::json j = SetCountsJson(s.counts, s.skipped);
  if (s.first_index) j["first_index"] = *s.first_index;
  if (s.last_index) j["last_index"] = *s.last_index;
  return j;
}

// A name field (AddNameField's "<key>" or "<key>_hex"), checked to be a string.
std::string NameAt(const nlohmann::json& j, const std::string& pointer, const std::string& key,
                   const std::string& where) {
  const std::string empty;
  JsonField<std::string>(j, pointer + "/" + key, where, "a string", &empty);
  JsonField<std::string>(j, pointer + "/" + key + "_hex", where, "a hex string", &empty);
  return ReadNameField(j.at(nlohmann::json::json_pointer(pointer)), key);
}

// An object or null at `pointer` (absent: null).
nlohmann::json ObjectOrNull(const nlohmann::json& j, const std::string& pointer,
                            const std::string& where) {
  const nlohmann::json::json_pointer ptr(pointer);
  if (!j.contains(ptr) || j.at(ptr).is_null()) return nullptr;
  if (!j.at(ptr).is_object()) {
    throw Error(where + ": " + pointer + " must be an object or null, got " +
                DumpJson(j.at(ptr), -1));
  }
  return j.at(ptr);
}

// The array at `pointer`, checked to be one (absent: empty).
const nlohmann::json& ArrayAt(const nlohmann::json& j, const std::string& pointer,
                              const std::string& where) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json::json_pointer ptr(pointer);
  if (!j.contains(ptr)) return kEmpty;
  if (!j.at(ptr).is_array()) {
    throw Error(where + ": " + pointer + " must be an array, got " + DumpJson(j.at(ptr), -1));
  }
  return j.at(ptr);
}

StampSet ReadSet(const nlohmann::json& j, const std::string& p, const std::string& where) {
  StampSet s;
  s.counts.name = NameAt(j, p, "name", where);
  s.counts.found = JsonField<std::size_t>(j, p + "/found", where, "a count");
  s.counts.scored = JsonField<std::size_t>(j, p + "/scored", where, "a count");
  s.counts.skipped = JsonField<std::size_t>(j, p + "/skipped", where, "a count");
  const nlohmann::json& files = ArrayAt(j, p + "/skipped_files", where);
  for (std::size_t k = 0; k < files.size(); ++k) {
    const std::string q = p + "/skipped_files/" + std::to_string(k);
    const std::string none;
    s.skipped.push_back({s.counts.name, NameAt(j, q, "path", where),
                         JsonField<std::string>(j, q + "/reason", where, "a string", &none)});
  }
  if (j.contains(nlohmann::json::json_pointer(p + "/first_index"))) {
    s.first_index = JsonField<std::size_t>(j, p + "/first_index", where, "a sample index");
    s.last_index = JsonField<std::size_t>(j, p + "/last_index", where, "a sample index");
  }
  return s;
}

}  // namespace

nlohmann::json ScoreStamp::ToJson(bool run_only) const {
  nlohmann::json in = nlohmann::json::array();
  for (const auto& i : inputs) in.push_back(InputJson(i));
  nlohmann::json j = {{"kind", kKind},
                      {"tool_version", tool_version},
                      {"model_sha256", model_sha256},
                      {"preset", preset},
                      {"temperatures", temperatures},
                      {"odin", odin},
                      {"fit", fit},
                      {"columns", columns},
                      {"layout", layout},
                      {"batch_size", batch_size},
                      {"max_image_pixels", max_image_pixels},
                      {"card", card},
                      {"inputs", in}};
  if (shard) {
    j["shard"] = {{"index", shard->index},
                  {"count", shard->count},
                  {"begin", shard->begin},
                  {"end", shard->end}};
  }
  if (run_only) return j;
  j["model_path"] = model_path;
  if (!argv.empty()) j["argv"] = argv;
  j["complete"] = complete;
  if (has_digest) {
    j["csv_bytes"] = csv_bytes;
    j["csv_sha256"] = csv_sha256;
  }
  if (has_counts) {
    j["num_classes"] = num_classes;
    j["rows"] = rows;
    nlohmann::json s = nlohmann::json::array();
    for (const auto& set : sets) s.push_back(SetJson(set));
    j["sets"] = s;
  }
  return j;
}

ScoreStamp ScoreStamp::FromJson(const nlohmann::json& j, const std::string& source) {
  const std::string where = "stamp '" + source + "'";
  if (!j.is_object() || j.value("kind", nlohmann::json()) != kKind) {
    throw Error(where + ": missing \"kind\": \"" + kKind + "\" (is it a score stamp?)");
  }
  ScoreStamp s;
  const std::string empty;
  const int zero = 0;
  const long long zero_ll = 0;
  const bool no = false;
  s.tool_version = JsonField<std::string>(j, "/tool_version", where, "a version", &empty);
  s.model_sha256 = JsonField<std::string>(j, "/model_sha256", where, "a SHA-256 in hex", &empty);
  s.preset = ObjectOrNull(j, "/preset", where);
  const std::vector<double> none;
  s.temperatures = JsonField<std::vector<double>>(j, "/temperatures", where, "numbers", &none);
  s.odin = ObjectOrNull(j, "/odin", where);
  if (s.odin.is_object()) {  // what RunSpec::FromStamp reads
    const double none = 0;
    JsonField<double>(j, "/odin/temperature", where, "a number", &none);
    JsonField<double>(j, "/odin/epsilon", where, "a number", &none);
  }
  s.fit = ObjectOrNull(j, "/fit", where);
  if (s.fit.is_object()) {  // what RunSpec::FromStamp and CardRunOf read
    JsonField<std::string>(j, "/fit/path", where, "a path", &empty);
    JsonField<std::string>(j, "/fit/sha256", where, "a SHA-256 in hex", &empty);
  }
  const std::vector<std::string> no_columns;
  s.columns =
      JsonField<std::vector<std::string>>(j, "/columns", where, "column names", &no_columns);
  s.layout = JsonField<std::string>(j, "/layout", where, "a layout", &empty);
  s.batch_size = JsonField<int>(j, "/batch_size", where, "a batch size", &zero);
  s.max_image_pixels = JsonField<long long>(j, "/max_image_pixels", where, "a count", &zero_ll);
  s.card = ObjectOrNull(j, "/card", where);
  const nlohmann::json& inputs = ArrayAt(j, "/inputs", where);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string p = "/inputs/" + std::to_string(i);
    StampInput in;
    in.name = NameAt(j, p, "name", where);
    in.found = JsonField<std::size_t>(j, p + "/found", where, "a count");
    const std::size_t no_classes = 0;
    in.classes = JsonField<std::size_t>(j, p + "/classes", where, "a count", &no_classes);
    in.first = NameAt(j, p, "first", where);
    in.last = NameAt(j, p, "last", where);
    s.inputs.push_back(in);
  }
  if (j.contains("shard")) {
    StampShard shard;
    shard.index = JsonField<std::size_t>(j, "/shard/index", where, "a shard index (0 or more)");
    shard.count = JsonField<std::size_t>(j, "/shard/count", where, "a shard count");
    const std::size_t begin = 0;
    shard.begin = JsonField<std::size_t>(j, "/shard/begin", where, "a sample index", &begin);
    shard.end = JsonField<std::size_t>(j, "/shard/end", where, "a sample index", &begin);
    s.shard = shard;
  }
  s.model_path = JsonField<std::string>(j, "/model_path", where, "a path", &empty);
  if (j.contains("argv")) {
    if (!j["argv"].is_array()) throw Error(where + ": /argv must be a list of strings");
    for (std::size_t i = 0; i < j["argv"].size(); ++i) {
      s.argv.push_back(
          JsonField<std::string>(j, "/argv/" + std::to_string(i), where, "a command-line word"));
    }
  }
  s.complete = JsonField<bool>(j, "/complete", where, "true or false", &no);
  s.has_digest = j.contains("csv_sha256") || j.contains("csv_bytes");
  if (s.has_digest) {
    s.csv_bytes = JsonField<std::uint64_t>(j, "/csv_bytes", where, "a byte count");
    s.csv_sha256 = JsonField<std::string>(j, "/csv_sha256", where, "a SHA-256 in hex");
    if (s.csv_sha256.size() != 64 ||
        s.csv_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw Error(where + ": /csv_sha256 must be a SHA-256 in hex (64 of 0-9a-f), got " +
                  DumpJson(j.at("csv_sha256"), -1));
    }
  }
  s.has_counts = s.complete && j.contains("sets");
  if (s.has_counts) {
    s.num_classes = JsonField<int>(j, "/num_classes", where, "a class count", &zero);
    const std::size_t no_rows = 0;
    s.rows = JsonField<std::size_t>(j, "/rows", where, "a row count", &no_rows);
    const nlohmann::json& sets = ArrayAt(j, "/sets", where);
    for (std::size_t i = 0; i < sets.size(); ++i) {
      s.sets.push_back(ReadSet(j, "/sets/" + std::to_string(i), where));
    }
  }
  return s;
}

std::size_t ScoreStamp::TotalFound() const {
  std::size_t total = 0;
  for (const auto& in : inputs) total += in.found;
  return total;
}

std::string StampPath(const std::string& csv_path) { return csv_path + ".json"; }

ScoreStamp ReadStamp(const std::string& stamp_path) {
  return ScoreStamp::FromJson(ParseJsonText(ReadFile(stamp_path), stamp_path), stamp_path);
}

std::optional<StampDifference> FirstDifference(const nlohmann::json& mine,
                                               const nlohmann::json& theirs,
                                               const std::vector<std::string>& skip) {
  auto shorten = [](const nlohmann::json& v) {
    std::string s = DumpJson(v, -1);
    return s.size() > 120 ? s.substr(0, 117) + "..." : s;
  };
  for (auto it = mine.begin(); it != mine.end(); ++it) {
    if (std::find(skip.begin(), skip.end(), it.key()) != skip.end()) continue;
    const bool has = theirs.is_object() && theirs.contains(it.key());
    if (has && theirs.at(it.key()) == it.value()) continue;
    return StampDifference{it.key(), shorten(it.value()),
                           has ? shorten(theirs.at(it.key())) : "missing"};
  }
  return std::nullopt;
}

bool VerifyCsvDigest(const std::string& csv_path, const ScoreStamp& stamp) {
  if (!stamp.has_digest) return false;
  const std::string stamp_path = StampPath(csv_path);
  const std::string changed = "'" + csv_path + "' was changed after its run wrote it: ";
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(csv_path, ec);
  if (ec) throw Error("cannot read '" + csv_path + "': " + ec.message());
  if (stamp.complete ? size != stamp.csv_bytes : size < stamp.csv_bytes) {
    throw Error(changed + "it holds " + std::to_string(size) + " bytes, but its stamp '" +
                stamp_path + "' records " + std::to_string(stamp.csv_bytes) +
                (stamp.complete ? "" : " written before the run stopped"));
  }
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) throw Error("cannot open '" + csv_path + "': " + std::strerror(errno));
  Sha256 sha;
  std::vector<char> buf(1 << 16);
  for (std::uint64_t left = stamp.csv_bytes; left > 0 && in;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
    in.read(buf.data(), static_cast<std::streamsize>(n));
    sha.Update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
    left -= static_cast<std::uint64_t>(in.gcount());
  }
  if (sha.size() != stamp.csv_bytes) throw Error("reading '" + csv_path + "' failed");
  const std::string digest = sha.HexDigest();
  if (digest != stamp.csv_sha256) {
    throw Error(changed +
                (stamp.complete ? std::string("its SHA-256 is ")
                                : "the SHA-256 of its first " + std::to_string(stamp.csv_bytes) +
                                      " bytes (the rows flushed before the run stopped) is ") +
                digest + ", but its stamp '" + stamp_path + "' records " + stamp.csv_sha256);
  }
  return true;
}

std::string UnverifiedWarning(const std::string& csv_path) {
  return "'" + csv_path + "': its stamp '" + StampPath(csv_path) +
         "' records no SHA-256 of the rows (an earlier release wrote it), so they are unverified";
}

const std::vector<std::string>& PerShardKeys() {
  static const std::vector<std::string> keys = {"shard",     "sets",       "rows",
                                                "complete",  "model_path", "num_classes",
                                                "csv_bytes", "csv_sha256", "argv"};
  return keys;
}

}  // namespace oodscore
