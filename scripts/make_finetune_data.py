#!/usr/bin/env python3
"""Write the fine-tuning demo's training data from the Fashion-MNIST train split.

Standard library only. Layout written under OUT_DIR:
  train/<k>_<name>/NNNNN.png  train images of classes 0-4 (the demo model's classes), one
                              folder per class (folder names sort in class order)
  aux/NNNNN.png               auxiliary outliers: ID training images cut into a 4x4 grid of
                              7x7 patches and the patches shuffled (seeded). They come from the
                              train split only, and are neither Fashion-MNIST classes 5-9 (the
                              demo's near OOD) nor Gaussian noise (its far OOD): the test OOD
                              sets stay unseen.

Idempotent: if OUT_DIR/.complete records the same parameters, nothing is done.

Usage:
  make_finetune_data.py OUT_DIR [--dataset-dir /usr/share/datasets/fashion-mnist]
                                [--aux 10000] [--seed 0]
"""

import argparse
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_demo_data import ID_DIRS, fail, png_bytes, read_split  # noqa: E402

FORMAT_VERSION = 1


def patch_shuffled(px, rng, grid=4, size=7):
    """28x28 pixels with their grid x grid patches of size x size permuted."""
    order = list(range(grid * grid))
    rng.shuffle(order)
    out = bytearray(len(px))
    for dst, src in enumerate(order):
        dy, dx = divmod(dst, grid)
        sy, sx = divmod(src, grid)
        for r in range(size):
            a = (sy * size + r) * 28 + sx * size
            b = (dy * size + r) * 28 + dx * size
            out[b:b + size] = px[a:a + size]
    return bytes(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--dataset-dir", type=pathlib.Path,
                    default=pathlib.Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--aux", type=int, default=10000, help="number of outlier images")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = args.out_dir
    stamp = (f"version={FORMAT_VERSION} dataset_dir={args.dataset_dir.resolve()} "
             f"aux={args.aux} seed={args.seed}\n")
    marker = out / ".complete"
    if marker.is_file() and marker.read_text() == stamp:
        print(f"{out}: already complete ({stamp.strip()}); nothing to do")
        return 0
    n, rows, cols, images, labels = read_split(args.dataset_dir, "train", "train")
    if rows != 28 or cols != 28:
        fail(f"unexpected Fashion-MNIST train split in {args.dataset_dir}")
    if marker.exists():
        marker.unlink()
    train_dirs = [out / "train" / d for d in ID_DIRS]
    aux_dir = out / "aux"
    for d in train_dirs + [aux_dir]:
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob("*.png"):
            stale.unlink()
    npix = rows * cols
    id_index = []
    for i in range(n):
        if labels[i] < 5:
            px = images[i * npix:(i + 1) * npix]
            (train_dirs[labels[i]] / f"{i:05d}.png").write_bytes(png_bytes(cols, rows, px))
            id_index.append(i)
    rng = random.Random(args.seed)
    for j in range(args.aux):
        i = rng.choice(id_index)
        px = patch_shuffled(images[i * npix:(i + 1) * npix], rng)
        (aux_dir / f"{j:05d}.png").write_bytes(png_bytes(cols, rows, px))
    marker.write_text(stamp)
    print(f"train: {len(id_index)} images of classes 0-4; aux: {args.aux} patch-shuffled outliers")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
