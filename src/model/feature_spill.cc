#include "model/feature_spill.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "oodscore/error.h"

namespace oodscore {

void MemoryFeatureRows::Read(std::int64_t first, std::int64_t count, float* out) const {
  std::memcpy(out, data_ + first * dim_, static_cast<std::size_t>(count * dim_) * sizeof(float));
}

namespace {

constexpr std::size_t kBufferBytes = std::size_t{4} << 20;

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

FeatureSpill::FeatureSpill(const std::filesystem::path& folder, int dim) : dim_(dim) {
  static std::atomic<int> counter{0};
  path_ = folder / (".oodscore-features-" + std::to_string(::getpid()) + "-" +
                    std::to_string(counter++) + ".tmp");
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw Error("cannot make the training features' spill file '" + path_.string() +
                "': " + ErrnoText() + " (fit spills the features to -o's folder or --spill-dir)");
  }
  ::unlink(path_.c_str());  // the open descriptor keeps it; nothing is left behind
  buffer_.reserve(std::max<std::size_t>(dim, kBufferBytes / sizeof(float)));
}

FeatureSpill::~FeatureSpill() {
  if (fd_ >= 0) ::close(fd_);
}

void FeatureSpill::Append(const float* row) {
  if (buffer_.size() + static_cast<std::size_t>(dim_) > buffer_.capacity()) Flush();
  buffer_.insert(buffer_.end(), row, row + dim_);
  ++rows_;
}

void FeatureSpill::Flush() const {
  const char* p = reinterpret_cast<const char*>(buffer_.data());
  std::size_t left = buffer_.size() * sizeof(float);
  off_t at = static_cast<off_t>(written_rows_) * dim_ * static_cast<off_t>(sizeof(float));
  while (left > 0) {
    const ssize_t done = ::pwrite(fd_, p, left, at);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) {
      throw Error("cannot write the training features' spill file '" + path_.string() +
                  "': " + (done < 0 ? ErrnoText() : std::string("no space written")) +
                  " (it needs N x D x 4 bytes; --spill-dir sets its folder)");
    }
    p += done, left -= static_cast<std::size_t>(done), at += done;
  }
  written_rows_ += static_cast<std::int64_t>(buffer_.size()) / dim_;
  buffer_.clear();
}

void FeatureSpill::Read(std::int64_t first, std::int64_t count, float* out) const {
  if (!buffer_.empty()) Flush();
  char* p = reinterpret_cast<char*>(out);
  std::size_t left = static_cast<std::size_t>(count) * dim_ * sizeof(float);
  off_t at = static_cast<off_t>(first) * dim_ * static_cast<off_t>(sizeof(float));
  while (left > 0) {
    const ssize_t done = ::pread(fd_, p, left, at);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) {
      throw Error("cannot read the training features' spill file '" + path_.string() +
                  "' at byte " + std::to_string(at) + ": " +
                  (done < 0 ? ErrnoText() : std::string("it ends early")));
    }
    p += done, left -= static_cast<std::size_t>(done), at += done;
  }
}

}  // namespace oodscore
