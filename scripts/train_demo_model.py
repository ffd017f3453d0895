#!/usr/bin/python3
"""Train the oodscore demo model: a small CNN on Fashion-MNIST classes 0-4.

In-distribution classes (output index = Fashion-MNIST label):
  0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat
Classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) are held out as near-OOD.

Inputs are preprocessed exactly as the oodscore preset `fashion-mnist` does:
greyscale 28x28, x/255, then (x - 0.2860) / 0.3530, shape [N,1,28,28] float32.

Writes a TorchScript module (eval mode) to --out (default models/fmnist5_cnn.pt),
then prints test accuracy on classes 0-4 and OOD metrics (ID = test classes 0-4,
OOD = test classes 5-9) for the energy score vs. MSP vs. max logit.

Needs numpy and torch (Debian: python3-numpy python3-torch); run with /usr/bin/python3.
"""

import argparse
import gzip
import json
import pathlib
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(dataset_dir, prefix):
    x = read_idx(dataset_dir / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(dataset_dir / f"{prefix}-labels-idx1-ubyte.gz")
    return x, y.astype(np.int64)


def preprocess(x_uint8):
    x = x_uint8.astype(np.float32) / 255.0
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(np.ascontiguousarray(x[:, None, :, :]))


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def demo_noise(n, seed=0):
    """The same Gaussian-noise images as scripts/make_demo_data.py --noise n --seed seed."""
    rng = random.Random(seed)
    px = [min(255, max(0, int(round(rng.gauss(128.0, 64.0))))) for _ in range(n * 28 * 28)]
    return np.array(px, dtype=np.uint8).reshape(n, 28, 28)


@torch.inference_mode()
def logits_of(model, x, batch=1000):
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def auroc(id_scores, ood_scores):
    """AUROC with ID as the positive class (higher score = more ID)."""
    try:
        from sklearn.metrics import roc_auc_score
        y = np.r_[np.ones(len(id_scores)), np.zeros(len(ood_scores))]
        return float(roc_auc_score(y, np.r_[id_scores, ood_scores]))
    except ImportError:
        # Mann-Whitney U with mid-ranks for ties.
        s = np.r_[id_scores, ood_scores]
        order = np.argsort(s, kind="mergesort")
        ranks = np.empty(len(s))
        sorted_s = s[order]
        i = 0
        while i < len(s):
            j = i
            while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
                j += 1
            ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
            i = j + 1
        n1, n0 = len(id_scores), len(ood_scores)
        u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
        return float(u / (n1 * n0))


def fpr_at_95_tpr(id_scores, ood_scores):
    """Threshold = the ceil(0.95 n_id)-th largest ID score; FPR = share of OOD >= threshold."""
    k = int(np.ceil(0.95 * len(id_scores)))
    thr = np.sort(id_scores)[::-1][k - 1]
    return float(np.mean(ood_scores >= thr))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset-dir", type=pathlib.Path,
                    default=pathlib.Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("models/fmnist5_cnn.pt"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)

    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        if not (args.dataset_dir / f).is_file():
            print(f"error: missing {args.dataset_dir / f}\n"
                  "hint: apt-get install dataset-fashion-mnist", file=sys.stderr)
            return 1

    xtr, ytr = load_split(args.dataset_dir, "train")
    xte, yte = load_split(args.dataset_dir, "t10k")
    tr = ytr < 5
    xtr_t, ytr_t = preprocess(xtr[tr]), torch.from_numpy(ytr[tr])
    xte_t = preprocess(xte)
    id_mask = yte < 5
    print(f"train images (classes 0-4): {len(ytr_t)}; test ID: {id_mask.sum()}, "
          f"test OOD (classes 5-9): {(~id_mask).sum()}")

    model = SmallCNN(5)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(ytr_t), generator=gen)
        total, n = 0.0, 0
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            loss = F.cross_entropy(model(xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / n:.4f} "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    train_s = time.perf_counter() - t0
    model.eval()

    logits = logits_of(model, xte_t).double()
    noise_logits = logits_of(model, preprocess(demo_noise(1000))).double()
    pred = logits.argmax(1).numpy()
    acc = float(np.mean(pred[id_mask] == yte[id_mask]))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    scripted = torch.jit.script(model)
    meta = {
        "name": "fmnist5_cnn",
        "preset": "fashion-mnist",
        "input": [1, 1, 28, 28],
        "mean": [MEAN], "std": [STD],
        "classes": CLASS_NAMES,
        "test_accuracy": round(acc, 4),
    }
    scripted.save(str(args.out), _extra_files={"oodscore.json": json.dumps(meta)})

    # Check the exported module reproduces the eager logits.
    reloaded = torch.jit.load(str(args.out))
    diff = (logits_of(reloaded, xte_t[:1000]).double() - logits[:1000]).abs().max().item()

    print(f"training time: {train_s:.1f} s ({args.epochs} epochs, {args.threads} threads)")
    print(f"test accuracy (classes 0-4, n={id_mask.sum()}): {acc:.4f}")
    print(f"saved {args.out} ({args.out.stat().st_size} bytes); "
          f"TorchScript vs eager max |diff| = {diff:.2e}")
    print("OOD metrics, ID = test classes 0-4 (positive), OOD = test classes 5-9:")

    def scores(lg):
        # Oriented so that higher = more in-distribution.
        return {"energy (-E=logsumexp)": torch.logsumexp(lg, 1).numpy(),
                "MSP": torch.softmax(lg, 1).max(1).values.numpy(),
                "max logit": lg.max(1).values.numpy()}

    test_s, noise_s = scores(logits), scores(noise_logits)
    print(f"  {'score':<22} {'FPR@95TPR':>10} {'AUROC':>8}")
    for name, s in test_s.items():
        print(f"  {name:<22} {fpr_at_95_tpr(s[id_mask], s[~id_mask]):>10.4f} "
              f"{auroc(s[id_mask], s[~id_mask]):>8.4f}")
    print("  per OOD class, FPR@95TPR energy / MSP:")
    for c, cname in zip(range(5, 10), ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]):
        m = yte == c
        e, p = test_s["energy (-E=logsumexp)"], test_s["MSP"]
        print(f"    {c} {cname:<11} {fpr_at_95_tpr(e[id_mask], e[m]):.4f} / "
              f"{fpr_at_95_tpr(p[id_mask], p[m]):.4f}")
    print("OOD metrics, ID = test classes 0-4, OOD = 1000 Gaussian-noise images (demo noise, seed 0):")
    for name in test_s:
        i, o = test_s[name][id_mask], noise_s[name]
        print(f"  {name:<22} {fpr_at_95_tpr(i, o):>10.4f} {auroc(i, o):>8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
