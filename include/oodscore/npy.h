// Read-only NumPy .npy arrays (little-endian, C order), memory-mapped: preprocessed images,
// float32 [N, C, H, W], or logits, float32 or float64 [N, K]; and class labels, int [N].
#ifndef OODSCORE_NPY_H_
#define OODSCORE_NPY_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace oodscore {

// Where the data of a .npy file lies, from its header.
struct NpyLayout {
  std::vector<std::int64_t> shape;  // [N, C, H, W] or [N, K], every dimension after N > 0
  std::size_t row_floats = 0;       // values per row: C * H * W, or K
  std::size_t item_size = 4;        // 4 (float32) or 8 (float64, logits only)
  std::size_t data_offset = 0;      // bytes from the start of the file
};

// Validates a .npy header against the size of the file it came from (every size is checked
// with overflow-safe arithmetic against the bytes there are). Throws oodscore::Error that
// starts with `where`.
NpyLayout ParseNpyHeader(const unsigned char* bytes, std::size_t size, const std::string& where);

class NpyArray {
 public:
  // Opens and validates the header. Throws oodscore::Error naming the file and saying what
  // was got and expected (dtype '<f4', fortran_order False, 4 dimensions).
  static std::shared_ptr<NpyArray> Open(const std::filesystem::path& path);
  ~NpyArray();
  NpyArray(const NpyArray&) = delete;
  NpyArray& operator=(const NpyArray&) = delete;

  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::size_t rows() const { return static_cast<std::size_t>(shape_[0]); }
  std::size_t row_floats() const { return row_floats_; }
  // A 2-D array [N, K]: logits, not images.
  bool logits() const { return shape_.size() == 2; }
  bool float64() const { return item_size_ == 8; }
  // Row i: row_floats() contiguous values, float32 (row) or float64 (row64).
  const float* row(std::size_t i) const { return data_ + i * row_floats_; }
  const double* row64(std::size_t i) const {
    return reinterpret_cast<const double*>(data_) + i * row_floats_;
  }
  const std::string& path() const { return path_; }

 private:
  NpyArray() = default;
  std::string path_;
  std::vector<std::int64_t> shape_;
  std::size_t row_floats_ = 0;
  std::size_t item_size_ = 4;
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  const float* data_ = nullptr;
};

// Class labels, an int64 or int32 array [N] (FILE.labels.npy beside a logits file). Throws
// oodscore::Error naming the file when it is not one, or a label is negative.
std::vector<std::int64_t> ReadNpyLabels(const std::filesystem::path& path);

// Writes a float32 .npy (used by tests and benchmarks).
void WriteNpy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
              const float* data);

}  // namespace oodscore

#endif  // OODSCORE_NPY_H_
