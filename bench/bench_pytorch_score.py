#!/usr/bin/python3
"""Plain-PyTorch baseline for `oodscore score`: the same job done with torchvision.

Loads every image under --data (an ImageFolder tree DIR/<class>/*.ext, or a flat folder
of images), applies convert(mode), Resize([H, W]), ToTensor, Normalize(mean, std),
batches with a DataLoader, runs the TorchScript model under torch.inference_mode(),
computes energy (= -logsumexp(logits)), MSP and max logit per image, and writes a CSV
(path,pred,energy,msp,maxlogit) to --out (default /dev/null).

Timing covers the whole job, from before dataset construction to the CSV being closed.
The last line on stdout is JSON:
  {"images": N, "seconds": S, "images_per_s": X, "workers": W, ...}

Example:
  /usr/bin/python3 bench/bench_pytorch_score.py --model models/fmnist5_cnn.pt \\
      --data bench/png28 --mode L --size 28 28 --mean 0.2860 --std 0.3530 --workers 2
"""

import argparse
import csv
import json
import os
import pathlib
import sys
import time

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, default_loader


class FlatFolder(Dataset):
    """All images directly inside one folder (no class sub-folders), sorted by name."""

    def __init__(self, root, transform):
        self.samples = sorted(str(p) for p in pathlib.Path(root).iterdir()
                              if p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS))
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.transform(default_loader(self.samples[i])), 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, type=pathlib.Path)
    ap.add_argument("--mode", required=True, choices=["L", "RGB"])
    ap.add_argument("--size", required=True, nargs=2, type=int, metavar=("H", "W"))
    ap.add_argument("--mean", required=True, nargs="+", type=float)
    ap.add_argument("--std", required=True, nargs="+", type=float)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--out", default="/dev/null", help="CSV output path (default /dev/null)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (pinned batches, async copy)")
    args = ap.parse_args()

    channels = 1 if args.mode == "L" else 3
    for name in ("mean", "std"):
        v = getattr(args, name)
        if len(v) == 1:
            setattr(args, name, v * channels)
        elif len(v) != channels:
            ap.error(f"--{name} needs 1 or {channels} values for mode {args.mode}")
    if not args.data.is_dir():
        ap.error(f"--data {args.data}: not a directory")
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    model = torch.jit.load(args.model, map_location=args.device).eval()
    tf = transforms.Compose([
        transforms.Lambda(lambda im: im.convert(args.mode)),
        transforms.Resize(list(args.size)),
        transforms.ToTensor(),
        transforms.Normalize(args.mean, args.std),
    ])
    has_subdirs = any(p.is_dir() for p in args.data.iterdir())
    if has_subdirs:
        ds = ImageFolder(str(args.data), transform=tf)
    else:
        ds = FlatFolder(args.data, tf)
    paths = [s[0] for s in ds.samples]
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=False,
                        num_workers=args.workers, persistent_workers=False,
                        pin_memory=args.device != "cpu")
    t_ready = time.perf_counter()

    n = 0
    with open(args.out, "w", newline="") as f, torch.inference_mode():
        w = csv.writer(f)
        w.writerow(["path", "pred", "energy", "msp", "maxlogit"])
        for x, _ in loader:
            logits = model(x.to(args.device, non_blocking=True)).float().cpu()
            energy = -torch.logsumexp(logits, 1)
            msp = torch.softmax(logits, 1).max(1).values
            maxlogit, pred = logits.max(1)
            for j, row in enumerate(zip(pred.tolist(), energy.tolist(), msp.tolist(),
                                        maxlogit.tolist())):
                w.writerow([paths[n + j], row[0], f"{row[1]:.6g}", f"{row[2]:.6g}",
                            f"{row[3]:.6g}"])
            n += len(x)
    seconds = time.perf_counter() - t0
    print(json.dumps({"images": n, "seconds": round(seconds, 3),
                      "images_per_s": round(n / seconds, 1), "workers": args.workers,
                      "threads": args.threads, "batch_size": args.batch_size,
                      "device": args.device,
                      "setup_seconds": round(t_ready - t0, 3),
                      "torch": torch.__version__, "cpus": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
