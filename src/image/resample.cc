// A port of Pillow 9.4's resize (src/libImaging/Resample.c for bilinear/bicubic,
// Geometry.c ImagingScaleAffine for nearest). Every arithmetic step that affects the
// result (double-precision coefficients, their normalisation, the 22-bit fixed-point
// conversion, the rounding offset, the accumulated nearest-neighbour coordinate) is
// kept as Pillow does it; anything else is free to differ.
#include "oodscore/resample.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace oodscore {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double BilinearFilter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

inline std::uint8_t Clip8(int v) {
  v >>= kPrecisionBits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Fixed-point filter taps for output indices [first, first + count) of one axis.
// Tap j of output i applies to input index bounds[2 i] + j, for bounds[2 i + 1] taps.
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;       // (xmin, xcount) per output index
  std::vector<std::int32_t> kk;  // ksize per output index
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc (box = [0, in_size]).
Coeffs PrecomputeCoeffs(int in_size, int out_size, int first, int count, Interpolation interp) {
  double (*filter)(double) = interp == Interpolation::kBicubic ? BicubicFilter : BilinearFilter;
  const double filter_support = interp == Interpolation::kBicubic ? 2.0 : 1.0;
  // Pillow's in0/in1 are floats; for integer sizes the conversion is exact.
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * static_cast<std::size_t>(count));
  c.kk.assign(static_cast<std::size_t>(count) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int i = 0; i < count; ++i) {
    const int xx = first + i;
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    std::int32_t* out = &c.kk[static_cast<std::size_t>(i) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
      const double v = k[x];
      out[x] = v < 0 ? static_cast<int>(-0.5 + v * (1 << kPrecisionBits))
                     : static_cast<int>(0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[2 * i] = xmin;
    c.bounds[2 * i + 1] = xmax;
  }
  return c;
}

// Horizontal pass: rows [row0, row0 + rows) of `in` into `out` (width = output count).
template <int C>
void Horizontal(const Image& in, int row0, int rows, const Coeffs& c, int out_w,
                std::uint8_t* out) {
  const std::size_t in_stride = static_cast<std::size_t>(in.width) * C;
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* src = in.pixels.data() + (row0 + y) * in_stride;
    std::uint8_t* dst = out + static_cast<std::size_t>(y) * out_w * C;
    for (int xx = 0; xx < out_w; ++xx) {
      const int xmin = c.bounds[2 * xx], xcount = c.bounds[2 * xx + 1];
      const std::int32_t* k = &c.kk[static_cast<std::size_t>(xx) * c.ksize];
      const std::uint8_t* s = src + static_cast<std::size_t>(xmin) * C;
      int ss[C];
      for (int ch = 0; ch < C; ++ch) ss[ch] = 1 << (kPrecisionBits - 1);
      for (int x = 0; x < xcount; ++x) {
        for (int ch = 0; ch < C; ++ch) ss[ch] += s[x * C + ch] * k[x];
      }
      for (int ch = 0; ch < C; ++ch) dst[xx * C + ch] = Clip8(ss[ch]);
    }
  }
}

// Vertical pass: `in` has `width` pixels per row; bounds are relative to its first row.
template <int C>
void Vertical(const std::uint8_t* in, int width, const Coeffs& c, int out_h, int row_shift,
              std::uint8_t* out) {
  const std::size_t stride = static_cast<std::size_t>(width) * C;
  std::vector<int> acc(stride);
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = c.bounds[2 * yy] - row_shift, ycount = c.bounds[2 * yy + 1];
    const std::int32_t* k = &c.kk[static_cast<std::size_t>(yy) * c.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < ycount; ++y) {
      const std::uint8_t* src = in + (ymin + y) * stride;
      const int w = k[y];
      for (std::size_t i = 0; i < stride; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out + yy * stride;
    for (std::size_t i = 0; i < stride; ++i) dst[i] = Clip8(acc[i]);
  }
}

template <int C>
Image ResampleWindow(const Image& in, int out_w, int out_h, int left, int top, int cw, int ch,
                     Interpolation interp) {
  const bool need_h = out_w != in.width;
  const bool need_v = out_h != in.height;
  Image out;
  out.width = cw;
  out.height = ch;
  out.channels = C;
  out.pixels.resize(static_cast<std::size_t>(cw) * ch * C);

  const Coeffs vert = PrecomputeCoeffs(in.height, out_h, top, ch, interp);
  // Rows of the source that the vertical pass reads.
  const int row_first = need_v ? vert.bounds[0] : top;
  const int row_last =
      need_v ? vert.bounds[2 * (ch - 1)] + vert.bounds[2 * (ch - 1) + 1] : top + ch;

  std::vector<std::uint8_t> temp;
  const std::uint8_t* stage = nullptr;  // rows [row_first, row_last), width `stage_w`
  int stage_w = 0, stage_x0 = 0;
  if (need_h) {
    const Coeffs horiz = PrecomputeCoeffs(in.width, out_w, left, cw, interp);
    temp.resize(static_cast<std::size_t>(row_last - row_first) * cw * C);
    Horizontal<C>(in, row_first, row_last - row_first, horiz, cw, temp.data());
    stage = temp.data();
    stage_w = cw;
  } else {
    stage = in.pixels.data() + static_cast<std::size_t>(row_first) * in.width * C;
    stage_w = in.width;
    stage_x0 = left;
  }

  if (need_v) {
    if (stage_x0 == 0 && stage_w == cw) {
      Vertical<C>(stage, cw, vert, ch, row_first, out.pixels.data());
    } else {
      // Horizontal identity with a column window: compact the needed columns first.
      std::vector<std::uint8_t> cols(static_cast<std::size_t>(row_last - row_first) * cw * C);
      for (int y = 0; y < row_last - row_first; ++y) {
        std::memcpy(&cols[static_cast<std::size_t>(y) * cw * C],
                    stage + (static_cast<std::size_t>(y) * stage_w + stage_x0) * C,
                    static_cast<std::size_t>(cw) * C);
      }
      Vertical<C>(cols.data(), cw, vert, ch, row_first, out.pixels.data());
    }
  } else {
    for (int y = 0; y < ch; ++y) {
      std::memcpy(&out.pixels[static_cast<std::size_t>(y) * cw * C],
                  stage + (static_cast<std::size_t>(y) * stage_w + stage_x0) * C,
                  static_cast<std::size_t>(cw) * C);
    }
  }
  return out;
}

// Pillow's COORD macro.
inline int Coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

// Pillow's ImagingScaleAffine (nearest) with fill = 1, restricted to a window.
Image NearestWindow(const Image& in, int out_w, int out_h, int left, int top, int cw, int ch) {
  const int c = in.channels;
  Image out;
  out.width = cw;
  out.height = ch;
  out.channels = c;
  out.pixels.assign(static_cast<std::size_t>(cw) * ch * c, 0);
  if (out_w == in.width && out_h == in.height) {  // PIL copies
    for (int y = 0; y < ch; ++y) {
      std::memcpy(&out.pixels[static_cast<std::size_t>(y) * cw * c],
                  &in.pixels[(static_cast<std::size_t>(top + y) * in.width + left) * c],
                  static_cast<std::size_t>(cw) * c);
    }
    return out;
  }
  const double a0 = static_cast<double>(static_cast<float>(in.width) - 0.0f) / out_w;
  const double a4 = static_cast<double>(static_cast<float>(in.height) - 0.0f) / out_h;
  // The coordinates accumulate by repeated addition, exactly as Pillow does.
  std::vector<int> xin(cw, -1);
  double xo = 0.0 + a0 * 0.5;
  for (int x = 0; x < left + cw; ++x) {
    const int xi = Coord(xo);
    if (x >= left && xi >= 0 && xi < in.width) xin[x - left] = xi;
    xo += a0;
  }
  double yo = 0.0 + a4 * 0.5;
  for (int y = 0; y < top + ch; ++y) {
    const int yi = Coord(yo);
    if (y >= top && yi >= 0 && yi < in.height) {
      const std::uint8_t* src = &in.pixels[static_cast<std::size_t>(yi) * in.width * c];
      std::uint8_t* dst = &out.pixels[static_cast<std::size_t>(y - top) * cw * c];
      for (int x = 0; x < cw; ++x) {
        if (xin[x] < 0) continue;
        for (int k = 0; k < c; ++k) dst[x * c + k] = src[xin[x] * c + k];
      }
    }
    yo += a4;
  }
  return out;
}

}  // namespace

Image ResizeWindow(const Image& in, int out_width, int out_height, int left, int top,
                   int crop_width, int crop_height, Interpolation interp) {
  if (interp == Interpolation::kNearest) {
    return NearestWindow(in, out_width, out_height, left, top, crop_width, crop_height);
  }
  if (in.channels == 1) {
    return ResampleWindow<1>(in, out_width, out_height, left, top, crop_width, crop_height, interp);
  }
  return ResampleWindow<3>(in, out_width, out_height, left, top, crop_width, crop_height, interp);
}

Image Resize(const Image& in, int out_width, int out_height, Interpolation interp) {
  return ResizeWindow(in, out_width, out_height, 0, 0, out_width, out_height, interp);
}

}  // namespace oodscore
