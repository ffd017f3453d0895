#include "oodscore/thumbnail.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <vector>

#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/resample.h"

namespace oodscore {

Image Shrink(const Image& in, int max_side) {
  const int longest = std::max(in.width, in.height);
  if (longest <= max_side) return in;
  const double scale = static_cast<double>(max_side) / longest;
  const int w = std::max(1, static_cast<int>(std::lround(in.width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(in.height * scale)));
  return Resize(in, std::min(w, max_side), std::min(h, max_side), Interpolation::kBilinear);
}

namespace {

void PngWrite(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

void PngFlush(png_structp) {}

// Silent: a failure is reported by PngWriteAll's result, not on stderr.
void PngError(png_structp png, png_const_charp) { png_longjmp(png, 1); }
void PngWarning(png_structp, png_const_charp) {}

// libpng's failures jump back here; the frame owns no C++ objects, so the longjmp skips no
// destructor.
bool PngWriteAll(png_structp png, png_infop info, int width, int height, int color_type,
                 png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 9);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

bool AllGrey(const Image& image) {
  if (image.channels != 3) return false;
  for (std::size_t i = 0; i + 2 < image.pixels.size(); i += 3) {
    if (image.pixels[i] != image.pixels[i + 1] || image.pixels[i] != image.pixels[i + 2]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string EncodePng(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() !=
          static_cast<std::size_t>(image.width) * image.height * image.channels) {
    throw Error("internal error: cannot encode a " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + "x" + std::to_string(image.channels) +
                " image as PNG");
  }
  // Grey pixels in an RGB image: one channel is enough.
  std::vector<std::uint8_t> grey;
  const bool to_grey = AllGrey(image);
  if (to_grey) {
    grey.resize(image.pixels.size() / 3);
    for (std::size_t i = 0; i < grey.size(); ++i) grey[i] = image.pixels[3 * i];
  }
  const int channels = to_grey ? 1 : image.channels;
  std::uint8_t* data = to_grey ? grey.data() : const_cast<std::uint8_t*>(image.pixels.data());
  std::vector<png_bytep> rows(image.height);
  for (int y = 0; y < image.height; ++y) {
    rows[y] = data + static_cast<std::size_t>(y) * image.width * channels;
  }
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, PngError, PngWarning);
  if (png == nullptr) throw Error("cannot encode PNG: libpng could not start");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("cannot encode PNG: libpng could not start");
  }
  png_set_write_fn(png, &out, PngWrite, PngFlush);
  const bool ok =
      PngWriteAll(png, info, image.width, image.height,
                  channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, rows.data());
  png_destroy_write_struct(&png, &info);
  if (!ok) {
    throw Error("cannot encode a " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " image as PNG");
  }
  return out;
}

Thumbnail MakeThumbnail(const std::filesystem::path& path, int max_side) {
  Thumbnail t;
  const DecodeResult d = DecodeFile(path, ColorMode::kRgb);
  if (!d.ok()) {
    t.error = d.error;
    return t;
  }
  try {
    t.png = EncodePng(Shrink(d.image, max_side));
  } catch (const Error& e) {
    t.error = e.what();
  }
  return t;
}

}  // namespace oodscore
