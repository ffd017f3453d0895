// Build identity, for the reproducibility stamp of every report.
#ifndef OODSCORE_SRC_BASE_VERSION_H_
#define OODSCORE_SRC_BASE_VERSION_H_

namespace oodscore {

const char* ToolVersion();  // "0.1.0"
const char* GitCommit();    // short commit hash at configure time, or "" outside git

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_VERSION_H_
