// Build identity, for the reproducibility stamp of every report, card, fit and manifest.
#ifndef OODSCORE_SRC_BASE_VERSION_H_
#define OODSCORE_SRC_BASE_VERSION_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oodscore {

const char* ToolVersion();  // "0.1.0"
const char* GitCommit();    // short commit hash at configure time, or "" outside git

// The command line the process was started with (main sets it once, before any command
// runs), so that the files that record how they were made (a report's run stamp, a score
// stamp, a fit, a fine-tuning record) can say it. Not in ToolJson: files that a sharded run
// must reproduce byte for byte (detector cards) leave it out.
void SetCommandLine(int argc, const char* const* argv);
const std::vector<std::string>& CommandLine();
// Words as a POSIX shell reads them back: plain words as they are, others in single quotes
// ("it's" -> 'it'\''s').
std::string ShellQuoted(const std::vector<std::string>& words);

// The one "tool" record every file the tool writes carries:
// {"name": "oodscore", "version": ToolVersion(), "commit": GitCommit()}.
nlohmann::json ToolJson();

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_VERSION_H_
