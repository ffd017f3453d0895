// Sharded scoring (front-end code): `score --shard I/N` scores one slice of the samples, and
// `metrics` / `eval --from-scores` merge the shard files back into one run, checking that they
// belong together.
//
// The slice: all input sets in order form one sample sequence (as a single run scores it);
// it is cut into whole batches, and shard I gets batches [I*B/N, (I+1)*B/N). So each shard's
// rows are a contiguous slice of the single-run file, and every batch holds the same samples
// as in the single run: the logits, the file and the report are the same bit for bit.
//
// Each shard's stamp (FILE.json, src/cli/score_stamp.h) records the run (tool version, model
// SHA-256, preset, temperatures, columns, inputs, ...), identical in every shard, and its own part:
// "shard" {index, count, begin, end} (sample indexes over all sets), "sets" (per set: found,
// scored, skipped, skipped files, first and last index within the set), "rows", "complete".
#ifndef OODSCORE_SRC_CLI_SHARDS_H_
#define OODSCORE_SRC_CLI_SHARDS_H_

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/score_stamp.h"
#include "oodscore/dataset.h"
#include "oodscore/report.h"
#include "oodscore/score_table.h"
#include "oodscore/set_counts.h"

namespace oodscore {

struct ShardSpec {
  std::size_t index = 0, count = 1;
};

// Parses --shard: "I/N" (0-based I < N), "auto" (I and N from a Slurm array task:
// SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT) or "auto/N" (I from
// SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN or Kubernetes' JOB_COMPLETION_INDEX). Throws
// UsageError saying what was expected.
ShardSpec ParseShard(const std::string& text);

// Shard `spec`'s samples: [begin, end) over all sets in order, in whole batches.
struct ShardRange {
  std::size_t begin = 0, end = 0;
};
ShardRange RangeOfShard(std::size_t total, std::size_t batch, const ShardSpec& spec);

// The sets cut down to the samples in `range` (sets keep their names; a set may be empty).
std::vector<SampleSet> SliceSets(const std::vector<SampleSet>& sets, const ShardRange& range);

// Score files read back as one run.
struct MergedScores {
  ScoreTable table;                          // rows in shard order: the single run's order
  std::vector<std::filesystem::path> files;  // in that order
  bool stamped = false;                      // every file had a shard stamp; else none had one
  ScoreStamp stamp;             // stamped: the run's fields (shard 0's; no per-shard ones)
  std::vector<SetCounts> sets;  // stamped: per input set, summed over shards
  std::vector<SkippedSample> skipped;
  std::string model_path;  // stamped: as shard 0 gave it
  int num_classes = 0;     // stamped: the model's logits per sample
  // A lone file whose stamp marks its run stopped (read without the stamp): the CSV's path.
  std::string stopped;
  // For the report: a stopped run, stamps of an earlier release (rows unverified).
  std::vector<std::string> warnings;
};

// Reads score CSVs (a folder stands for every *.csv in it). When the files carry shard stamps,
// checks that they belong to one run (the same tool version, model, preset, temperatures,
// columns and inputs; every shard 0..N-1 present once and complete; the row counts the stamps
// promise) and orders them by shard, throwing oodscore::Error (exit 3) naming the odd file.
// Every file whose stamp records a digest (csv_bytes, csv_sha256) must hold those bytes, and
// its rows per set must be the counts its stamp records; a stamp without one (an earlier
// release) gives a warning that the rows are unverified.
// A lone file whose stamp has no "shard" (a plain `score -o` run) counts as shard 0 of 1 when
// the stamp records a complete run; otherwise (a stopped run, an older stamp) its rows are
// read as they are, with a warning.
// Files without stamps are pooled in the order given, as before.
// keep_paths: the table keeps every row's path (always, for several files).
MergedScores ReadMergedScores(const std::vector<std::filesystem::path>& args,
                              bool keep_paths = false);

// Gives the report's sets the stamps' counts (found, scored, skipped, and the skipped files),
// which a report built from rows alone cannot know.
void UseStampedCounts(const MergedScores& merged, Report* report);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_SHARDS_H_
