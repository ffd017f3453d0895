#!/usr/bin/python3
"""Golden values for the feature-space detectors, from their reference code run on small
synthetic penultimate features (non-negative, as after a ReLU; one dead unit and one
nearly constant unit, so the covariance is singular and ill-conditioned):

  react_energy  OpenOOD v1.5 ReactPostprocessor + forward_threshold (clip, fc, logsumexp);
                the clip is the 90th percentile of the training activations (OpenOOD takes
                its ID validation split; oodscore fits on training data)
  ash_energy    ASH-S from the ASH authors' code (andrijazz/ash, ash.py ash_s), p = 90, on the
                features viewed as [N, D, 1, 1], then fc and logsumexp (OpenOOD's ASHNet
                applies ash_b instead)
  mahalanobis   OpenOOD v1.5 MDSPostprocessor (class means, sklearn EmpiricalCovariance on the
                class-centred features, float32 torch scoring)
  knn           the KNN authors' code (deep-k-nearest-neighbors): x / (|x| + 1e-10), faiss
                IndexFlatL2, -D[:, k-1], k = 50 (OpenOOD's normalizer adds 1e-10 after the
                division, a precedence slip)
  vim           OpenOOD v1.5 VIMPostprocessor (numpy pinv, EmpiricalCovariance(assume_centered),
                np.linalg.eig), dim = D / 2 as ViM's own rule for D < 768

Mahalanobis and ViM are also computed by the same code on float64 copies of the inputs.
Energies are written as oodscore's columns are (-logsumexp, lower = ID); the reference
returns logsumexp. Writes tests/fixtures/detector_scores.json. Needs Debian's python3-torch,
python3-sklearn, python3-scipy and python3-faiss; run with /usr/bin/python3 from the project
root.
"""
import json

import faiss
import numpy as np
import sklearn.covariance
import torch
from numpy.linalg import norm, pinv
from scipy.special import logsumexp

K, D, PER_CLASS, N_TEST = 4, 12, 60, 24
KNN_K, PERCENTILE, ASH_PERCENTILE, VIM_DIM = 50, 90, 90, D // 2


def features(rng, centres, labels, scale):
    x = centres[labels] + rng.normal(0.0, scale, (len(labels), D))
    x = np.maximum(x, 0.0)
    x[:, 0] = 0.0                                       # a dead unit
    x[:, 1] = 0.5 + 3e-2 * rng.normal(size=len(labels))  # a nearly constant unit
    return x.astype(np.float32)


def ash_s(x, percentile=65):  # andrijazz/ash, ash.py
    assert x.dim() == 4
    assert 0 <= percentile <= 100
    b, c, h, w = x.shape
    s1 = x.sum(dim=[1, 2, 3])
    n = x.shape[1:].numel()
    k = n - int(np.round(n * percentile / 100.0))
    t = x.view((b, c * h * w))
    v, i = torch.topk(t, k, dim=1)
    t.zero_().scatter_(dim=1, index=i, src=v)
    s2 = x.sum(dim=[1, 2, 3])
    scale = s1 / s2
    x = x * torch.exp(scale[:, None, None, None])
    return x


def mds(t_train, train_labels, t_test, dtype):  # OpenOOD v1.5 MDSPostprocessor
    labels = torch.from_numpy(train_labels)
    class_mean, centered = [], []
    for c in range(K):
        samples = t_train[labels.eq(c)]
        class_mean.append(samples.mean(0))
        centered.append(samples - class_mean[c].view(1, -1))
    class_mean = torch.stack(class_mean)
    group_lasso = sklearn.covariance.EmpiricalCovariance(assume_centered=False)
    group_lasso.fit(torch.cat(centered).numpy().astype(dtype))
    precision = torch.from_numpy(group_lasso.precision_).to(t_test.dtype)
    class_scores = torch.zeros((N_TEST, K), dtype=t_test.dtype)
    for c in range(K):
        tensor = t_test - class_mean[c].view(1, -1)
        class_scores[:, c] = -torch.matmul(torch.matmul(tensor, precision), tensor.t()).diag()
    return torch.max(class_scores, dim=1)[0]


def vim_scores(train, test, w, b):  # OpenOOD v1.5 VIMPostprocessor
    u = -np.matmul(pinv(w), b)
    ec = sklearn.covariance.EmpiricalCovariance(assume_centered=True)
    ec.fit(train - u)
    eig_vals, eigen_vectors = np.linalg.eig(ec.covariance_)
    ns = np.ascontiguousarray((eigen_vectors.T[np.argsort(eig_vals * -1)[VIM_DIM:]]).T)
    logit_train = train @ w.T + b
    alpha = logit_train.max(axis=-1).mean() / norm(np.matmul(train - u, ns), axis=-1).mean()
    logit_test = test @ w.T + b
    vim = logsumexp(logit_test, axis=-1) - norm(np.matmul(test - u, ns), axis=-1) * alpha
    return alpha, vim


def main():
    rng = np.random.default_rng(7)
    centres = rng.uniform(0.0, 2.0, (K, D))
    train_labels = np.repeat(np.arange(K), PER_CLASS)
    train = features(rng, centres, train_labels, 0.6)
    test_labels = rng.integers(0, K, N_TEST)
    test = features(rng, centres, test_labels, 0.6)
    test[N_TEST // 2:] = features(rng, rng.uniform(0.0, 3.0, (K, D)), test_labels[N_TEST // 2:],
                                  1.2)[: N_TEST - N_TEST // 2]  # a shifted half: "OOD"
    w = rng.normal(0.0, 0.5, (K, D)).astype(np.float32)
    b = rng.normal(0.0, 0.3, K).astype(np.float32)
    fc = torch.nn.Linear(D, K)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(w))
        fc.bias.copy_(torch.from_numpy(b))

    t_train, t_test = torch.from_numpy(train), torch.from_numpy(test)
    with torch.no_grad():
        # ReAct
        threshold = np.percentile(train.flatten(), PERCENTILE)
        react = -torch.logsumexp(fc(t_test.clip(max=threshold)), dim=1)
        # ASH-S
        pruned = ash_s(t_test.clone().view(N_TEST, -1, 1, 1), ASH_PERCENTILE).view(N_TEST, -1)
        ash = -torch.logsumexp(fc(pruned), dim=1)
        mahalanobis = mds(t_train, train_labels, t_test, np.float32)
        mahalanobis64 = mds(t_train.double(), train_labels, t_test.double(), np.float64)

    # KNN
    def normalizer(x):
        return x / (np.linalg.norm(x, ord=2, axis=-1, keepdims=True) + 1e-10)

    index = faiss.IndexFlatL2(D)
    index.add(normalizer(train))
    dist, _ = index.search(normalizer(test), KNN_K)
    knn = -dist[:, -1]

    alpha, vim = vim_scores(train, test, w, b)
    _, vim64 = vim_scores(train.astype(np.float64), test.astype(np.float64), w.astype(np.float64),
                          b.astype(np.float64))

    out = {
        "about": "scripts/make_detector_fixtures.py: reference detector scores",
        "classes": K, "dim": D, "knn_k": KNN_K, "react_percentile": PERCENTILE,
        "ash_percentile": ASH_PERCENTILE, "vim_dim": VIM_DIM,
        "head_weight": w.flatten().tolist(), "head_bias": b.tolist(),
        "train": train.flatten().tolist(), "train_labels": train_labels.tolist(),
        "test": test.flatten().tolist(),
        "react_threshold": float(threshold), "vim_alpha": float(alpha),
        "scores": {"react_energy": react.tolist(), "ash_energy": ash.tolist(),
                   "mahalanobis": mahalanobis.tolist(), "knn": knn.astype(float).tolist(),
                   "vim": np.real(vim).astype(float).tolist()},
        # The same reference code on float64 copies of the inputs (oodscore computes these
        # two in float64).
        "scores_float64": {"mahalanobis": mahalanobis64.tolist(),
                           "vim": np.real(vim64).astype(float).tolist()},
    }
    with open("tests/fixtures/detector_scores.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote tests/fixtures/detector_scores.json")


if __name__ == "__main__":
    main()
