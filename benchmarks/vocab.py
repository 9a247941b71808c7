"""Visual-word tree: our faiss HierarchicalKMeans against the same tree built with sklearn's MiniBatchKMeans.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/vocab.py                 # 200k x 1024, 12^4, then 1M x 1024
    python benchmarks/vocab.py --n 20000 --large 0               # quick look

The data: ``n`` synthetic clip features (D=1024, float32), a Gaussian mixture of ``--modes``
random centres (unit-variance noise, centre spread 2) so the tree has structure to find.

Both trees: ``levels`` x ``branching`` (default 4 x 12 = 20,736 words), k-means++ seeding, ``niter``
passes per node (sklearn: ``max_iter=niter`` epochs of mini-batches of ``--batch`` points,
``n_init=1``, default early stopping), every point of a node used, a node with n <= k points split
into one child per point. Inertia is the same quantity for both: the mean squared distance of a
point to the centroid of the leaf it was put in when the tree was built.

Prints fit times and the ratio (goal: ours >= 3x faster), inertias and their relative difference
(goal: ours no worse than 1%), then our fit time on ``--large`` points (default 1M x 1024; 4 GB
float32, generated in place in chunks). Run once with ``OMP_NUM_THREADS=2`` on an idle machine;
on a shared machine the cpu-second ratio is the steadier figure. Tree inertia varies by several per
cent from seed to seed on this data, so a 1% comparison needs a few seeds (``--seed``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def synthetic(n: int, dim: int, modes: int, seed: int) -> np.ndarray:
    """(n, dim) float32 mixture of ``modes`` Gaussians, written in chunks (no float64 copy)."""
    rng = np.random.default_rng(seed)
    centres = (rng.standard_normal((modes, dim), dtype=np.float32) * 2.0).astype(np.float32)
    x = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 65536):
        e = min(n, s + 65536)
        rng.standard_normal((e - s, dim), dtype=np.float32, out=x[s:e])
        x[s:e] += centres[rng.integers(0, modes, e - s)]
    return x


def sklearn_tree(x: np.ndarray, levels: int, k: int, niter: int, batch: int, seed: int) -> np.ndarray:
    """The same tree with sklearn MiniBatchKMeans; returns each point's leaf (N,) int64 (mixed radix)."""
    from sklearn.cluster import MiniBatchKMeans

    n = x.shape[0]
    leaf = np.zeros(n, dtype=np.int64)
    groups: dict[int, np.ndarray] = {0: np.arange(n)}
    for lv in range(levels):
        new: dict[int, np.ndarray] = {}
        for p, idx in sorted(groups.items()):
            xs = x[idx]  # (n_p, D)
            if len(idx) <= k:  # MiniBatchKMeans needs n >= k: one child per point
                lab = np.arange(len(idx))
            else:
                km = MiniBatchKMeans(
                    n_clusters=k, batch_size=batch, max_iter=niter, n_init=1, random_state=seed + lv * 100003 + p
                )
                lab = km.fit_predict(xs)
            for c in np.unique(lab):
                new[p * k + int(c)] = idx[lab == c]
        groups = new
    for node, idx in groups.items():
        leaf[idx] = node
    return leaf


def partition_inertia(x: np.ndarray, leaf: np.ndarray) -> float:
    """Mean squared distance of each point to the mean of its leaf (the best centroid for that partition)."""
    order = np.argsort(leaf, kind="stable")
    bounds = np.flatnonzero(np.diff(leaf[order])) + 1
    total = 0.0
    for rows in np.split(order, bounds):
        xs = x[rows]  # (n_leaf, D)
        total += float(((xs - xs.mean(0)) ** 2).sum(dtype=np.float64))
    return total / x.shape[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--branching", type=int, default=12)
    ap.add_argument("--niter", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1024, help="sklearn mini-batch size")
    ap.add_argument("--modes", type=int, default=1000)
    ap.add_argument("--large", type=int, default=1_000_000, help="points for our large fit (0: skip)")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import faiss

    from videobert.vocab.hkmeans import HierarchicalKMeans

    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    faiss.omp_set_num_threads(threads)
    print(f"load average {os.getloadavg()[0]:.1f}; threads={threads} faiss={faiss.__version__} n={args.n} dim={args.dim} tree={args.levels}x{args.branching} niter={args.niter}")
    x = synthetic(args.n, args.dim, args.modes, args.seed)

    t, c = time.perf_counter(), time.process_time()
    ours = HierarchicalKMeans(levels=args.levels, branching=args.branching, seed=args.seed, niter=args.niter).fit(x)
    t_ours, c_ours = time.perf_counter() - t, time.process_time() - c
    assert ours.labels_ is not None
    in_ours = ours.inertia_
    in_ours_part = partition_inertia(x, ours.labels_)
    print(f"ours   (faiss):   fit {t_ours:8.1f} s (cpu {c_ours:.1f} s)  inertia {in_ours:.4f} (leaf means: {in_ours_part:.4f})  words used {len(np.unique(ours.labels_))}")

    if not args.skip_sklearn:
        t, c = time.perf_counter(), time.process_time()
        leaf = sklearn_tree(x, args.levels, args.branching, args.niter, args.batch, args.seed)
        t_sk, c_sk = time.perf_counter() - t, time.process_time() - c
        in_sk = partition_inertia(x, leaf)
        print(f"sklearn (MiniBatchKMeans, batch {args.batch}): fit {t_sk:8.1f} s (cpu {c_sk:.1f} s)  inertia {in_sk:.4f} (leaf means)  words used {len(np.unique(leaf))}")
        print(f"speed-up: {t_sk / t_ours:.2f}x wall, {c_sk / c_ours:.2f}x cpu (goal >= 3x)")
        print(f"inertia ours/sklearn (both with leaf means): {in_ours_part / in_sk:.4f} (goal <= 1.01)")
    del x, ours

    if args.large:
        x = synthetic(args.large, args.dim, args.modes, args.seed + 1)
        t, c = time.perf_counter(), time.process_time()
        big = HierarchicalKMeans(levels=args.levels, branching=args.branching, seed=args.seed, niter=args.niter).fit(x)
        t_big, c_big = time.perf_counter() - t, time.process_time() - c
        try:
            import psutil

            rss = psutil.Process().memory_info().rss / 2**30
        except ImportError:  # pragma: no cover
            rss = float("nan")
        print(f"ours on {args.large} x {args.dim}: fit {t_big:.1f} s (cpu {c_big:.1f} s)  inertia {big.inertia_:.4f}  rss {rss:.1f} GiB (data {x.nbytes / 2**30:.1f} GiB)")


if __name__ == "__main__":
    main()
