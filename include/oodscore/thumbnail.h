// Thumbnails for the report's failure gallery: an image file read, shrunk and written as PNG,
// so that report.html can embed it as a data: URI and stay one self-contained file.
//
// Thread safety: all functions may be called concurrently.
#ifndef OODSCORE_THUMBNAIL_H_
#define OODSCORE_THUMBNAIL_H_

#include <filesystem>
#include <string>

#include "oodscore/image.h"

namespace oodscore {

// The thumbnail's longest side in pixels, by default.
constexpr int kThumbnailSide = 96;

// `in` shrunk (PIL-exact bilinear with antialiasing, resample.h) so that its longest side is
// at most max_side, keeping the aspect ratio (each side rounded, at least 1 px); an image
// that already fits is returned as it is, never enlarged (the page scales it up).
// REQUIRES: in is non-empty; max_side > 0.
Image Shrink(const Image& in, int max_side);

// `image` as PNG file bytes (8-bit, no interlace, maximum compression); an RGB image whose
// pixels are all grey (r == g == b) is written as a 1-channel grey PNG, a third of the data.
// REQUIRES: image is non-empty, channels 1 or 3. Throws oodscore::Error if libpng fails.
std::string EncodePng(const Image& image);

// A thumbnail of an image file, or why there is none.
struct Thumbnail {
  std::string png;    // PNG bytes; empty on failure
  std::string error;  // as DecodeFile words it ("cannot read file: No such file or directory")
  bool ok() const { return error.empty(); }
};

// Decodes `path` (decode.h: any supported format, detected by content) as RGB, then
// Shrink(max_side) and EncodePng. A failure is a value, never an exception.
Thumbnail MakeThumbnail(const std::filesystem::path& path, int max_side = kThumbnailSide);

}  // namespace oodscore

#endif  // OODSCORE_THUMBNAIL_H_
