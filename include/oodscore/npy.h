// Read-only NumPy .npy arrays of float32 [N, C, H, W] (little-endian, C order), memory-mapped.
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
  std::vector<std::int64_t> shape;  // [N, C, H, W], C, H, W > 0
  std::size_t row_floats = 0;       // C * H * W
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
  // Row i: row_floats() contiguous floats.
  const float* row(std::size_t i) const { return data_ + i * row_floats_; }
  const std::string& path() const { return path_; }

 private:
  NpyArray() = default;
  std::string path_;
  std::vector<std::int64_t> shape_;
  std::size_t row_floats_ = 0;
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  const float* data_ = nullptr;
};

// Writes a float32 .npy (used by tests and benchmarks).
void WriteNpy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
              const float* data);

}  // namespace oodscore

#endif  // OODSCORE_NPY_H_
