#!/usr/bin/env python3
"""Write the oodscore demo image folders from the Fashion-MNIST test split.

Standard library only (runs on a fresh machine without numpy/PIL).

Layout written under OUT_DIR:
  id/<k>_<name>/NNNNN.png   test images of classes 0-4 (in-distribution),
                            one folder per class; folder names sort in class order
  near-ood/NNNNN.png        test images of classes 5-9 (near OOD), flat
  noise/NNNNN.png           N 28x28 Gaussian-noise images (far OOD), flat
  id-train/<k>_<name>/tNNNNN.png
                            the first M train-split images of each class 0-4 (what
                            `oodscore fit` reads for the feature-space detectors)

File names are the zero-padded test index (noise: running index; id-train: "t" and the
train index).
All PNGs are 8-bit greyscale (colour type 0), 28x28.

Idempotent: if OUT_DIR/.complete records the same parameters, nothing is done.

Usage:
  make_demo_data.py OUT_DIR [--dataset-dir /usr/share/datasets/fashion-mnist]
                            [--noise 1000] [--seed 0] [--train-per-class 2000]
"""

import argparse
import gzip
import pathlib
import random
import struct
import sys
import zlib

ID_DIRS = ["0_tshirt-top", "1_trouser", "2_pullover", "3_dress", "4_coat"]
OOD_NAMES = ["sandal", "shirt", "sneaker", "bag", "ankle-boot"]  # classes 5-9
FORMAT_VERSION = 2


def png_bytes(width, height, pixels):
    """Encode 8-bit greyscale pixels (bytes, row-major) as a PNG file."""

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type 0 (None) for every row
        raw += pixels[y * width:(y + 1) * width]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))


def read_idx(path, expected_magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != expected_magic:
        raise ValueError(f"{path}: bad idx magic {magic:#x}")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def fail(msg):
    print(f"make_demo_data.py: error: {msg}", file=sys.stderr)
    print("hint: install the dataset with `apt-get install dataset-fashion-mnist`"
          " or pass --dataset-dir DIR", file=sys.stderr)
    sys.exit(1)


def read_split(dataset_dir, prefix, name):
    """Reads a Fashion-MNIST split ("t10k" or "train"): (n, rows, cols, images, labels)."""
    img_path = dataset_dir / f"{prefix}-images-idx3-ubyte.gz"
    lbl_path = dataset_dir / f"{prefix}-labels-idx1-ubyte.gz"
    for p in (img_path, lbl_path):
        if not p.is_file():
            fail(f"missing Fashion-MNIST file {p}")
    try:
        (n, rows, cols), images = read_idx(img_path, 0x00000803)
        (nl,), labels = read_idx(lbl_path, 0x00000801)
    except (OSError, ValueError, struct.error, EOFError) as e:
        fail(f"cannot read Fashion-MNIST {name} split: {e}")
    if n != nl or len(images) != n * rows * cols or len(labels) != n:
        fail(f"inconsistent idx files in {dataset_dir}")
    return n, rows, cols, images, labels


def write_train(dataset_dir, out, per_class):
    """Writes the first per_class train-split images of each ID class; returns the counts."""
    n, rows, cols, images, labels = read_split(dataset_dir, "train", "train")
    dirs = [out / d for d in ID_DIRS]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob("*.png"):
            stale.unlink()
    counts = [0] * len(ID_DIRS)
    npix = rows * cols
    for i in range(n):
        label = labels[i]
        if label >= len(ID_DIRS) or counts[label] >= per_class:
            continue
        counts[label] += 1
        (dirs[label] / f"t{i:05d}.png").write_bytes(
            png_bytes(cols, rows, images[i * npix:(i + 1) * npix]))
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--dataset-dir", type=pathlib.Path,
                    default=pathlib.Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--noise", type=int, default=1000, help="number of noise images (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the noise images (default 0)")
    ap.add_argument("--train-per-class", type=int, default=2000,
                    help="train-split images per ID class in id-train/ (default 2000)")
    args = ap.parse_args()
    if args.noise < 0:
        ap.error("--noise must be >= 0")
    if args.train_per_class < 0:
        ap.error("--train-per-class must be >= 0")

    out = args.out_dir
    stamp = (f"version={FORMAT_VERSION} dataset_dir={args.dataset_dir.resolve()} "
             f"noise={args.noise} seed={args.seed} train_per_class={args.train_per_class}\n")
    marker = out / ".complete"
    if marker.is_file() and marker.read_text() == stamp:
        print(f"{out}: already complete ({stamp.strip()}); nothing to do")
        return 0

    n, rows, cols, images, labels = read_split(args.dataset_dir, "t10k", "test")

    if marker.exists():
        marker.unlink()
    id_dirs = [out / "id" / d for d in ID_DIRS]
    near_dir = out / "near-ood"
    noise_dir = out / "noise"
    for d in id_dirs + [near_dir, noise_dir]:
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob("*.png"):  # e.g. from an earlier run with more noise images
            stale.unlink()

    width = max(5, len(str(max(n, args.noise) - 1)))
    npix = rows * cols
    id_counts = [0] * 5
    near_count = 0
    for i in range(n):
        label = labels[i]
        px = images[i * npix:(i + 1) * npix]
        if label < 5:
            dest = id_dirs[label]
            id_counts[label] += 1
        else:
            dest = near_dir
            near_count += 1
        (dest / f"{i:0{width}d}.png").write_bytes(png_bytes(cols, rows, px))

    rng = random.Random(args.seed)
    for i in range(args.noise):
        px = bytes(min(255, max(0, int(round(rng.gauss(128.0, 64.0))))) for _ in range(28 * 28))
        (noise_dir / f"{i:0{width}d}.png").write_bytes(png_bytes(28, 28, px))

    train_counts = write_train(args.dataset_dir, out / "id-train", args.train_per_class)
    marker.write_text(stamp)
    for d, c in zip(ID_DIRS, id_counts):
        print(f"id/{d}: {c}")
    print(f"id total: {sum(id_counts)}")
    print(f"near-ood: {near_count} (classes 5-9: {', '.join(OOD_NAMES)})")
    print(f"noise: {args.noise} (seed {args.seed})")
    print(f"id-train: {sum(train_counts)} ({args.train_per_class} per class, train split)")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
