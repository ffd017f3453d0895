#!/usr/bin/python3
"""Make the benchmark image folders for oodscore vs. plain PyTorch (fixed seed).

  DIR/png28/<k>_<class>/NNNNN.png   28x28 8-bit greyscale PNGs, the Fashion-MNIST
                                    images (test split first, then train), --png images
  DIR/jpg32/<k>_<class>/NNNNN.jpg   RGB JPEGs (quality 90) of "larger photos": Fashion-MNIST
                                    images upscaled to a random size (96..200 px per side),
                                    tinted with a random colour, mild Gaussian noise added;
                                    the `cifar10` preset resizes them to 32x32. --jpg images

Needs numpy and PIL (Debian: python3-numpy python3-pil); run with /usr/bin/python3.
Idempotent: if a folder's .complete marker records the same parameters it is skipped.
"""

import argparse
import gzip
import pathlib
import shutil
import struct
import sys
import time

import numpy as np
from PIL import Image

CLASSES = ["0_tshirt-top", "1_trouser", "2_pullover", "3_dress", "4_coat",
           "5_sandal", "6_shirt", "7_sneaker", "8_bag", "9_ankle-boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(dataset_dir, count):
    xs, ys = [], []
    for prefix in ("t10k", "train"):
        xs.append(read_idx(dataset_dir / f"{prefix}-images-idx3-ubyte.gz"))
        ys.append(read_idx(dataset_dir / f"{prefix}-labels-idx1-ubyte.gz"))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if count > len(x):
        raise SystemExit(f"error: at most {len(x)} images available, asked for {count}")
    return x[:count], y[:count]


def prepare(out, stamp):
    """Return True if `out` must be (re)written; then it is emptied and class folders made."""
    marker = out / ".complete"
    if marker.is_file() and marker.read_text() == stamp:
        return False
    if out.exists():
        shutil.rmtree(out)
    for c in CLASSES:
        (out / c).mkdir(parents=True)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--dataset-dir", type=pathlib.Path,
                    default=pathlib.Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--png", type=int, default=10000, help="number of 28x28 PNGs (default 10000)")
    ap.add_argument("--jpg", type=int, default=10000, help="number of RGB JPEGs (default 10000)")
    ap.add_argument("--min-size", type=int, default=96)
    ap.add_argument("--max-size", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    for f in ("t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"):
        if not (args.dataset_dir / f).is_file():
            print(f"error: missing {args.dataset_dir / f}\n"
                  "hint: apt-get install dataset-fashion-mnist", file=sys.stderr)
            return 1
    x, y = load_images(args.dataset_dir, max(args.png, args.jpg))
    width = max(5, len(str(len(x) - 1)))

    # (a) png28
    t0 = time.perf_counter()
    out = args.out_dir / "png28"
    if prepare(out, f"v1 n={args.png}\n"):
        for i in range(args.png):
            Image.fromarray(x[i], mode="L").save(out / CLASSES[y[i]] / f"{i:0{width}d}.png")
        (out / ".complete").write_text(f"v1 n={args.png}\n")
        print(f"{out}: wrote {args.png} 28x28 greyscale PNGs in 10 class folders "
              f"({time.perf_counter() - t0:.1f} s)")
    else:
        print(f"{out}: already complete ({args.png} PNGs)")

    # (b) jpg32
    t0 = time.perf_counter()
    out = args.out_dir / "jpg32"
    stamp = f"v1 n={args.jpg} sizes={args.min_size}..{args.max_size} seed={args.seed}\n"
    if prepare(out, stamp):
        rng = np.random.default_rng(args.seed)
        total_px = 0
        for i in range(args.jpg):
            w, h = (int(v) for v in rng.integers(args.min_size, args.max_size + 1, size=2))
            grey = np.asarray(Image.fromarray(x[i], mode="L").resize((w, h), Image.BICUBIC),
                              dtype=np.float32) / 255.0
            fg = rng.uniform(0.35, 1.0, size=3).astype(np.float32)   # tint of the object
            bg = rng.uniform(0.0, 0.35, size=3).astype(np.float32)   # background colour
            rgb = bg + grey[:, :, None] * (fg - bg)
            rgb = rgb * 255.0 + rng.normal(0.0, 6.0, size=rgb.shape).astype(np.float32)
            img = Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), mode="RGB")
            img.save(out / CLASSES[y[i]] / f"{i:0{width}d}.jpg", quality=90)
            total_px += w * h
        (out / ".complete").write_text(stamp)
        print(f"{out}: wrote {args.jpg} RGB JPEGs (quality 90), sizes "
              f"{args.min_size}..{args.max_size} px per side, mean "
              f"{total_px / max(1, args.jpg) / 1000:.1f} kpx ({time.perf_counter() - t0:.1f} s)")
    else:
        print(f"{out}: already complete ({args.jpg} JPEGs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
