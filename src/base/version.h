// Build identity, for the reproducibility stamp of every report, card, fit and manifest.
#ifndef OODSCORE_SRC_BASE_VERSION_H_
#define OODSCORE_SRC_BASE_VERSION_H_

#include <nlohmann/json.hpp>

namespace oodscore {

const char* ToolVersion();  // "0.1.0"
const char* GitCommit();    // short commit hash at configure time, or "" outside git

// The one "tool" record every file the tool writes carries:
// {"name": "oodscore", "version": ToolVersion(), "commit": GitCommit()}.
nlohmann::json ToolJson();

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_VERSION_H_
