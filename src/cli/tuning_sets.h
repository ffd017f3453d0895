// The validation sets a fit was tuned on (`oodscore fit --val --val-ood`): described when the
// fit is made, and matched against the sets a later run evaluates, whose numbers are then
// optimistic (the detectors' settings were chosen on those very images).
#ifndef OODSCORE_SRC_CLI_TUNING_SETS_H_
#define OODSCORE_SRC_CLI_TUNING_SETS_H_

#include <string>
#include <vector>

#include "oodscore/dataset.h"
#include "oodscore/detectors.h"

namespace oodscore {

// `set` as a fit records it: its role ("id" or "ood"), name, path as given, absolute
// normalised folder, scored samples, and the SHA-256 over the sorted SHA-256s of its files.
TuningSet DescribeTuningSet(const SampleSet& set, const std::string& role, std::int64_t scored);

// One warning per evaluated set that is a tuning set (the same folder, or the same images
// anywhere): "'svhn' is the OOD validation set 'svhn_val' the fit was tuned on (the same
// folder): tuned on this set: the numbers are optimistic". A set without a source (scores
// read back from files) is matched by its files alone. The files' digests are read only when
// a set is not matched by its folder; a set whose files cannot be read gets a warning that
// says so instead.
std::vector<std::string> TunedOnWarnings(const std::vector<TuningSet>& tuned_on,
                                         const std::vector<SampleSet>& evaluated);

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_TUNING_SETS_H_
