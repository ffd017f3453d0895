// Decoders for JPEG, PNG, BMP, PPM/PGM and WebP, each followed by the mode conversion
// PIL's Image.convert would apply. Every decoder produces a "native" image of 1 or 3
// channels (alpha already dropped) that ConvertTo() then brings to the requested mode.
#include "oodscore/decode.h"

#include <png.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <webp/decode.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "base/user_file.h"

namespace oodscore {
namespace {

DecodeResult Fail(std::string message) {
  DecodeResult r;
  r.error = std::move(message);
  return r;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// PIL refuses images over twice Image.MAX_IMAGE_PIXELS (DecompressionBombError); so do we,
// from the header, before allocating anything for them.
std::string CheckSize(long long width, long long height, long long max_pixels) {
  if (width <= 0 || height <= 0 || width > INT_MAX || height > INT_MAX) {
    return "invalid image size " + std::to_string(width) + "x" + std::to_string(height);
  }
  if (max_pixels > 0 && width * height > 2 * max_pixels) {
    return "decompression bomb: " + std::to_string(width) + "x" + std::to_string(height) + " = " +
           std::to_string(width * height) + " pixels, over twice --max-image-pixels " +
           std::to_string(max_pixels) + " (Pillow refuses it too)";
  }
  return "";
}

Image NewImage(int width, int height, int channels) {
  Image im;
  im.width = width;
  im.height = height;
  im.channels = channels;
  im.pixels.resize(static_cast<std::size_t>(width) * height * channels);
  return im;
}

// PIL's "RGB" -> "L" (Convert.c rgb2l: the L24 macro, ITU-R 601-2 in 16-bit fixed point)
// and "L" -> "RGB" (channel replicated).
DecodeResult ConvertTo(Image native, ColorMode mode) {
  const int want = ChannelCount(mode);
  DecodeResult r;
  if (native.channels == want) {
    r.image = std::move(native);
    return r;
  }
  Image out = NewImage(native.width, native.height, want);
  const std::size_t n = static_cast<std::size_t>(native.width) * native.height;
  const std::uint8_t* s = native.pixels.data();
  std::uint8_t* d = out.pixels.data();
  if (want == 1) {
    for (std::size_t i = 0; i < n; ++i, s += 3) {
      d[i] = static_cast<std::uint8_t>((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i, d += 3) d[0] = d[1] = d[2] = s[i];
  }
  r.image = std::move(out);
  return r;
}

// ---------------------------------------------------------------------------- JPEG

struct TjDecompressor {
  tjhandle handle = tjInitDecompress();
  ~TjDecompressor() {
    if (handle) tjDestroy(handle);
  }
};

DecodeResult DecodeJpeg(const std::uint8_t* data, std::size_t size, ColorMode mode,
                        long long max_pixels) {
  thread_local TjDecompressor tj;  // one handle per worker thread; handles are not shareable
  if (!tj.handle) return Fail("cannot initialise turbojpeg");
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.handle, data, static_cast<unsigned long>(size), &width, &height,
                          &subsamp, &colorspace) != 0) {
    return Fail("corrupt jpeg header: " + Lower(tjGetErrorStr2(tj.handle)));
  }
  if (std::string e = CheckSize(width, height, max_pixels); !e.empty()) return Fail(e);
  const bool grey = colorspace == TJCS_GRAY;
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int pf = grey ? TJPF_GRAY : (cmyk ? TJPF_CMYK : TJPF_RGB);
  const int channels = grey ? 1 : (cmyk ? 4 : 3);
  Image im = NewImage(width, height, channels);
  if (tjDecompress2(tj.handle, data, static_cast<unsigned long>(size), im.pixels.data(), width, 0,
                    height, pf, 0) != 0) {
    const std::string msg = Lower(tjGetErrorStr2(tj.handle));
    if (tjGetErrorCode(tj.handle) == TJERR_FATAL) return Fail("corrupt jpeg data: " + msg);
    // PIL ignores libjpeg warnings except running out of data, which it reports as
    // "image file is truncated" (TurboJPEG pads with a fake EOI and warns instead).
    if (msg.find("premature end") != std::string::npos) return Fail("truncated jpeg data");
  }
  if (cmyk) {
    // PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts with Convert.c
    // cmyk2rgb: v = clip8(nk - muldiv255(c, nk)), nk = 255 - k.
    Image rgb = NewImage(width, height, 3);
    const std::size_t n = static_cast<std::size_t>(width) * height;
    const std::uint8_t* s = im.pixels.data();
    std::uint8_t* d = rgb.pixels.data();
    for (std::size_t i = 0; i < n; ++i, s += 4, d += 3) {
      const int nk = s[3];  // 255 - (255 - raw k)
      for (int c = 0; c < 3; ++c) {
        const int tmp = (255 - s[c]) * nk + 128;
        const int v = nk - (((tmp >> 8) + tmp) >> 8);
        d[c] = static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
    }
    im = std::move(rgb);
  }
  return ConvertTo(std::move(im), mode);
}

// ----------------------------------------------------------------------------- PNG

struct PngSource {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  bool truncated;
  char message[160];
};

void PngRead(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) {
    src->truncated = true;
    png_error(png, "truncated");
  }
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

void PngError(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof(src->message), "%s", message);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

struct PngHeader {
  png_uint_32 width, height;
  int bit_depth, color_type, channels;
  std::size_t rowbytes;
};

// The setjmp frames own no C++ objects, so longjmp out of libpng skips no destructors.
bool PngReadHeader(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->color_type, nullptr, nullptr,
               nullptr);
  if (h->bit_depth < 8) {
    // Palette indices to one byte each; grey scaled to 0..255 (as PIL's "1", "L;2", "L;4").
    if (h->color_type == PNG_COLOR_TYPE_PALETTE) {
      png_set_packing(png);
    } else {
      png_set_expand_gray_1_2_4_to_8(png);
    }
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  h->channels = png_get_channels(png, info);
  h->bit_depth = png_get_bit_depth(png, info);
  h->rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool PngReadRows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  return true;
}

DecodeResult DecodePng(const std::uint8_t* data, std::size_t size, ColorMode mode,
                       long long max_pixels) {
  PngSource src{data, size, 8, false, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, PngError, PngWarning);
  if (!png) return Fail("cannot initialise libpng");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return Fail("cannot initialise libpng");
  }
  png_set_read_fn(png, &src, PngRead);
  png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_WARN_DISCARD);

  auto failure = [&]() {
    std::string m =
        src.truncated ? "truncated png data" : "corrupt png data: " + Lower(src.message);
    png_destroy_read_struct(&png, &info, nullptr);
    return Fail(m);
  };
  PngHeader h{};
  if (!PngReadHeader(png, info, &h)) return failure();
  if (std::string e = CheckSize(h.width, h.height, max_pixels); !e.empty()) {
    png_destroy_read_struct(&png, &info, nullptr);
    return Fail(e);
  }
  std::vector<std::uint8_t> raw(h.rowbytes * h.height);
  std::vector<png_bytep> rows(h.height);
  for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = raw.data() + y * h.rowbytes;
  if (!PngReadRows(png, rows.data())) return failure();

  png_colorp plte = nullptr;
  int plte_count = 0;
  if (h.color_type == PNG_COLOR_TYPE_PALETTE) png_get_PLTE(png, info, &plte, &plte_count);
  // PIL's palette starts as a grey ramp; the PLTE entries overwrite its head.
  std::uint8_t lut[256][3];
  for (int i = 0; i < 256; ++i) lut[i][0] = lut[i][1] = lut[i][2] = static_cast<std::uint8_t>(i);
  for (int i = 0; i < plte_count && i < 256; ++i) {
    lut[i][0] = plte[i].red;
    lut[i][1] = plte[i].green;
    lut[i][2] = plte[i].blue;
  }
  png_destroy_read_struct(&png, &info, nullptr);

  const int w = static_cast<int>(h.width), ht = static_cast<int>(h.height);
  const bool palette = h.color_type == PNG_COLOR_TYPE_PALETTE;
  const int in_ch = h.channels;  // 1 grey/palette, 2 grey+alpha, 3 RGB, 4 RGBA
  const int out_ch = (palette || in_ch >= 3) ? 3 : 1;
  const int bytes = h.bit_depth == 16 ? 2 : 1;
  // 16-bit grey opens as PIL mode "I" and clamps to 255 on conversion; other 16-bit
  // modes unpack big-endian samples to their high byte.
  const bool grey16 = bytes == 2 && in_ch == 1;
  Image im = NewImage(w, ht, out_ch);
  std::uint8_t* d = im.pixels.data();
  for (int y = 0; y < ht; ++y) {
    const std::uint8_t* s = rows[y];
    for (int x = 0; x < w; ++x, s += in_ch * bytes) {
      if (palette) {
        std::memcpy(d, lut[s[0]], 3);
        d += 3;
      } else if (grey16) {
        const int v = (s[0] << 8) | s[1];
        *d++ = static_cast<std::uint8_t>(v > 255 ? 255 : v);
      } else {
        for (int c = 0; c < out_ch; ++c) *d++ = s[c * bytes];
      }
    }
  }
  return ConvertTo(std::move(im), mode);
}

// ----------------------------------------------------------------------------- BMP

std::uint32_t U32(const std::uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint16_t U16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }

const char* BmpCompressionName(std::uint32_t c) {
  switch (c) {
    case 1:
      return "bi_rle8";
    case 2:
      return "bi_rle4";
    case 3:
      return "bi_bitfields";
    case 4:
      return "bi_jpeg";
    case 5:
      return "bi_png";
    case 6:
      return "bi_alphabitfields";
    default:
      return "unknown";
  }
}

DecodeResult DecodeBmp(const std::uint8_t* data, std::size_t size, ColorMode mode,
                       long long max_pixels) {
  if (size < 14 + 12) return Fail("truncated bmp header");
  const std::uint32_t offset = U32(data + 10);
  const std::uint32_t header_size = U32(data + 14);
  long long width = 0, height = 0;
  int bpp = 0;
  std::uint32_t compression = 0, colors_used = 0;
  int palette_entry = 4;
  if (header_size == 12) {  // OS/2 BITMAPCOREHEADER
    width = U16(data + 18);
    height = U16(data + 20);
    bpp = U16(data + 24);
    palette_entry = 3;
  } else if (header_size >= 40) {
    if (size < 14 + 40) return Fail("truncated bmp header");
    width = static_cast<std::int32_t>(U32(data + 18));
    height = static_cast<std::int32_t>(U32(data + 22));
    bpp = U16(data + 28);
    compression = U32(data + 30);
    colors_used = U32(data + 46);
  } else {
    return Fail("unsupported bmp header size " + std::to_string(header_size));
  }
  if (compression != 0) {
    return Fail("unsupported bmp compression " + std::to_string(compression) + " (" +
                BmpCompressionName(compression) + ")");
  }
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 24 && bpp != 32) {
    return Fail("unsupported bmp bit depth " + std::to_string(bpp));
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  if (std::string e = CheckSize(width, height, max_pixels); !e.empty()) return Fail(e);
  std::uint8_t lut[256][3];
  for (int i = 0; i < 256; ++i) lut[i][0] = lut[i][1] = lut[i][2] = static_cast<std::uint8_t>(i);
  if (bpp <= 8) {
    std::size_t count = colors_used ? colors_used : (1u << bpp);
    if (count > 256) count = 256;
    const std::size_t pal_at = 14 + header_size;
    if (pal_at + count * palette_entry > size) return Fail("truncated bmp palette");
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint8_t* e = data + pal_at + i * palette_entry;  // BGR(X)
      lut[i][0] = e[2];
      lut[i][1] = e[1];
      lut[i][2] = e[0];
    }
  }
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  const std::size_t stride = ((static_cast<std::size_t>(w) * bpp + 31) / 32) * 4;
  std::size_t bytes = 0;
  if (offset > size || __builtin_mul_overflow(stride, static_cast<std::size_t>(h), &bytes) ||
      bytes > size - offset) {
    return Fail("truncated bmp data");
  }
  Image im = NewImage(w, h, 3);
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* s = data + offset + stride * (top_down ? y : h - 1 - y);
    std::uint8_t* d = im.pixels.data() + static_cast<std::size_t>(y) * w * 3;
    for (int x = 0; x < w; ++x, d += 3) {
      if (bpp == 24 || bpp == 32) {
        const std::uint8_t* p = s + static_cast<std::size_t>(x) * (bpp / 8);
        d[0] = p[2];
        d[1] = p[1];
        d[2] = p[0];
      } else {
        const int bit = x * bpp;
        const int index = (s[bit >> 3] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        std::memcpy(d, lut[index], 3);
      }
    }
  }
  return ConvertTo(std::move(im), mode);
}

// ------------------------------------------------------------------------- PPM/PGM

// Reads one header integer, skipping whitespace and '#' comments. -1 on failure.
long PnmInt(const std::uint8_t* data, std::size_t size, std::size_t* pos) {
  while (*pos < size) {
    const char c = static_cast<char>(data[*pos]);
    if (c == '#') {
      while (*pos < size && data[*pos] != '\n' && data[*pos] != '\r') ++*pos;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++*pos;
    } else {
      break;
    }
  }
  long v = 0;
  int digits = 0;
  while (*pos < size && std::isdigit(data[*pos]) && digits < 9) {
    v = v * 10 + (data[*pos] - '0');
    ++*pos;
    ++digits;
  }
  return digits ? v : -1;
}

DecodeResult DecodePnm(const std::uint8_t* data, std::size_t size, ColorMode mode,
                       long long max_pixels) {
  const char kind = static_cast<char>(data[1]);
  if (kind != '5' && kind != '6') {
    return Fail(std::string("unsupported pnm type p") + kind + " (only binary p5 and p6)");
  }
  std::size_t pos = 2;
  const long w = PnmInt(data, size, &pos);
  const long h = PnmInt(data, size, &pos);
  const long maxval = PnmInt(data, size, &pos);
  if (w <= 0 || h <= 0 || maxval <= 0 || pos >= size ||
      !std::isspace(static_cast<unsigned char>(data[pos]))) {
    return Fail("corrupt pnm header");
  }
  if (std::string e = CheckSize(w, h, max_pixels); !e.empty()) return Fail(e);
  if (maxval != 255) {
    return Fail("unsupported pnm maxval " + std::to_string(maxval) + " (only 255)");
  }
  ++pos;  // exactly one whitespace byte ends the header
  const int channels = kind == '6' ? 3 : 1;
  std::size_t need = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(w) * static_cast<std::size_t>(h),
                             static_cast<std::size_t>(channels), &need) ||
      need > size - pos) {
    return Fail("truncated pnm data");
  }
  Image im = NewImage(static_cast<int>(w), static_cast<int>(h), channels);
  std::memcpy(im.pixels.data(), data + pos, need);
  return ConvertTo(std::move(im), mode);
}

// ---------------------------------------------------------------------------- WebP

DecodeResult DecodeWebp(const std::uint8_t* data, std::size_t size, ColorMode mode,
                        long long max_pixels) {
  WebPBitstreamFeatures features;
  const VP8StatusCode status = WebPGetFeatures(data, size, &features);
  if (status == VP8_STATUS_NOT_ENOUGH_DATA) return Fail("truncated webp data");
  if (status != VP8_STATUS_OK) return Fail("corrupt webp header");
  if (features.has_animation) return Fail("animated webp is not supported");
  const int w = features.width, h = features.height;
  if (std::string e = CheckSize(w, h, max_pixels); !e.empty()) return Fail(e);
  const int channels = features.has_alpha ? 4 : 3;
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(w) * h * channels);
  const int stride = w * channels;
  const std::uint8_t* ok = features.has_alpha
                               ? WebPDecodeRGBAInto(data, size, buf.data(), buf.size(), stride)
                               : WebPDecodeRGBInto(data, size, buf.data(), buf.size(), stride);
  if (!ok) return Fail("corrupt or truncated webp data");
  Image im = NewImage(w, h, 3);
  if (channels == 3) {
    im.pixels = std::move(buf);
  } else {
    const std::size_t n = static_cast<std::size_t>(w) * h;
    for (std::size_t i = 0; i < n; ++i) std::memcpy(&im.pixels[i * 3], &buf[i * 4], 3);
  }
  return ConvertTo(std::move(im), mode);
}

DecodeResult DecodeAny(const std::uint8_t* data, std::size_t size, ColorMode mode,
                       long long max_pixels);

bool StartsWith(const std::uint8_t* data, std::size_t size, const char* magic, std::size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

}  // namespace

DecodeResult DecodeImage(const std::uint8_t* data, std::size_t size, ColorMode mode,
                         long long max_pixels) {
  try {
    DecodeResult r = DecodeAny(data, size, mode, max_pixels);
    const long long pixels = static_cast<long long>(r.image.width) * r.image.height;
    if (r.ok() && max_pixels > 0 && pixels > max_pixels) {
      r.warning = "large image: " + std::to_string(r.image.width) + "x" +
                  std::to_string(r.image.height) + " = " + std::to_string(pixels) +
                  " pixels, over --max-image-pixels " + std::to_string(max_pixels) +
                  " (Pillow warns of a possible decompression bomb)";
    }
    return r;
  } catch (const std::bad_alloc&) {
    return Fail("out of memory decoding image");
  }
}

namespace {

DecodeResult DecodeAny(const std::uint8_t* data, std::size_t size, ColorMode mode,
                       long long max_pixels) {
  if (size == 0) return Fail("zero-byte file");
  if (StartsWith(data, size, "\xff\xd8\xff", 3)) return DecodeJpeg(data, size, mode, max_pixels);
  if (StartsWith(data, size, "\x89PNG\r\n\x1a\n", 8))
    return DecodePng(data, size, mode, max_pixels);
  if (StartsWith(data, size, "BM", 2)) return DecodeBmp(data, size, mode, max_pixels);
  if (size >= 12 && StartsWith(data, size, "RIFF", 4) && std::memcmp(data + 8, "WEBP", 4) == 0) {
    return DecodeWebp(data, size, mode, max_pixels);
  }
  if (size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7' && std::isspace(data[2])) {
    return DecodePnm(data, size, mode, max_pixels);
  }
  if (StartsWith(data, size, "II*\0", 4) || StartsWith(data, size, "MM\0*", 4)) {
    return Fail("tiff is not supported");
  }
  if (StartsWith(data, size, "GIF8", 4)) return Fail("gif is not supported");
  std::string magic;
  char hex[4];
  for (std::size_t i = 0; i < size && i < 4; ++i) {
    std::snprintf(hex, sizeof(hex), i ? " %02x" : "%02x", data[i]);
    magic += hex;
  }
  return Fail("not a recognised image format (magic bytes " + magic + ")");
}

}  // namespace

DecodeResult DecodeFile(const std::filesystem::path& path, ColorMode mode, long long max_pixels) {
  // Regular files only, opened without blocking: a FIFO named like an image never blocks.
  const UserFile file = OpenUserFile(path);
  if (file.fd < 0) {
    if (file.kind) return Fail(UserFileFailure(file));
    return Fail(file.error == ENOENT ? "cannot read file: no such file"
                                     : "cannot read file: " + UserFileFailure(file));
  }
  const int fd = file.fd;
  // Reuse one buffer per thread: files are read back to back by each worker.
  thread_local std::vector<std::uint8_t> buffer;
  const std::size_t length = file.size;
  try {
    buffer.resize(length);
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return Fail("out of memory reading a file of " + std::to_string(length) + " bytes");
  }
  std::size_t got = 0;
  while (got < length) {
    const ssize_t n = ::read(fd, buffer.data() + got, length - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buffer.resize(got);  // a file that shrank while read decodes as what was there (truncated)
  return DecodeImage(buffer.data(), buffer.size(), mode, max_pixels);
}

}  // namespace oodscore
