"""Hierarchical k-means on faiss: the visual-word vocabulary of VideoBERT.

faiss is imported where k-means or a flat search runs, so a saved vocabulary loads (and its tree
assigns words) where faiss is not installed, e.g. on a training-only GPU machine; where it is
needed and missing, the error is one line naming the extra that installs it (``faiss-cpu`` or
``faiss-gpu``: the same ``faiss`` module; the k-means here runs on the CPU with either).

The paper clusters clip features with hierarchical k-means, 4 levels of 12 clusters, giving
12**4 = 20,736 visual words. Every node of the tree is clustered with *all* of its points
(faiss subsamples to ``256 * k`` points by default; we raise ``max_points_per_centroid`` unless
the caller asks for a cap), so deep nodes see exactly the points their parent gave them.

Word numbering
--------------
A leaf reached by the child indices ``(c_1, ..., c_L)`` (``0 <= c_i < k``) has the id
``sum_i c_i * k**(L - i)`` (mixed radix), so ids lie in ``[0, k**L)`` and never depend on how
many words happen to be used. Children of a node are numbered by decreasing size (ties broken
by faiss' centroid order), so within a node child 0 is the most populated one. Node ``p`` at
depth ``l`` has the children ``p * k + c`` at depth ``l + 1``; the root is node 0 at depth 0.

Small and degenerate nodes
--------------------------
A node with ``n <= k`` points gets one child per *distinct* point (duplicates share a child), so
it may have fewer than ``k`` children; a node with more points whose clustering leaves empty
clusters (e.g. many duplicates) keeps only the non-empty ones. Missing children are marked
invalid; their ids are simply never assigned. Nothing crashes for any ``n >= 1``.

Storage
-------
``save(dir)`` writes ``dir/centroids.safetensors`` with, for each depth ``l = 1..L``, the tensors
``level{l}.centroids`` float32 ``(k**l, D)`` (zeros where unused) and ``level{l}.valid`` uint8
``(k**l,)``; and ``dir/config.json`` with the hyper-parameters (levels, branching, dim, n_words,
normalize, seed, niter, max_points_per_centroid) plus any extra keys the caller passes.

Preprocessing
-------------
``normalize=True`` L2-normalises every feature row before clustering and before assignment
(the flag is saved, so assignment always matches the fit). The class default is ``False``
(plain k-means on the given vectors); the pipeline (:func:`videobert.vocab.assign.fit_vocab`)
turns it on by default, because deep clip features differ mostly in direction and much less
usefully in norm.
"""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from safetensors.numpy import load_file, save_file
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from videobert.errors import InputFileError, VideoBertError
from videobert.utils.io import atomic_write_json, atomic_write_with, read_json

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
CENTROIDS_NAME = "centroids.safetensors"
FORMAT_VERSION = 1
#: k-means++ seeding of a node looks at no more than this many points per centroid (a random sample)
INIT_SAMPLE_PER_CENTROID = 256
#: with early stopping, a node's Lloyd iterations run in faiss calls of about this many point-iterations
CHUNK_POINTS = 65536
#: nodes with fewer than this many floats (n * D) are clustered single-threaded (faiss and BLAS)
SMALL_NODE_WORK = 1 << 22


def _faiss() -> Any:
    """The faiss module, or a one-line error naming the extra that installs it."""
    from videobert.utils.extras import require

    return require("faiss")


def _node_seed(seed: int, depth: int, node: int) -> int:
    """A deterministic, well-mixed 31-bit faiss seed for node ``node`` at depth ``depth``."""
    state = np.random.SeedSequence([int(seed), int(depth), int(node)]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF


def _sq_dists_shifted(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared L2 distances between rows of ``x`` (n, D) and ``c`` (m, D), minus ``||x||^2``: (n, m) float32."""
    d = (x * x).sum(1, keepdims=True) - 2.0 * (x @ c.T) + (c * c).sum(1)[None, :]  # (n, m)
    np.maximum(d, 0.0, out=d)
    return d


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator, n_trials: int | None = None) -> np.ndarray:
    """Greedy k-means++ seeding (as in scikit-learn): ``k`` initial centroids (k, D) float32.

    Args:
        x: (n, D) float32 points, n >= k.
        k: number of centroids.
        rng: random generator (seeded by the caller: deterministic).
        n_trials: candidates per step (default ``2 + int(log(k))``); the one that lowers the
            potential most is kept.
    """
    n = x.shape[0]
    n_trials = n_trials or 2 + int(np.log(k))
    sq_norms = (x * x).sum(1)  # (n,)
    centers = np.empty((k, x.shape[1]), dtype=np.float32)
    first = int(rng.integers(n))
    centers[0] = x[first]
    closest = np.maximum(sq_norms - 2.0 * (x @ x[first]) + sq_norms[first], 0.0)  # (n,)
    for i in range(1, k):
        pot = float(closest.sum(dtype=np.float64))
        if pot <= 0.0:  # all points coincide with chosen centres: any point will do
            cand = rng.integers(n, size=1)
        else:
            cum = np.cumsum(closest, dtype=np.float64)
            cand = np.searchsorted(cum, rng.random(n_trials) * cum[-1], side="right")
            cand = np.minimum(cand, n - 1)
        d = sq_norms[:, None] - 2.0 * (x @ x[cand].T) + sq_norms[cand][None, :]  # (n, n_trials)
        d = np.minimum(np.maximum(d, 0.0), closest[:, None])  # (n, n_trials)
        best = int(d.sum(0, dtype=np.float64).argmin())
        centers[i] = x[cand[best]]
        closest = d[:, best]
    return centers


def _row_sq_dist(x: np.ndarray, cents: np.ndarray, ids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Exact squared distances ``(N,)`` float32 of ``x[i]`` (N, D) to ``cents[ids[i]]``, in row chunks."""
    out = np.empty(x.shape[0], dtype=np.float32)
    for s in range(0, x.shape[0], chunk):
        diff = x[s : s + chunk] - cents[ids[s : s + chunk]]  # (chunk, D)
        out[s : s + chunk] = np.einsum("nd,nd->n", diff, diff)
    return out


class HierarchicalKMeans:
    """A k-means tree of ``levels`` levels with ``branching`` children per node.

    Args:
        levels: depth L of the tree (>= 1).
        branching: k, the children per node (>= 2); ``n_words = k**L``.
        seed: base seed; each node's k-means gets a seed derived from (seed, depth, node).
        niter: Lloyd iterations per node.
        max_points_per_centroid: faiss' subsampling cap per centroid; ``None`` uses all points.
        normalize: L2-normalise rows before fitting and assigning.
        verbose: progress bars over the nodes of each level.
        n_threads: if given, ``faiss.omp_set_num_threads(n_threads)`` before fitting/assigning.
        init: ``"kmeans++"`` (greedy k-means++ seeding per node, default: avoids the bad local
            minima of random seeding, which a tree cannot repair at deeper levels) or ``"random"``
            (faiss' own random sampling of points).
        tol: stop a node's iterations early once one lowers the k-means objective by less than
            this fraction (0: always run ``niter``). Big nodes converge in a few iterations.
    """

    def __init__(
        self,
        levels: int = 4,
        branching: int = 12,
        seed: int = 0,
        niter: int = 20,
        max_points_per_centroid: int | None = None,
        verbose: bool = False,
        normalize: bool = False,
        n_threads: int | None = None,
        init: Literal["kmeans++", "random"] = "kmeans++",
        tol: float = 0.0,
    ) -> None:
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        if branching < 2:
            raise ValueError(f"branching must be >= 2, got {branching}")
        self.levels = int(levels)
        self.branching = int(branching)
        self.seed = int(seed)
        self.niter = int(niter)
        self.max_points_per_centroid = max_points_per_centroid
        self.verbose = verbose
        self.normalize = bool(normalize)
        self.n_threads = n_threads
        self.init = init
        self.tol = float(tol)
        self.dim: int | None = None
        # _centroids[l] is depth l+1: (k**(l+1), D) float32; _valid[l]: (k**(l+1),) bool
        self._centroids: list[np.ndarray] = []
        self._valid: list[np.ndarray] = []
        self.inertia_: float | None = None
        self.labels_: np.ndarray | None = None
        self.n_fit_samples: int = 0

    # ------------------------------------------------------------------ basics
    @property
    def n_words(self) -> int:
        """Size of the id space, ``branching ** levels`` (some ids may be unused)."""
        return self.branching**self.levels

    @property
    def is_fitted(self) -> bool:
        return bool(self._centroids)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise VideoBertError("HierarchicalKMeans is not fitted: call fit() or load() first")

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """``x`` (N, D) any float -> C-contiguous float32 (N, D), L2-normalised if configured.

        No copy when ``x`` is already C-contiguous float32 and ``normalize`` is off.
        """
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D array (N, D), got shape {x.shape}")
        if self.dim is not None and x.shape[1] != self.dim:
            raise ValueError(f"expected feature dim {self.dim}, got {x.shape[1]}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.normalize:
            norms = np.linalg.norm(x, axis=1, keepdims=True)  # (N, 1)
            x = x / np.maximum(norms, 1e-12)
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or inf")
        return x

    def _set_threads(self) -> None:
        from videobert.utils.extras import missing

        if self.n_threads is not None and not missing(["faiss"]):  # without faiss: no faiss threads to set
            faiss = _faiss()

            faiss.omp_set_num_threads(int(self.n_threads))

    # ------------------------------------------------------------------ fit
    def _split(self, xs: np.ndarray, seed: int, need_dist: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cluster one node's points.

        Args:
            xs: (n, D) float32 C-contiguous, n >= 1.
            seed: faiss seed for this node.
            need_dist: compute the distances (else an empty array is returned for them).

        Returns:
            centroids (m, D) float32 with 1 <= m <= k, ordered by decreasing cluster size;
            labels (n,) int64 in [0, m); squared distances (n,) float32 to the own centroid.
        """
        n, d = xs.shape
        k = self.branching
        if n <= k:
            # one child per distinct point, in order of first appearance (n <= k: n^2 compares are cheap)
            same = (xs[:, None, :] == xs[None, :, :]).all(-1)  # (n, n)
            first = same.argmax(1)  # (n,) index of the first row equal to each row
            reps = np.flatnonzero(first == np.arange(n))  # (m,)
            cents = xs[reps].astype(np.float32)
            labels = np.searchsorted(reps, first).astype(np.int64)
            dist = np.zeros(n, dtype=np.float32)
        else:
            init = None
            if self.init == "kmeans++":
                rng = np.random.default_rng(seed)
                # seed on at most INIT_SAMPLE_PER_CENTROID * k points (sklearn seeds on a sample too)
                m = INIT_SAMPLE_PER_CENTROID * k
                sample = xs if n <= m else xs[np.sort(rng.choice(n, m, replace=False))]  # (<= m, D)
                init = kmeans_plus_plus(sample, k, rng)
            elif self.init != "random":
                raise ValueError(f"unknown init {self.init!r} (use 'kmeans++' or 'random')")
            km = self._lloyd(xs, init, seed)
            cents = np.asarray(km.centroids, dtype=np.float32).reshape(k, d)  # (k, D)
            _, lab2d = km.index.search(xs, 1)  # (n, 1)
            labels = lab2d.reshape(-1).astype(np.int64)  # (n, 1) -> (n,)
            dist = _row_sq_dist(xs, cents, labels) if need_dist else np.zeros(0, np.float32)
        counts = np.bincount(labels, minlength=len(cents))
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] > 0]  # drop empty clusters
        remap = np.full(len(cents), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        return np.ascontiguousarray(cents[order]), remap[labels], dist

    def _lloyd(self, xs: np.ndarray, init: np.ndarray | None, seed: int) -> faiss.Kmeans:
        """Up to ``niter`` faiss Lloyd iterations on ``xs`` (n, D) from ``init`` (k, D) (None: faiss' random init).

        With ``tol > 0`` the iterations run in chunks (one call per ~CHUNK_POINTS point-iterations, so
        small nodes run in one call) and stop once an iteration lowers the objective by less than
        ``tol`` relative. Returns the trained ``faiss.Kmeans`` (``centroids``, ``index``).
        """
        faiss = _faiss()

        n, d = xs.shape
        k = self.branching
        mppc = int(self.max_points_per_centroid) if self.max_points_per_centroid else n
        chunk = self.niter if self.tol <= 0 else max(1, min(self.niter, CHUNK_POINTS // n))
        done, prev = 0, None
        while True:
            steps = min(chunk, self.niter - done)
            km = faiss.Kmeans(
                d, k, niter=steps, seed=(seed + done) & 0x7FFFFFFF, max_points_per_centroid=mppc, min_points_per_centroid=1, verbose=False
            )
            km.train(xs, init_centroids=init)
            done += steps
            objs = [float(st["obj"]) for st in km.iteration_stats] if self.tol > 0 else []
            converged = False
            for obj in objs:
                if prev is not None and prev > 0 and (prev - obj) / prev < self.tol:
                    converged = True
                prev = obj
            if converged or done >= self.niter:
                return km
            init = np.asarray(km.centroids, dtype=np.float32).reshape(k, d)  # (k, D)

    def fit(self, x: np.ndarray) -> HierarchicalKMeans:
        """Build the tree on ``x`` (N, D) float (float32 avoids a copy), N >= 1.

        Sets ``labels_`` (N,) int32 leaf ids and ``inertia_`` (mean squared distance of a point to
        its leaf centroid, in squared feature units, after normalisation if enabled).
        """
        x = self.preprocess(x)
        n, d = x.shape
        if n == 0:
            raise ValueError("cannot fit a vocabulary on 0 points")
        self.dim = d
        faiss = _faiss()

        self._set_threads()
        threads = faiss.omp_get_max_threads()
        k, L = self.branching, self.levels
        cents = [np.zeros((k ** (lv + 1), d), dtype=np.float32) for lv in range(L)]
        valid = [np.zeros(k ** (lv + 1), dtype=bool) for lv in range(L)]
        labels = np.empty(n, dtype=np.int32)
        sq_sum = 0.0
        # parent node id -> indices of its points (None: all points, avoids copying x at the root)
        groups: dict[int, np.ndarray | None] = {0: None}
        for lv in range(L):
            new_groups: dict[int, np.ndarray | None] = {}
            it = tqdm(sorted(groups), desc=f"hkmeans level {lv + 1}/{L}", disable=not self.verbose)
            largest = max(n if i is None else len(i) for i in groups.values())
            # thread start-up and barriers dominate tiny problems: run small levels/nodes single-threaded
            blas_ctx = threadpool_limits(1, user_api="blas") if largest * d < SMALL_NODE_WORK else nullcontext()
            with blas_ctx:
                for p in it:
                    idx = groups[p]
                    xs = x if idx is None else x[idx]  # (n_p, D)
                    small = xs.shape[0] * d < SMALL_NODE_WORK
                    if small:
                        faiss.omp_set_num_threads(1)
                    try:
                        c, lab, dist = self._split(xs, _node_seed(self.seed, lv + 1, p), need_dist=lv == L - 1)
                    finally:
                        if small:
                            faiss.omp_set_num_threads(threads)
                    child = p * k + np.arange(len(c))
                    cents[lv][child] = c
                    valid[lv][child] = True
                    if idx is None:
                        idx = np.arange(n, dtype=np.int64)
                    if lv < L - 1:
                        order = np.argsort(lab, kind="stable")
                        bounds = np.searchsorted(lab[order], np.arange(len(c) + 1))
                        for j in range(len(c)):
                            new_groups[int(child[j])] = idx[order[bounds[j] : bounds[j + 1]]]
                    else:
                        labels[idx] = child[lab]
                        sq_sum += float(dist.astype(np.float64).sum())
                    del xs
            groups = new_groups
        self._centroids, self._valid = cents, valid
        self.labels_ = labels
        self.inertia_ = sq_sum / n
        self.n_fit_samples = n
        log.info(
            "hierarchical k-means: %d points, %d levels x %d, %d/%d leaves used, inertia %.6g",
            n,
            L,
            k,
            int(valid[-1].sum()),
            self.n_words,
            self.inertia_,
        )
        return self

    # ------------------------------------------------------------------ assign
    def assign(
        self,
        x: np.ndarray,
        method: Literal["tree", "flat"] = "tree",
        return_distances: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Visual word of each row of ``x`` (N, D).

        Args:
            x: (N, D) features (any float dtype; preprocessed like the fit data).
            method: ``"tree"`` descends the tree (nearest child at every level, as in the paper);
                ``"flat"`` takes the nearest used leaf centroid overall (exact, slower for big vocabularies).
            return_distances: also return the squared distances (N,) float32 to the chosen leaf.

        Returns:
            ids (N,) int32 in ``[0, n_words)``; with ``return_distances`` also (N,) float32.
        """
        self._check_fitted()
        x = self.preprocess(x)
        n = x.shape[0]
        self._set_threads()
        if n == 0:
            ids, dist = np.zeros(0, np.int32), np.zeros(0, np.float32)
        elif method == "flat":
            leaf, mask = self.leaf_centroids()
            used = np.flatnonzero(mask)
            faiss = _faiss()

            index = faiss.IndexFlatL2(x.shape[1])
            index.add(np.ascontiguousarray(leaf[used]))
            _, i2 = index.search(x, 1)  # (N, 1)
            ids = used[i2.reshape(-1)].astype(np.int32)  # (N, 1) -> (N,)
            dist = _row_sq_dist(x, leaf, ids) if return_distances else np.zeros(0, np.float32)
        elif method == "tree":
            ids = self._assign_tree(x)
            dist = _row_sq_dist(x, self._centroids[-1], ids) if return_distances else np.zeros(0, np.float32)
        else:
            raise ValueError(f"unknown assignment method {method!r} (use 'tree' or 'flat')")
        return (ids, dist) if return_distances else ids

    def _assign_tree(self, x: np.ndarray) -> np.ndarray:
        """Tree descent for preprocessed ``x`` (N, D) -> ids (N,) int32."""
        n = x.shape[0]
        node = np.zeros(n, dtype=np.int64)
        for lv in range(self.levels):
            order = np.argsort(node, kind="stable")
            parents, starts = np.unique(node[order], return_index=True)
            ends = np.append(starts[1:], n)
            child = np.empty(n, dtype=np.int64)
            small = int((ends - starts).max()) * x.shape[1] < SMALL_NODE_WORK
            with threadpool_limits(1, user_api="blas") if small else nullcontext():
                self._descend_level(x, lv, order, parents, starts, ends, child)
            node = child
        return node.astype(np.int32)

    def _descend_level(
        self,
        x: np.ndarray,
        lv: int,
        order: np.ndarray,
        parents: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        child: np.ndarray,
    ) -> None:
        """One level of tree descent: fill ``child`` (N,) with the nearest valid child of each point's node.

        ``order`` (N,) sorts the points by current node; the points of ``parents[i]`` are
        ``order[starts[i]:ends[i]]``.
        """
        k, n = self.branching, x.shape[0]
        cents, valid = self._centroids[lv], self._valid[lv]
        for p, s, e in zip(parents.tolist(), starts.tolist(), ends.tolist(), strict=True):
            cand = p * k + np.arange(k)
            cand = cand[valid[cand]]
            rows = order[s:e]
            xs = x if (s == 0 and e == n and len(parents) == 1) else x[rows]  # (n_p, D)
            d = _sq_dists_shifted(xs, cents[cand])  # (n_p, m)
            best = d.argmin(1)
            if xs is x:
                child[:] = cand[best]
            else:
                child[rows] = cand[best]

    # ------------------------------------------------------------------ views
    def leaf_centroids(self) -> tuple[np.ndarray, np.ndarray]:
        """Leaf centroids ``(n_words, D)`` float32 (zeros for unused ids) and the used mask ``(n_words,)`` bool."""
        self._check_fitted()
        return self._centroids[-1].copy(), self._valid[-1].copy()

    def level_centroids(self, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Centroids ``(k**depth, D)`` and valid mask ``(k**depth,)`` of the nodes at ``depth`` (1..L)."""
        self._check_fitted()
        if not 1 <= depth <= self.levels:
            raise ValueError(f"depth must be in [1, {self.levels}], got {depth}")
        return self._centroids[depth - 1].copy(), self._valid[depth - 1].copy()

    def word_path(self, word: int) -> tuple[int, ...]:
        """Child indices ``(c_1, ..., c_L)`` of a word id (mixed radix digits)."""
        digits = []
        for _ in range(self.levels):
            word, c = divmod(int(word), self.branching)
            digits.append(c)
        return tuple(reversed(digits))

    # ------------------------------------------------------------------ io
    def config(self) -> dict[str, Any]:
        """Hyper-parameters and fitted shape as a JSON-able dict."""
        return {
            "format_version": FORMAT_VERSION,
            "levels": self.levels,
            "branching": self.branching,
            "dim": self.dim,
            "n_words": self.n_words,
            "normalize": self.normalize,
            "seed": self.seed,
            "niter": self.niter,
            "init": self.init,
            "tol": self.tol,
            "max_points_per_centroid": self.max_points_per_centroid,
            "n_fit_samples": self.n_fit_samples,
            "inertia": self.inertia_,
            "n_used_words": int(self._valid[-1].sum()) if self.is_fitted else 0,
        }

    def save(self, directory: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write ``centroids.safetensors`` then ``config.json`` (config last: its presence means complete).

        ``extra`` keys (e.g. backbone, stats) are merged into config.json.
        """
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {}
        for lv in range(self.levels):
            tensors[f"level{lv + 1}.centroids"] = np.ascontiguousarray(self._centroids[lv])
            tensors[f"level{lv + 1}.valid"] = self._valid[lv].astype(np.uint8)
        atomic_write_with(directory / CENTROIDS_NAME, lambda p: save_file(tensors, str(p)))
        cfg = self.config()
        if extra:
            cfg.update(extra)
        atomic_write_json(directory / CONFIG_NAME, cfg)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> HierarchicalKMeans:
        """Load a tree saved by :meth:`save` (no pickle: JSON + safetensors)."""
        directory = Path(directory)
        cfg_path, st_path = directory / CONFIG_NAME, directory / CENTROIDS_NAME
        for p in (cfg_path, st_path):
            if not p.exists():
                raise InputFileError(p, "missing; run `videobert fit-vocab` first")
        cfg = read_json(cfg_path)
        try:
            model = cls(
                levels=int(cfg["levels"]),
                branching=int(cfg["branching"]),
                seed=int(cfg.get("seed", 0)),
                niter=int(cfg.get("niter", 20)),
                init=cfg.get("init", "kmeans++"),
                tol=float(cfg.get("tol", 0.0)),
                max_points_per_centroid=cfg.get("max_points_per_centroid"),
                normalize=bool(cfg.get("normalize", False)),
            )
            tensors = load_file(str(st_path))
            k = model.branching
            for lv in range(model.levels):
                c = tensors[f"level{lv + 1}.centroids"].astype(np.float32)
                v = tensors[f"level{lv + 1}.valid"].astype(bool)
                if c.shape[0] != k ** (lv + 1) or v.shape != (k ** (lv + 1),):
                    raise InputFileError(st_path, f"level {lv + 1} has shape {c.shape}, expected {k ** (lv + 1)} rows")
                model._centroids.append(c)
                model._valid.append(v)
        except KeyError as exc:
            raise InputFileError(directory, f"vocabulary files lack {exc}") from exc
        model.dim = int(model._centroids[0].shape[1])
        model.inertia_ = cfg.get("inertia")
        model.n_fit_samples = int(cfg.get("n_fit_samples", 0))
        return model
