#!/usr/bin/python3
"""Times scikit-learn on the data bench/metrics_bench.cc uses, for a speed ratio.

n ID scores ~ normal(1, 1) and n OOD scores ~ normal(0, 1) (numpy's generator, seed 1: the
same distributions and sizes, not the same draws). Times roc_auc_score plus two
average_precision_score calls (AUPR-In on the scores, AUPR-Out on the negated scores), the
work ComputeMetrics does in one sort-and-walk. Prints seconds.

    /usr/bin/python3 bench/bench_metrics_sklearn.py [n]      # default n = 10000000

With --csv FILE --id NAME: the score file `oodscore metrics FILE --id NAME` reads (e.g. from
bench/make_score_file.py) is loaded into memory first (not timed); then, for every OOD set
and every score column (energy, msp, maxlogit; energy lower = ID), the calls that give what
oodscore's report gives: roc_auc_score, average_precision_score both ways and roc_curve for
the FPR at 95% TPR. Prints the seconds of those calls, to compare with the whole
`oodscore metrics` process.

    /usr/bin/python3 bench/bench_metrics_sklearn.py --csv big.csv --id id
"""
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def csv_mode(path, id_name):
    import csv
    cols = {"energy": [], "msp": [], "maxlogit": []}
    sets = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        idx = {c: header.index(c) for c in cols}
        for row in reader:
            sets.append(row[0])
            for c, i in idx.items():
                cols[c].append(float(row[i]))
    sets = np.array(sets)
    scores = {c: np.array(v) * (-1.0 if c == "energy" else 1.0) for c, v in cols.items()}
    oods = [s for s in dict.fromkeys(sets) if s != id_name]
    t0 = time.perf_counter()
    for ood in oods:
        mask = (sets == id_name) | (sets == ood)
        is_id = (sets[mask] == id_name).astype(np.int8)
        for c, v in scores.items():
            x = v[mask]
            auroc = roc_auc_score(is_id, x)
            average_precision_score(is_id, x)
            average_precision_score(1 - is_id, -x)
            fpr, tpr, _ = roc_curve(is_id, x)
            fpr95 = fpr[np.searchsorted(tpr, 0.95, side="left")]
            print("%s %s auroc=%.6f fpr95=%.6f" % (ood, c, auroc, fpr95))
    t1 = time.perf_counter()
    print("rows=%d: scikit-learn metric calls %.3f s" % (len(sets), t1 - t0))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--csv":
        csv_mode(sys.argv[2], sys.argv[4] if len(sys.argv) > 4 else "id")
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    rng = np.random.default_rng(1)
    scores = np.r_[rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)]
    is_id = np.r_[np.ones(n, dtype=np.int8), np.zeros(n, dtype=np.int8)]

    t0 = time.perf_counter()
    auroc = roc_auc_score(is_id, scores)
    t1 = time.perf_counter()
    aupr_in = average_precision_score(is_id, scores)
    aupr_out = average_precision_score(1 - is_id, -scores)
    t2 = time.perf_counter()
    print("n_id=%d n_ood=%d auroc=%.6f aupr_in=%.6f aupr_out=%.6f" % (n, n, auroc, aupr_in, aupr_out))
    print("roc_auc_score %.3f s, 2x average_precision_score %.3f s, total %.3f s"
          % (t1 - t0, t2 - t1, t2 - t0))


if __name__ == "__main__":
    main()
