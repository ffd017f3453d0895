#!/usr/bin/python3
"""Times scikit-learn on the data bench/metrics_bench.cc uses, for a speed ratio.

n ID scores ~ normal(1, 1) and n OOD scores ~ normal(0, 1) (numpy's generator, seed 1: the
same distributions and sizes, not the same draws). Times roc_auc_score plus two
average_precision_score calls (AUPR-In on the scores, AUPR-Out on the negated scores), the
work ComputeMetrics does in one sort-and-walk. Prints seconds.

    /usr/bin/python3 scripts/bench_metrics_sklearn.py [n]      # default n = 10000000
"""
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def main():
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
