// Image decoding that reproduces PIL's Image.open(f).convert(mode) pixel for pixel.
//
// Formats are detected by their magic bytes, never by extension:
//   JPEG   (TurboJPEG, islow IDCT, fancy upsampling; grey, YCbCr, CMYK/YCCK)
//   PNG    (libpng; palette, grey 1-16 bit, grey+alpha, RGB, RGBA, 8/16 bit)
//   BMP    (uncompressed 1/4/8-bit palette, 24-bit, 32-bit; bottom-up or top-down)
//   PPM/PGM (binary P6/P5, maxval 255)
//   WebP   (libwebp, lossy and lossless; first frame)
// Alpha is dropped (no compositing) and EXIF orientation is not applied, as in PIL.
// 16-bit grey PNGs clamp to 255 like PIL's "I" -> "L"/"RGB"; other 16-bit PNGs keep the
// high byte. TIFF, GIF, RLE/bitfield BMPs and plain PNMs are reported as unsupported.
//
// Thread safety: all functions may be called concurrently from any number of threads.
#ifndef OODSCORE_DECODE_H_
#define OODSCORE_DECODE_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "oodscore/image.h"

namespace oodscore {

// A decoded image, or why it could not be decoded. Per-file failures are values:
// the caller skips the file and reports `error` (lowercase, e.g. "truncated jpeg data",
// "zero-byte file", "not a recognised image format (magic bytes 3c 68 74 6d)").
struct DecodeResult {
  Image image;          // valid only when ok(); channels == ChannelCount(mode)
  std::string error;    // empty on success
  std::string warning;  // set on success for an image over the pixel limit
  bool ok() const { return error.empty(); }
};

// Pillow's decompression-bomb rule, Image.MAX_IMAGE_PIXELS: an image of more pixels decodes
// with a warning; one of more than twice as many is refused from its header, before anything
// is allocated for it. 0 = no limit.
constexpr long long kDefaultMaxImagePixels = 89478485;

// Decodes an encoded file held in memory and converts it to `mode`.
DecodeResult DecodeImage(const std::uint8_t* data, std::size_t size, ColorMode mode,
                         long long max_pixels = kDefaultMaxImagePixels);

// Reads `path` and decodes it. A file that cannot be read is an error result
// ("cannot read file: <reason>"), not an exception; so is anything but a regular file (after
// following links): a FIFO, socket, device or directory is never opened for a blocking read.
DecodeResult DecodeFile(const std::filesystem::path& path, ColorMode mode,
                        long long max_pixels = kDefaultMaxImagePixels);

}  // namespace oodscore

#endif  // OODSCORE_DECODE_H_
