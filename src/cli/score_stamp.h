// The stamp beside a score CSV (FILE.json), as a typed record (front-end code).
//
// `score -o FILE` (and eval's scores.csv) writes it before the first row, with "complete":
// false, and again when the last row is written, with the counts. --resume
// (src/cli/resume.h), the shard merge (src/cli/shards.h) and `eval --from-scores` read it
// through these fields, never by key:
//
//   {"kind": "oodscore-score-stamp", "tool_version": "0.1.0", "model_sha256": "...",
//    "preset": {...}, "temperatures": [1, 2], "odin": null, "fit": null,
//    "columns": ["energy", ...], "layout": "auto", "batch_size": 64,
//    "max_image_pixels": 89478485, "card": null,
//    "inputs": [{"name": "id", "found": 500, "classes": 5, "first": "...", "last": "..."}],
//    "shard": {"index": 0, "count": 4, "begin": 0, "end": 128},        (--shard only)
//    "model_path": "m.pt", "complete": true,
//    "csv_bytes": 9130, "csv_sha256": "...",
//    "num_classes": 5, "rows": 128,
//    "sets": [{"name": "id", "found": 128, "scored": 128, "skipped": 0, "skipped_files": [],
//              "first_index": 0, "last_index": 127}]}                   (indexes: --shard only)
//
// Names and paths that are not UTF-8 are stored as "<key>_hex" (AddNameField). Stamps
// written by earlier releases read the same way; a stopped run's stamp has no counts.
//
// csv_bytes and csv_sha256: the length and SHA-256 of the CSV's bytes (header and rows) that
// the run flushed. The stamp is rewritten after each batch's rows reach the file, so a stopped
// run's stamp vouches for the first csv_bytes bytes of its CSV, and a complete run's for the
// whole file. Stamps of earlier releases have neither: their rows are unverified.
#ifndef OODSCORE_SRC_CLI_SCORE_STAMP_H_
#define OODSCORE_SRC_CLI_SCORE_STAMP_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oodscore/set_counts.h"

namespace oodscore {

// One input set as listed when the run started.
struct StampInput {
  std::string name;
  std::size_t found = 0;    // samples listed
  std::size_t classes = 0;  // class folders (0: a flat folder, a list, logits)
  std::string first, last;  // the first and last sample's path ("" for an empty set)
};

// A shard's slice of the run's samples (over all sets in order).
struct StampShard {
  std::size_t index = 0, count = 1, begin = 0, end = 0;
};

// One set's counts in this file, once the run is complete.
struct StampSet {
  SetCounts counts;
  std::vector<SkippedSample> skipped;  // the files skipped, with the reason
  // --shard: the first and last index of this shard's samples within the set (none when the
  // shard holds none of the set).
  std::optional<std::size_t> first_index, last_index;
};

struct ScoreStamp {
  // The run: what decides the rows. Equal in every shard of one run; --resume and the merge
  // compare these fields.
  std::string tool_version;
  std::string model_sha256;          // "" for logits inputs
  nlohmann::json preset;             // the preset in full; null for logits inputs
  std::vector<double> temperatures;  // T = 1 first
  nlohmann::json odin;               // {"temperature", "epsilon"}, or null
  nlohmann::json fit;                // the fit record (FitRecord), or null
  std::vector<std::string> columns;  // the CSV's columns after set,path,label,pred
  std::string layout;
  int batch_size = 0;
  long long max_image_pixels = 0;
  nlohmann::json card;  // the detector card (CardJson), or null
  std::vector<StampInput> inputs;
  std::optional<StampShard> shard;  // --shard: this file's slice

  // This file's part: where the model was, and what was scored.
  std::string model_path;
  std::vector<std::string> argv;  // the command line that wrote it (none in older stamps)
  bool complete = false;
  // The CSV bytes the run flushed (has_digest; stamps of earlier releases lack them).
  bool has_digest = false;
  std::uint64_t csv_bytes = 0;
  std::string csv_sha256;
  bool has_counts = false;  // complete, with the counts below (older stamps may lack them)
  int num_classes = 0;
  std::size_t rows = 0;
  std::vector<StampSet> sets;

  // The stamp as written: every field of the run; then model_path, complete and, when
  // has_digest, csv_bytes and csv_sha256, unless run_only; then, when has_counts,
  // num_classes, rows and sets.
  nlohmann::json ToJson(bool run_only = false) const;
  // Reads a stamp; `source` names it in errors. Throws oodscore::Error naming the stamp and
  // the field (as a JSON pointer) that is missing or of the wrong type.
  static ScoreStamp FromJson(const nlohmann::json& j, const std::string& source);

  // Samples listed over all inputs.
  std::size_t TotalFound() const;
};

// The stamp's path for a score CSV: FILE.json.
std::string StampPath(const std::string& csv_path);

// Reads FILE.json. Throws oodscore::Error as FromJson does, or when it cannot be read.
ScoreStamp ReadStamp(const std::string& stamp_path);

// A field in which `theirs` differs from `mine`: its key and both values, short enough for a
// message (compact JSON, cut to 120 characters; "missing" when theirs lacks the key).
struct StampDifference {
  std::string key, mine, theirs;
};
// The first of mine's keys (in key order) whose value theirs does not hold, keys in `skip`
// passed over; nullopt when theirs agrees on every one.
std::optional<StampDifference> FirstDifference(const nlohmann::json& mine,
                                               const nlohmann::json& theirs,
                                               const std::vector<std::string>& skip = {});

// Checks that csv_path holds the bytes its stamp vouches for: exactly csv_bytes bytes of that
// SHA-256 when the stamp is complete; at least csv_bytes bytes, the first of that SHA-256,
// when the run stopped (rows flushed after the stamp's last rewrite are not covered). Returns
// false, checking nothing, when the stamp has no digest (an earlier release wrote it). Throws
// oodscore::Error "'<csv>' was changed after its run wrote it: ..." naming the stamp.
bool VerifyCsvDigest(const std::string& csv_path, const ScoreStamp& stamp);

// The warning for a stamp without a digest: "'<csv>': its stamp '<stamp>' records no SHA-256
// of the rows (an earlier release wrote it), so they are unverified".
std::string UnverifiedWarning(const std::string& csv_path);

// The stamp keys that differ from shard to shard of one run.
const std::vector<std::string>& PerShardKeys();

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_SCORE_STAMP_H_
