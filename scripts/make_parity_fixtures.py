#!/usr/bin/env python3
"""Write the image-decoding and preprocessing parity fixtures.

Creates small test images under tests/fixtures/images/ (fixed seed) and, for each image
and each transform spec, the uint8 output of PIL + torchvision (Image.open(f).convert(mode),
torchvision.transforms Resize/CenterCrop, np.asarray) plus, for a few specs, the float32
tensor after ToTensor + Normalize, under tests/fixtures/parity/:

  index.json     {"specs": {name: preset json}, "cases": [{image, spec, kind, shape,
                  offset, length}], "errors": {file: expected message}}
  uint8.bin      concatenated HWC uint8 arrays  (kind "uint8")
  float32.bin    concatenated CHW little-endian float32 tensors (kind "float32")

Run with Debian's interpreter (python3-pil 9.4, python3-torchvision 0.14):
  /usr/bin/python3 scripts/make_parity_fixtures.py [REPO_ROOT]
"""

import io
import json
import pathlib
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

SEED = 20240601

# Transform specs, in the preset format of oodscore::ParsePresetJson.
RGB_MEAN, RGB_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SPECS = {
    "decode_rgb": {"mode": "RGB"},
    "decode_l": {"mode": "L"},
    "rgb_32x32": {"mode": "RGB", "resize": [32, 32]},
    "l_28x28": {"mode": "L", "resize": [28, 28]},
    "resize20_crop16": {"mode": "RGB", "resize": 20, "crop": 16},
    "resize64_crop56": {"mode": "RGB", "resize": 64, "crop": 56},
    "bicubic_24x30": {"mode": "RGB", "resize": [24, 30], "interpolation": "bicubic"},
    "l_bicubic_resize40_crop33": {"mode": "L", "resize": 40, "crop": 33,
                                  "interpolation": "bicubic"},
    "nearest_resize17_crop15x13": {"mode": "RGB", "resize": 17, "crop": [15, 13],
                                   "interpolation": "nearest"},
    "l_nearest_19x23": {"mode": "L", "resize": [19, 23], "interpolation": "nearest"},
    "upscale_90x77": {"mode": "RGB", "resize": [90, 77]},
    "crop_only_40": {"mode": "RGB", "crop": 40},
    "resize20_crop30x10": {"mode": "RGB", "resize": 20, "crop": [30, 10]},
}
FLOAT_SPECS = ["resize20_crop16", "l_28x28", "decode_rgb"]
# Specs with large outputs run on these images only, to keep the fixtures small.
LARGE_SPECS = ["upscale_90x77", "resize64_crop56", "crop_only_40", "decode_rgb"]
LARGE_SPEC_IMAGES = ["jpeg_420_60x45.jpg", "jpeg_444_9x71.jpg", "png_grey_1x50.png",
                     "webp_lossy_60x45.webp"]
INTERP = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
          "nearest": T.InterpolationMode.NEAREST}


def full_spec(name):
    s = dict(SPECS[name])
    s["name"] = name
    s.setdefault("interpolation", "bilinear")
    grey = s["mode"] == "L"
    s["mean"] = [0.1307] if grey else RGB_MEAN
    s["std"] = [0.3081] if grey else RGB_STD
    return s


def pil_transforms(spec):
    steps = []
    if spec.get("resize") is not None:
        steps.append(T.Resize(spec["resize"], interpolation=INTERP[spec["interpolation"]]))
    if spec.get("crop") is not None:
        steps.append(T.CenterCrop(spec["crop"]))
    return T.Compose(steps)


def smooth_noise(rng, h, w, c):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for k in range(c):
        fx, fy = rng.uniform(0.5, 3.0, 2)
        base = 127.5 + 90 * np.sin(fx * 2 * np.pi * x / max(w, 2) + k) * np.cos(
            fy * 2 * np.pi * y / max(h, 2) - k)
        base += rng.normal(0, 18, (h, w))
        chans.append(base)
    a = np.stack(chans, axis=-1)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path, arr, color_type):
    """Minimal 16-bit PNG writer (PIL cannot write 16-bit RGB)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    data = (b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))
    path.write_bytes(data)


def write_bmp(path, arr, bpp, palette=None, top_down=False, compression=0):
    """Minimal BMP writer: 32-bit BGRX, or 1/4/8-bit palette indices."""
    h, w = arr.shape[:2]
    stride = ((w * bpp + 31) // 32) * 4
    rows = []
    for y in (range(h) if top_down else range(h - 1, -1, -1)):
        if bpp == 32:
            row = np.concatenate([arr[y][:, ::-1], np.full((w, 1), 77, np.uint8)], 1).tobytes()
        else:
            bits = "".join(format(int(v), "0%db" % bpp) for v in arr[y])
            bits += "0" * (-len(bits) % 8)
            row = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
        rows.append(row + b"\x00" * (stride - len(row)))
    pal = b""
    if palette is not None:
        pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    offset = 14 + 40 + len(pal)
    body = b"".join(rows)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, compression,
                       len(body), 2835, 2835, len(palette or []), 0)
    head = b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset)
    path.write_bytes(head + info + pal + body)


def make_images(img_dir, rng):
    files = {}

    def save(name, im, **kw):
        im.save(img_dir / name, **kw)
        files[name] = True

    rgb_60x45 = Image.fromarray(smooth_noise(rng, 45, 60, 3))
    save("jpeg_420_60x45.jpg", rgb_60x45, quality=90, subsampling=2)
    save("jpeg_progressive_37x23.jpg", Image.fromarray(smooth_noise(rng, 23, 37, 3)),
         quality=85, progressive=True)
    save("jpeg_444_9x71.jpg", Image.fromarray(smooth_noise(rng, 71, 9, 3)), quality=95,
         subsampling=0)
    save("jpeg_grey_50x33.jpg", Image.fromarray(smooth_noise(rng, 33, 50, 1)[:, :, 0]),
         quality=90)
    save("jpeg_cmyk_21x14.jpg", Image.fromarray(smooth_noise(rng, 14, 21, 4), "CMYK"),
         quality=90)
    save("png_rgb_37x23.png", Image.fromarray(smooth_noise(rng, 23, 37, 3)))
    save("png_rgba_30x26.png", Image.fromarray(smooth_noise(rng, 26, 30, 4), "RGBA"))
    la = smooth_noise(rng, 37, 23, 2)
    save("png_la_23x37.png", Image.fromarray(la, "LA"))
    save("png_palette_40x30.png",
         Image.fromarray(smooth_noise(rng, 30, 40, 3)).quantize(colors=37, method=0),
         transparency=3)
    save("png_grey_1x50.png", Image.fromarray(smooth_noise(rng, 50, 1, 1)[:, :, 0]))
    save("png_bilevel_13x11.png",
         Image.fromarray(smooth_noise(rng, 11, 13, 1)[:, :, 0]).convert("1"))
    save("png_interlaced_25x19.png", Image.fromarray(smooth_noise(rng, 19, 25, 3)),
         interlace=1)
    g16 = (smooth_noise(rng, 20, 30, 1)[:, :, 0].astype(np.uint16) * 3)  # 0..765
    g16[0, :5] = [0, 254, 255, 256, 65535]
    write_png16(img_dir / "png_grey16_30x20.png", g16, 0)
    files["png_grey16_30x20.png"] = True
    rgb16 = smooth_noise(rng, 15, 18, 3).astype(np.uint16) * 257 + rng.integers(
        0, 257, (15, 18, 3)).astype(np.uint16)
    write_png16(img_dir / "png_rgb16_18x15.png", rgb16, 2)
    files["png_rgb16_18x15.png"] = True
    save("bmp_24_37x23.bmp", Image.fromarray(smooth_noise(rng, 23, 37, 3)))
    save("bmp_p8_20x15.bmp",
         Image.fromarray(smooth_noise(rng, 15, 20, 3)).quantize(colors=50, method=0))
    save("bmp_1bit_13x7.bmp", Image.fromarray(smooth_noise(rng, 7, 13, 1)[:, :, 0]).convert("1"))
    write_bmp(img_dir / "bmp_32_topdown_11x9.bmp", smooth_noise(rng, 9, 11, 3), 32,
              top_down=True)
    files["bmp_32_topdown_11x9.bmp"] = True
    pal16 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(16)]
    write_bmp(img_dir / "bmp_p4_15x6.bmp", rng.integers(0, 16, (6, 15)), 4, palette=pal16)
    files["bmp_p4_15x6.bmp"] = True
    save("ppm_rgb_37x23.ppm", Image.fromarray(smooth_noise(rng, 23, 37, 3)))
    save("pgm_grey_9x71.pgm", Image.fromarray(smooth_noise(rng, 71, 9, 1)[:, :, 0]))
    save("webp_lossy_60x45.webp", Image.fromarray(smooth_noise(rng, 45, 60, 3)), quality=80)
    rgba = smooth_noise(rng, 14, 21, 4)
    save("webp_lossless_alpha_21x14.webp", Image.fromarray(rgba, "RGBA"), lossless=True,
         exact=True)

    # Bad files and their expected errors (pinned by tests/decode_test.cc).
    errors = {}
    (img_dir / "bad_zero_byte.jpg").write_bytes(b"")
    errors["bad_zero_byte.jpg"] = "zero-byte file"
    good = (img_dir / "jpeg_420_60x45.jpg").read_bytes()
    (img_dir / "bad_truncated.jpg").write_bytes(good[:len(good) // 2])
    errors["bad_truncated.jpg"] = "truncated jpeg data"
    (img_dir / "bad_html.png").write_bytes(b"<html><body>not found</body></html>\n")
    errors["bad_html.png"] = "not a recognised image format (magic bytes 3c 68 74 6d)"
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (9, 8, 7)).save(buf, "TIFF")
    (img_dir / "bad_tiff.tif").write_bytes(buf.getvalue())
    errors["bad_tiff.tif"] = "tiff is not supported"
    write_bmp(img_dir / "bad_rle8.bmp", np.zeros((2, 2), np.uint8), 8,
              palette=[(0, 0, 0)] * 2, compression=1)
    errors["bad_rle8.bmp"] = "unsupported bmp compression 1 (bi_rle8)"
    png = (img_dir / "png_rgb_37x23.png").read_bytes()
    (img_dir / "bad_truncated.png").write_bytes(png[:len(png) * 2 // 3])
    errors["bad_truncated.png"] = "truncated png data"
    return sorted(files), errors


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parent.parent)
    img_dir = root / "tests/fixtures/images"
    out_dir = root / "tests/fixtures/parity"
    img_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    images, errors = make_images(img_dir, rng)

    # Sanity: PIL must really fail on the bad files (except the formats we reject by choice).
    for name in errors:
        if name in ("bad_tiff.tif", "bad_rle8.bmp"):
            continue
        try:
            Image.open(img_dir / name).convert("RGB")
        except Exception:  # noqa: BLE001
            pass
        else:
            raise SystemExit("PIL decoded %s" % name)

    u8 = bytearray()
    f32 = bytearray()
    cases = []
    specs = {name: full_spec(name) for name in SPECS}
    for image in images:
        for name, spec in specs.items():
            if name in LARGE_SPECS and image not in LARGE_SPEC_IMAGES:
                if name != "decode_rgb":
                    continue
            with Image.open(img_dir / image) as im:
                pil = im.convert(spec["mode"])
            out = pil_transforms(spec)(pil)
            arr = np.asarray(out, dtype=np.uint8)
            if arr.ndim == 2:
                arr = arr[:, :, None]
            cases.append({"image": image, "spec": name, "kind": "uint8",
                          "shape": list(arr.shape), "offset": len(u8), "length": arr.size})
            u8 += arr.tobytes()
            if name in FLOAT_SPECS and (name not in LARGE_SPECS or image in LARGE_SPEC_IMAGES):
                t = T.Normalize(spec["mean"], spec["std"])(T.ToTensor()(out))
                data = t.numpy().astype("<f4").tobytes()
                cases.append({"image": image, "spec": name, "kind": "float32",
                              "shape": list(t.shape), "offset": len(f32) // 4,
                              "length": t.numel()})
                f32 += data
    (out_dir / "uint8.bin").write_bytes(bytes(u8))
    (out_dir / "float32.bin").write_bytes(bytes(f32))
    index = {"generator": "scripts/make_parity_fixtures.py", "seed": SEED,
             "versions": {"pillow": Image.__version__, "torch": torch.__version__,
                          "torchvision": __import__("torchvision").__version__},
             "specs": specs, "cases": cases, "errors": errors}
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    total = sum(p.stat().st_size for p in img_dir.iterdir()) + sum(
        p.stat().st_size for p in out_dir.iterdir())
    print("%d images, %d cases, %d bytes in fixtures" % (len(images), len(cases), total))


if __name__ == "__main__":
    main()
