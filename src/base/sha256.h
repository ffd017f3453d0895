// SHA-256 (FIPS 180-4), for identifying model files in reports and detector cards, and score
// files in their stamps.
#ifndef OODSCORE_SRC_BASE_SHA256_H_
#define OODSCORE_SRC_BASE_SHA256_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace oodscore {

// An incremental SHA-256: Update with the bytes as they come; HexDigest at any point gives the
// digest of the bytes so far, and more may follow.
class Sha256 {
 public:
  void Update(std::string_view bytes);
  // Lowercase hex digest of every byte given so far.
  std::string HexDigest() const;
  std::uint64_t size() const { return length_; }

 private:
  void Add(const unsigned char* data, std::size_t n);
  void Compress();

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64] = {};
  std::size_t used_ = 0;
  std::uint64_t length_ = 0;
};

// Lowercase hex digest of bytes.
std::string Sha256Hex(std::string_view bytes);

// Lowercase hex digest of a file's contents, read in chunks. Throws oodscore::Error if the
// file cannot be read.
std::string Sha256File(const std::filesystem::path& path);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_SHA256_H_
