// How many samples of a set were found, scored and skipped, and why each skip happened.
// Filled by the pipeline, carried into reports, checked by gates and --max-skipped.
#ifndef OODSCORE_SET_COUNTS_H_
#define OODSCORE_SET_COUNTS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace oodscore {

struct SkippedSample {
  std::string set, path, reason;
};

struct SetCounts {
  std::string name;
  std::size_t found = 0, scored = 0, skipped = 0;
  // ScoreTable::SamplesDigest of the scored samples' paths; "" = not known (plain score
  // columns). report.json keeps it, so that a baseline on other samples is noticed.
  std::string samples_digest;

  // skipped / found; 0 for a set with nothing found.
  double SkippedShare() const { return found ? static_cast<double>(skipped) / found : 0.0; }
};

}  // namespace oodscore

#endif  // OODSCORE_SET_COUNTS_H_
