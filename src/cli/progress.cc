#include "cli/progress.h"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace oodscore {

namespace {

int TerminalColumns() {
  winsize ws{};
  if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

Progress::Progress(bool quiet, std::vector<std::string> set_names,
                   std::vector<std::size_t> set_sizes, std::string verb)
    : quiet_(quiet),
      tty_(::isatty(2)),
      verb_(std::move(verb)),
      names_(std::move(set_names)),
      sizes_(std::move(set_sizes)),
      start_(Clock::now()),
      last_(start_) {}

std::string Progress::SetAt(std::size_t done) const {
  std::size_t end = 0;
  for (std::size_t i = 0; i < names_.size() && i < sizes_.size(); ++i) {
    end += sizes_[i];
    if (done < end) return names_[i];
  }
  return names_.empty() ? "" : names_.back();
}

std::string Progress::Line(const std::string& set, std::size_t done, std::size_t total, double rate,
                           double eta, int columns, const std::string& note) {
  char tail[96];
  std::snprintf(tail, sizeof(tail), " %zu/%zu  %.0f img/s  ETA %.0fs", done, total, rate, eta);
  const int room = columns - 1;  // never write into the last column: some terminals wrap there
  std::string name = set;
  const int max_name = std::max(0, std::min<int>(24, room / 3));
  if (static_cast<int>(name.size()) > max_name) {
    name = max_name > 1 ? name.substr(0, max_name - 1) + "~" : "";
  }
  std::string line = name.empty() ? "" : name + " ";
  const int bar = room - static_cast<int>(line.size() + std::char_traits<char>::length(tail)) - 2;
  if (bar >= 10) {
    const int width = std::min(bar, 40);
    const int filled = static_cast<int>(width * done / std::max<std::size_t>(total, 1));
    line += "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "]";
  }
  line += tail;
  if (!note.empty()) line += "  " + note;
  if (static_cast<int>(line.size()) > room) line.resize(std::max(0, room));
  return line;
}

void Progress::Update(std::size_t done, std::size_t total, const std::string& note) {
  if (quiet_) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const bool last = done == total;
  if (!last && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(10)))
    return;
  last_ = now;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total - done) / rate : 0;
  const std::string set = SetAt(last ? done - 1 : done);
  if (tty_) {
    // \r, then clear to the end of the line: a shorter line leaves nothing of the last one.
    std::fprintf(stderr, "\r%s\x1b[K%s",
                 Line(set, done, total, rate, eta, TerminalColumns(), note).c_str(),
                 last ? "\n" : "");
    std::fflush(stderr);
  } else {
    spdlog::info("{}: {}/{} {}, {:.0f} img/s, ETA {:.0f}s{}", set, done, total, verb_, rate, eta,
                 note.empty() ? "" : ", " + note);
  }
}

}  // namespace oodscore
