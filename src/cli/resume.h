// score --resume: continue a score CSV that a killed (or disk-full) run left behind, so that
// the finished file equals the one an uninterrupted run writes (front-end code).
//
// `score -o FILE` writes a run stamp beside the CSV, FILE.json (src/cli/score_stamp.h), before
// the first row: tool version, model SHA-256, preset, temperatures, columns, layout, batch
// size, detector card and every input (name, path, sample count), and "complete": true once
// the last row is written.
// With --resume, a CSV whose stamp matches this run is cut back to its last whole batch and
// scoring continues from there: batches then hold the same samples as in an uninterrupted
// run, so every logit, and every byte of the file, is the same.
#ifndef OODSCORE_SRC_CLI_RESUME_H_
#define OODSCORE_SRC_CLI_RESUME_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/score_stamp.h"
#include "oodscore/dataset.h"

namespace oodscore {

// Where a resumed run continues.
struct ResumePlan {
  std::size_t done = 0;  // samples (all sets in order, as the pipeline takes them) in the file
  std::size_t rows = 0;  // rows kept in the file
  bool complete = false;
  std::vector<std::size_t> rows_per_set;  // rows kept, per set (aligned with the sets)
};

// Checks csv_path's stamp against `stamp` (this run's: every field of the run must agree),
// then cuts the CSV back to whole batches of `batch` samples. Throws oodscore::Error naming
// the field that differs, or the row that is not one of this run's samples.
ResumePlan PlanResume(const std::string& csv_path, const ScoreStamp& stamp,
                      const std::vector<SampleSet>& sets, std::size_t batch,
                      const std::vector<std::string>& columns);

// The sets with their first `done` samples (over all sets in order) removed.
std::vector<SampleSet> Remaining(const std::vector<SampleSet>& sets, std::size_t done);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_RESUME_H_
