#!/usr/bin/python3
"""KNN search, two ways, on the same data in one run: faiss IndexFlatL2 (what the KNN
detector's reference code and OpenOOD use) against the blocked BLAS product oodscore runs
(|q|^2 + |b|^2 - 2 q b^T with LibTorch's matmul, then the k-th smallest per row).

A bank of N normalised D-dim features, queries in batches; prints microseconds per query for
each and the largest difference of the k-th distances. Needs Debian's python3-faiss and
python3-torch:
  /usr/bin/python3 bench/bench_knn.py [--n 50000] [--d 512] [--k 50] [--batch 64]
"""
import argparse
import time

import faiss
import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--queries", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=0, help="0 = torch's default (all cores)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(torch.get_num_threads())

    rng = np.random.default_rng(0)
    def normed(x):
        return (x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-10)).astype(np.float32)
    bank = normed(np.maximum(rng.normal(1.0, 1.0, (args.n, args.d)), 0))
    queries = normed(np.maximum(rng.normal(1.0, 1.0, (args.queries, args.d)), 0))

    index = faiss.IndexFlatL2(args.d)
    index.add(bank)
    bank_t = torch.from_numpy(bank)
    bank_norms = (bank_t * bank_t).sum(1)

    def faiss_kth(q):
        dist, _ = index.search(q, args.k)
        return dist[:, -1]

    def torch_kth(q):
        qt = torch.from_numpy(q)
        d2 = ((qt * qt).sum(1, keepdim=True) + bank_norms - 2 * qt.mm(bank_t.t())).clamp_min(0)
        return d2.kthvalue(args.k, 1).values.numpy()

    results = {}
    for name, fn in [("faiss IndexFlatL2", faiss_kth), ("LibTorch matmul + kthvalue", torch_kth)]:
        fn(queries[: args.batch])  # warm-up
        out = []
        start = time.perf_counter()
        for i in range(0, args.queries, args.batch):
            out.append(fn(queries[i:i + args.batch]))
        secs = time.perf_counter() - start
        results[name] = np.concatenate(out)
        print(f"{name:28s} {secs / args.queries * 1e6:9.1f} us/query")
    a, b = results.values()
    print(f"largest difference of the k-th squared distances: {np.abs(a - b).max():.2e}")
    print(f"(bank {args.n} x {args.d}, k {args.k}, batches of {args.batch}, "
          f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
