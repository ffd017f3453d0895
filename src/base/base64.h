// Base64 (RFC 4648, standard alphabet, '=' padding, no line breaks): what a data: URI holds.
#ifndef OODSCORE_SRC_BASE_BASE64_H_
#define OODSCORE_SRC_BASE_BASE64_H_

#include <string>
#include <string_view>

namespace oodscore {

// The base64 text of `bytes`: 4 characters per 3 bytes, the last group padded with '='.
std::string Base64Encode(std::string_view bytes);

}  // namespace oodscore

#endif  // OODSCORE_SRC_BASE_BASE64_H_
