// Training features on their way to `oodscore fit` (include/oodscore/detectors.h's
// FeatureRows): a view of rows in memory, or a spill file that the scored images' features are
// appended to and that the fit reads back a block at a time, so that neither holds N x D floats
// in memory (ImageNet-1K's 1.28M x 2048 float32 is 10 GB).
#ifndef OODSCORE_SRC_MODEL_FEATURE_SPILL_H_
#define OODSCORE_SRC_MODEL_FEATURE_SPILL_H_

#include <cstdint>
#include <filesystem>
#include <vector>

#include "oodscore/detectors.h"

namespace oodscore {

// Rows [rows, dim] float32 row-major in memory, not owned.
class MemoryFeatureRows : public FeatureRows {
 public:
  MemoryFeatureRows(const float* data, std::int64_t rows, int dim)
      : data_(data), rows_(rows), dim_(dim) {}
  std::int64_t rows() const override { return rows_; }
  int dim() const override { return dim_; }
  void Read(std::int64_t first, std::int64_t count, float* out) const override;

 private:
  const float* data_;
  std::int64_t rows_;
  int dim_;
};

// A temporary file of float32 rows in `folder`, named ".oodscore-features-<pid>-<n>.tmp" and
// unlinked as soon as it is open: it takes disk space until the spill is destroyed, and nothing
// is left in the folder after a success, an error or a killed process. Rows are appended
// through a 4 MiB buffer and read back with pread (never mapped whole: the reader's memory is
// its block). Thread-compatible.
class FeatureSpill : public FeatureRows {
 public:
  // Throws oodscore::Error naming the folder when the file cannot be made there.
  FeatureSpill(const std::filesystem::path& folder, int dim);
  ~FeatureSpill() override;
  FeatureSpill(const FeatureSpill&) = delete;
  FeatureSpill& operator=(const FeatureSpill&) = delete;

  // Appends one row of dim() values. Throws oodscore::Error when the disk is full.
  void Append(const float* row);

  std::int64_t rows() const override { return rows_; }
  int dim() const override { return dim_; }
  // Writes out what is buffered first.
  void Read(std::int64_t first, std::int64_t count, float* out) const override;
  const std::filesystem::path& path() const { return path_; }  // gone from the folder

 private:
  void Flush() const;

  std::filesystem::path path_;
  int fd_ = -1;
  int dim_;
  std::int64_t rows_ = 0;
  mutable std::vector<float> buffer_;
  mutable std::int64_t written_rows_ = 0;
};

}  // namespace oodscore

#endif  // OODSCORE_SRC_MODEL_FEATURE_SPILL_H_
