#!/usr/bin/python3
"""Writes tests/fixtures/metrics_golden.json: metric golden values from scikit-learn.

Run with Debian's python3 (python3-sklearn, python3-numpy):
    /usr/bin/python3 scripts/make_metric_fixtures.py

Every case stores oriented scores (higher = more in-distribution) and the values each
convention of docs/METRICS.md gives, computed the way the peer code computes them:
  exact       roc_curve(drop_intermediate=False), ID positive, first vertex with tpr >= level
  hendrycks   a port of fpr_and_fdr_at_recall (energy_ood / outlier-exposure), ID positive
  openood     roc_curve (default drop_intermediate=True) on negated scores, OOD positive
  pytorch-ood full ROC with (0, 0) first, OOD positive, searchsorted(tpr, level)
AUPR: average_precision_score (step sum) and the trapezoid sklearn.metrics.auc(recall,
precision) over precision_recall_curve (what OpenOOD and pytorch-ood report).
The seed is fixed, so reruns give the same file.
"""
import json
import math
import os
from fractions import Fraction

import numpy as np
from sklearn import metrics as skm

SEED = 20240607
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "metrics_golden.json")


def stable_cumsum(arr, rtol=1e-05, atol=1e-08):
    out = np.cumsum(arr, dtype=np.float64)
    expected = np.sum(arr, dtype=np.float64)
    if not np.allclose(out[-1], expected, rtol=rtol, atol=atol):
        raise RuntimeError("cumsum was found to be unstable")
    return out


def fpr_and_fdr_at_recall(y_true, y_score, recall_level, pos_label=1.0):
    """Port of the energy_ood / outlier-exposure function; also returns the chosen point."""
    y_true = y_true == pos_label
    desc_score_indices = np.argsort(y_score, kind="mergesort")[::-1]
    y_score = y_score[desc_score_indices]
    y_true = y_true[desc_score_indices]
    distinct_value_indices = np.where(np.diff(y_score))[0]
    threshold_idxs = np.r_[distinct_value_indices, y_true.size - 1]
    tps = stable_cumsum(y_true)[threshold_idxs]
    fps = 1 + threshold_idxs - tps
    thresholds = y_score[threshold_idxs]
    recall = tps / tps[-1]
    last_ind = tps.searchsorted(tps[-1])
    sl = slice(last_ind, None, -1)
    recall, fps, tps, thresholds = (np.r_[recall[sl], 1], np.r_[fps[sl], 0], np.r_[tps[sl], 0],
                                    thresholds[sl])
    cutoff = np.argmin(np.abs(recall - recall_level))
    fpr = fps[cutoff] / (np.sum(np.logical_not(y_true)))
    return fpr, thresholds[cutoff], recall[cutoff]


def trapezoid_aupr(y_true, y_score):
    precision, recall, _ = skm.precision_recall_curve(y_true, y_score)
    return skm.auc(recall, precision)


def ood_positive_point(ood_label, neg_scores, level, drop):
    """First ROC vertex with OOD recall >= level; returns (fpr, oriented threshold, id kept)."""
    fpr, tpr, thr = skm.roc_curve(ood_label, neg_scores, drop_intermediate=drop)
    idx = int(np.searchsorted(tpr, level, side="left")) if not drop else int(np.argmax(tpr >= level))
    if idx == len(fpr):
        idx -= 1
    return fpr[idx], -thr[idx], 1.0 - fpr[idx]


def expected(id_scores, ood_scores, level):
    id_scores = np.asarray(id_scores, dtype=np.float64)
    ood_scores = np.asarray(ood_scores, dtype=np.float64)
    scores = np.r_[id_scores, ood_scores]
    is_id = np.r_[np.ones(len(id_scores), dtype=np.int32), np.zeros(len(ood_scores), dtype=np.int32)]
    is_ood = 1 - is_id

    out = {}
    out["auroc"] = skm.roc_auc_score(is_id, scores)
    out["aupr_in"] = skm.average_precision_score(is_id, scores)
    out["aupr_out"] = skm.average_precision_score(is_ood, -scores)
    out["aupr_in_trapezoid"] = trapezoid_aupr(is_id, scores)
    out["aupr_out_trapezoid"] = trapezoid_aupr(is_ood, -scores)

    fpr, tpr, thr = skm.roc_curve(is_id, scores, drop_intermediate=False)
    idx = int(np.argmax(tpr >= level))
    n = len(id_scores)
    # Cross-check the integer rule: k = ceil(level * n), level taken as the decimal it prints as.
    k = math.ceil(Fraction(repr(level)) * n)
    kth = np.sort(id_scores)[::-1][k - 1]
    assert thr[idx] == kth, (thr[idx], kth)
    out["exact"] = {"fpr": fpr[idx], "threshold": thr[idx], "tpr_achieved": tpr[idx]}
    out["detection_error"] = float(np.min(0.5 * (1 - tpr) + 0.5 * fpr))

    h_fpr, h_thr, h_recall = fpr_and_fdr_at_recall(is_id, scores, level)
    out["hendrycks"] = {"fpr": h_fpr, "threshold": h_thr, "tpr_achieved": h_recall}
    for name, drop in (("openood", True), ("pytorch-ood", False)):
        f, t, kept = ood_positive_point(is_ood, -scores, level, drop)
        out[name] = {"fpr": f, "threshold": t, "tpr_achieved": kept}

    def clean(v):
        if isinstance(v, dict):
            return {key: clean(x) for key, x in v.items()}
        return float(v) + 0.0  # -0.0 thresholds print as 0.0
    return clean(out)


def scores_list(a, digits=None):
    a = np.asarray(a, dtype=np.float64)
    if digits is not None:
        a = np.round(a, digits)
    return [float(x) for x in a]


def main():
    rng = np.random.default_rng(SEED)
    cases = []

    def add(name, id_scores, ood_scores, tpr=0.95, note=""):
        id_scores, ood_scores = list(id_scores), list(ood_scores)
        case = {"name": name, "tpr": tpr, "id": id_scores, "ood": ood_scores}
        if note:
            case["note"] = note
        case["expected"] = expected(id_scores, ood_scores, tpr)
        cases.append(case)

    # Worked examples of docs/METRICS.md.
    add("example_w", [float(x) for x in range(20, 2, -1)] + [1.0, 0.0],
        [2.5, 1.0, 1.0, 0.5, 0.5, -1, -2, -3, -4, -5], note="METRICS.md example W")
    add("example_a_prime", [float(x) for x in range(10, 1, -1)] + [0.5],
        [9.5, 4.5, 3.5, 2.5, 1.5, 1.2, 1.0, 0.5, 0.2, 0.1], note="METRICS.md example A'")
    add("example_d", [float(x) for x in range(100, 83, -1)] + [50.0, 49.0, 48.0],
        [50, 49, 48, 10, 9, 8, 7, 6, 5, 4], note="METRICS.md example D (vertex dropping)")

    # Example D mirrored (ID <-> OOD, scores negated): with OOD positive, OpenOOD's vertex
    # dropping now moves its point (0.30) away from pytorch-ood's full curve (0.20).
    add("example_d_mirrored", [-x for x in [50, 49, 48, 10, 9, 8, 7, 6, 5, 4]],
        [-float(x) for x in range(100, 83, -1)] + [-50.0, -49.0, -48.0],
        note="example D with the classes swapped")

    # Tiny cases.
    add("one_each_id_above", [1.0], [0.0])
    add("one_each_id_below", [0.0], [1.0])
    add("one_each_tied", [0.5], [0.5])
    add("all_tied", [2.0] * 3, [2.0] * 5)
    add("id_all_above", [5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0])
    add("id_all_below", [1.0, 2.0, 3.0], [5.0, 6.0, 7.0, 8.0])
    add("signed_zeros_tie", [-0.0, 1.0, 2.0], [0.0, -1.0], note="-0.0 and 0.0 are one score")
    add("tpr_one", [3.0, 2.0, 1.0, 0.0], [2.5, 1.0, -1.0], tpr=1.0)
    add("tpr_tiny", [3.0, 2.0, 1.0, 0.0], [2.5, 1.0, -1.0], tpr=0.01)
    add("twenty_id_k19", [float(x) for x in range(20)], [float(x) + 0.5 for x in range(10)],
        note="0.95 * 20 must give k = 19")

    # n_id = 10: recall 0.9 vs 1.0 around level 0.95 (float rounding picks 0.9 in hendrycks).
    for r in range(4):
        ood = np.round(rng.normal(4.0, 3.0, size=12), 1)
        add("n_id_10_plateau_%d" % r, [float(x) for x in range(10, 0, -1)], scores_list(ood))
    add("n_id_10_gap", [10, 9, 8, 7, 6, 5, 4, 3, 2, -5.0], [1.5, 0.5, -1, -2, -3, -4, -6, -7])
    for level in (0.8, 0.9, 0.5):
        add("n_id_10_tpr_%g" % level, [float(x) for x in range(10, 0, -1)],
            scores_list(np.round(rng.normal(4.0, 3.0, size=12), 0)), tpr=level)

    # Tie groups mixing ID and OOD.
    add("mixed_ties_small", [3, 3, 2, 2, 2, 1, 1, 0], [3, 2, 2, 1, 1, 1, 0, 0, -1])
    add("equal_increments", [10, 9, 8, 7, 6, 5, 4, 3, 2, 1] * 2, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
        note="many collinear vertices: drop_intermediate matters")
    for r in range(4):
        n_id, n_ood = [(30, 20), (57, 41), (200, 35), (40, 300)][r]
        add("mixed_ties_%d" % r, scores_list(rng.integers(0, 8, size=n_id)),
            scores_list(rng.integers(-2, 6, size=n_ood)))

    # Random, heavy ties (integer-rounded scores).
    for r, (n_id, n_ood, sep) in enumerate([(100, 80, 1.0), (500, 700, 0.5), (2000, 1500, 1.5),
                                            (1000, 200, 2.0), (1999, 2000, 0.0)]):
        id_s = np.round(rng.normal(sep, 1.0, size=n_id) * 2.0)
        ood_s = np.round(rng.normal(0.0, 1.0, size=n_ood) * 2.0)
        add("heavy_ties_%d" % r, scores_list(id_s), scores_list(ood_s),
            tpr=[0.95, 0.95, 0.95, 0.9, 0.95][r])

    # Continuous scores.
    add("continuous_small", scores_list(rng.normal(1.0, 1.0, size=300)),
        scores_list(rng.normal(0.0, 1.0, size=200)))
    add("continuous_large", scores_list(rng.normal(1.0, 1.0, size=2000), 6),
        scores_list(rng.normal(0.0, 1.0, size=1500), 6))
    add("continuous_energy_like", scores_list(-rng.gamma(2.0, 3.0, size=800), 4),
        scores_list(-rng.gamma(3.0, 3.0, size=600), 4), tpr=0.9)

    doc = {
        "generator": "scripts/make_metric_fixtures.py",
        "seed": SEED,
        "sklearn": __import__("sklearn").__version__,
        "numpy": np.__version__,
        "orientation": "higher = more in-distribution",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s: %d cases, %d bytes" % (os.path.normpath(OUT), len(cases), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
