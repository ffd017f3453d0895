#!/usr/bin/python3
"""Plain-PyTorch baseline for `oodscore finetune`: one epoch of the same training loop.

The loop of the energy paper's reference code (Liu et al., 2020: train.py with --score energy),
on the same TorchScript model, data and batch sizes as `oodscore finetune`: an ImageFolder of
ID training images and a folder of auxiliary outliers, torchvision transforms (convert(mode),
Resize([H, W]), ToTensor, Normalize), DataLoaders with shuffling (ID: --batch-size; outliers:
--aux-batch-size), one forward pass over torch.cat((x_in, x_out)), loss = CE on the ID part +
lambda * (mean relu(E_in - m_in)^2 + mean relu(m_out - E_out)^2), SGD (momentum 0.9,
Nesterov, weight decay 5e-4) with the learning rate set per step on a cosine. Threads: every
core for the model (torch.set_num_threads), --workers DataLoader processes for decoding.

The last line on stdout is JSON: {"steps": S, "seconds": T, "steps_per_s": ..., "images_per_s": ...}
(seconds: the epoch's loop, from the first batch asked for to the last step).

Example:
  /usr/bin/python3 bench/bench_finetune_pytorch.py --model models/fmnist5_cnn.pt \\
      --train demo-data/finetune/train --aux demo-data/finetune/aux --mode L --size 28 28 \\
      --mean 0.2860 --std 0.3530 --m-in -11.8 --m-out -1.57 --workers 2
"""

import argparse
import json
import math
import os
import pathlib
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import default_loader


class Flat(Dataset):
    def __init__(self, root, transform):
        self.paths = sorted(str(p) for p in pathlib.Path(root).rglob("*.png"))
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(default_loader(self.paths[i])), 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--aux", required=True)
    ap.add_argument("--mode", default="RGB")
    ap.add_argument("--size", type=int, nargs=2, required=True)
    ap.add_argument("--mean", type=float, nargs="+", required=True)
    ap.add_argument("--std", type=float, nargs="+", required=True)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--aux-batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.1)
    ap.add_argument("--m-in", type=float, required=True)
    ap.add_argument("--m-out", type=float, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count())
    tf = transforms.Compose([
        transforms.Lambda(lambda im: im.convert(args.mode)),
        transforms.Resize(args.size),
        transforms.ToTensor(),
        transforms.Normalize(args.mean, args.std)])
    train = DataLoader(ImageFolder(args.train, transform=tf), batch_size=args.batch_size,
                       shuffle=True, num_workers=args.workers)
    aux = DataLoader(Flat(args.aux, tf), batch_size=args.aux_batch_size, shuffle=True,
                     num_workers=args.workers)
    model = torch.jit.load(args.model)
    model.train()
    opt = torch.optim.SGD(model.parameters(), args.lr, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    total = len(train)
    steps = 0
    images = 0
    start = time.perf_counter()
    aux_iter = iter(aux)
    for x_in, y in train:
        try:
            x_out, _ = next(aux_iter)
        except StopIteration:
            aux_iter = iter(aux)
            x_out, _ = next(aux_iter)
        lr = 1e-6 + (args.lr - 1e-6) * 0.5 * (1 + math.cos(math.pi * steps / total))
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.cat((x_in, x_out), 0)
        out = model(x)
        n = len(x_in)
        loss = F.cross_entropy(out[:n], y)
        e_in = -torch.logsumexp(out[:n], dim=1)
        e_out = -torch.logsumexp(out[n:], dim=1)
        loss = loss + args.lam * (torch.pow(F.relu(e_in - args.m_in), 2).mean()
                                  + torch.pow(F.relu(args.m_out - e_out), 2).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        images += len(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"steps": steps, "seconds": round(seconds, 3),
                      "steps_per_s": round(steps / seconds, 2),
                      "images_per_s": round(images / seconds, 1),
                      "threads": torch.get_num_threads(), "workers": args.workers}))


if __name__ == "__main__":
    main()
