// SHA-256 (FIPS 180-4), for identifying model files in reports and detector cards.
#ifndef OODSCORE_SRC_BASE_SHA256_H_
#define OODSCORE_SRC_BASE_SHA256_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace oodscore {

// Lowercase hex digest of bytes.
std::string Sha256Hex(std::string_view bytes);

// Lowercase hex digest of a file's contents, read in chunks. Throws oodscore::Error if the
// file cannot be read.
std::string Sha256File(const std::filesystem::path& path);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_SHA256_H_
