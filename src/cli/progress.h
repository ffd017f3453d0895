// The progress line of a scoring run (front-end code, not part of the library API).
#ifndef OODSCORE_SRC_CLI_PROGRESS_H_
#define OODSCORE_SRC_CLI_PROGRESS_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace oodscore {

// On a terminal: one line redrawn in place at most 5 times a second, fitted to the terminal's
// width as it is at each redraw (so it follows a resize and never wraps), naming the set being
// scored: "noise  [#####     ] 5120/11000  8123 img/s  ETA 1s". Elsewhere: a log line every
// 10 s. Nothing with quiet.
class Progress {
 public:
  // set_names and set_sizes: the sets (or epochs) in order; verb says what the log line
  // counts ("scored", "trained").
  Progress(bool quiet, std::vector<std::string> set_names, std::vector<std::size_t> set_sizes,
           std::string verb = "scored");

  // note: shown after the rate (finetune's loss terms), cut to the terminal's width.
  void Update(std::size_t done, std::size_t total, const std::string& note = "");

  // The line for a terminal `columns` wide (exposed for tests).
  static std::string Line(const std::string& set, std::size_t done, std::size_t total, double rate,
                          double eta, int columns, const std::string& note = "");

 private:
  using Clock = std::chrono::steady_clock;
  std::string SetAt(std::size_t done) const;

  bool quiet_, tty_;
  std::string verb_;
  std::vector<std::string> names_;
  std::vector<std::size_t> sizes_;
  Clock::time_point start_, last_;
};

}  // namespace oodscore

#endif  // OODSCORE_SRC_CLI_PROGRESS_H_
