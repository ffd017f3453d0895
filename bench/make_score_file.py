#!/usr/bin/python3
"""Writes a large synthetic score CSV, the kind `oodscore score` writes, for read benchmarks.

Rows: half ID (set "id", labels and predictions 0..9), a quarter each of two OOD sets ("near",
"far"), with energy, msp and maxlogit columns drawn from seeded normal distributions and
written in Python's shortest round-trip form (as oodscore writes them).

    /usr/bin/python3 bench/make_score_file.py OUT.csv [rows]     # default 4000000 rows
"""
import sys

import numpy as np


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000_000
    rng = np.random.default_rng(7)
    sets = np.where(np.arange(n) < n // 2, 0, np.where(np.arange(n) < 3 * n // 4, 1, 2))
    shift = np.array([0.0, 1.5, 3.0])[sets]
    energy = rng.normal(-9.0, 1.5, n) + shift
    maxlogit = -energy - rng.gamma(2.0, 0.2, n)
    msp = 1.0 / (1.0 + np.exp(energy + 7.0))
    label = rng.integers(0, 10, n)
    pred = np.where(rng.random(n) < 0.9, label, rng.integers(0, 10, n))
    names = ["id", "near", "far"]
    with open(out, "w") as f:
        f.write("set,path,label,pred,energy,msp,maxlogit\n")
        step = 200_000
        for b in range(0, n, step):
            rows = []
            for i in range(b, min(n, b + step)):
                s = sets[i]
                lab = str(label[i]) if s == 0 else ""
                rows.append("%s,data/%s/%07d.png,%s,%d,%r,%r,%r\n" % (
                    names[s], names[s], i, lab, pred[i], float(energy[i]), float(msp[i]),
                    float(maxlogit[i])))
            f.write("".join(rows))


if __name__ == "__main__":
    main()
