"""HierarchicalKMeans on faiss: blob recovery, determinism, save/load, small and degenerate nodes."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from videobert.vocab.hkmeans import HierarchicalKMeans, kmeans_plus_plus
from videobert.vocab.stats import vocab_stats


def purity(truth: np.ndarray, ids: np.ndarray) -> float:
    """Fraction of points whose leaf's majority blob is their own blob."""
    return sum(Counter(truth[ids == w].tolist()).most_common(1)[0][1] for w in np.unique(ids)) / len(truth)


def blobs(n_blobs: int, n: int, dim: int, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = (rng.normal(size=(n_blobs, dim)) * scale).astype(np.float32)
    y = rng.integers(0, n_blobs, n)
    x = centres[y] + rng.normal(size=(n, dim)).astype(np.float32)
    return x.astype(np.float32), y, centres


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blobs_recovered_finer_tree(seed: int) -> None:
    x, y, _ = blobs(10, 3000, 32, 10.0, seed)
    m = HierarchicalKMeans(levels=3, branching=4, seed=seed, niter=20).fit(x)
    ids = m.assign(x)
    assert ids.dtype == np.int32 and ids.shape == (3000,)
    assert ids.min() >= 0 and ids.max() < 64
    assert purity(y, ids) >= 0.99
    np.testing.assert_array_equal(ids, m.labels_)  # tree descent reproduces the fit partition


def test_blobs_recovered_exactly_one_leaf_per_blob() -> None:
    # 16 blobs in 4 well separated groups of 4; a 4 x 4 tree must map blobs to leaves one to one
    rng = np.random.default_rng(3)
    groups = rng.normal(size=(4, 32)) * 20
    centres = (groups[:, None, :] + rng.normal(size=(4, 4, 32)) * 3).reshape(16, 32).astype(np.float32)  # (4, 4, D) -> (16, D)
    y = rng.integers(0, 16, 4000)
    x = (centres[y] + 0.3 * rng.normal(size=(4000, 32))).astype(np.float32)
    m = HierarchicalKMeans(levels=2, branching=4, seed=0).fit(x)
    ids = m.assign(x)
    assert purity(y, ids) >= 0.99
    assert len(np.unique(ids)) == 16
    leaf, mask = m.leaf_centroids()
    assert mask.sum() == 16
    for b in range(16):
        word = Counter(ids[y == b].tolist()).most_common(1)[0][0]
        np.testing.assert_allclose(leaf[word], x[y == b].mean(0), atol=1e-3)  # the blob's mean
        assert np.linalg.norm(leaf[word] - centres[b]) < 0.3  # near the true centre (sampling error ~0.1)
    # flat nearest-leaf agrees with tree descent on such clean data
    np.testing.assert_array_equal(m.assign(x, method="flat"), ids)
    # each blob's words share its group's level-1 node: id // 4 is the level-1 child
    for g in range(4):
        assert len({int(i) // 4 for i in ids[np.isin(y, np.arange(4 * g, 4 * g + 4))]}) == 1


def test_inertia_and_distances_are_consistent() -> None:
    x, _, _ = blobs(5, 800, 16, 5.0, 7)
    m = HierarchicalKMeans(levels=2, branching=3, seed=1).fit(x)
    ids, dist = m.assign(x, return_distances=True)
    leaf, mask = m.leaf_centroids()
    assert mask[ids].all()
    manual = ((x - leaf[ids]) ** 2).sum(1)
    np.testing.assert_allclose(dist, manual, rtol=1e-3, atol=1e-3)
    assert m.inertia_ == pytest.approx(float(manual.mean()), rel=1e-3)
    ids_f, dist_f = m.assign(x, method="flat", return_distances=True)
    assert (dist_f <= dist + 1e-3).all()  # the flat nearest leaf is never farther than the tree's


def test_same_seed_same_centroids_other_seed_differs() -> None:
    x = np.random.default_rng(0).normal(size=(3000, 24)).astype(np.float32)
    a = HierarchicalKMeans(levels=3, branching=5, seed=4).fit(x)
    b = HierarchicalKMeans(levels=3, branching=5, seed=4).fit(x)
    c = HierarchicalKMeans(levels=3, branching=5, seed=5).fit(x)
    for depth in (1, 2, 3):
        np.testing.assert_array_equal(a.level_centroids(depth)[0], b.level_centroids(depth)[0])
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert not np.array_equal(a.leaf_centroids()[0], c.leaf_centroids()[0])


def test_save_load_assign_identical(tmp_path) -> None:
    x, _, _ = blobs(8, 1500, 20, 4.0, 11)
    m = HierarchicalKMeans(levels=3, branching=4, seed=2, normalize=True).fit(x)
    m.save(tmp_path / "vocab", extra={"backbone": "toy"})
    cfg = json.loads((tmp_path / "vocab" / "config.json").read_text())
    assert cfg["levels"] == 3 and cfg["branching"] == 4 and cfg["n_words"] == 64 and cfg["dim"] == 20
    assert cfg["normalize"] is True and cfg["backbone"] == "toy" and cfg["n_fit_samples"] == 1500
    r = HierarchicalKMeans.load(tmp_path / "vocab")
    assert r.normalize and r.n_words == 64 and r.dim == 20
    np.testing.assert_array_equal(r.leaf_centroids()[0], m.leaf_centroids()[0])
    np.testing.assert_array_equal(r.leaf_centroids()[1], m.leaf_centroids()[1])
    x_new = np.random.default_rng(1).normal(size=(500, 20)).astype(np.float16)
    for method in ("tree", "flat"):
        np.testing.assert_array_equal(r.assign(x_new, method=method), m.assign(x_new, method=method))
        np.testing.assert_array_equal(r.assign(x, method=method), m.assign(x, method=method))


def test_normalize_makes_assignment_scale_invariant() -> None:
    x = np.random.default_rng(2).normal(size=(600, 12)).astype(np.float32)
    m = HierarchicalKMeans(levels=2, branching=4, normalize=True).fit(x)
    np.testing.assert_array_equal(m.assign(x), m.assign(3.5 * x))
    leaf, mask = m.leaf_centroids()
    assert leaf[~mask].sum() == 0  # unused ids are zeros


@pytest.mark.parametrize("n", [1, 2, 4, 5, 13])
def test_small_nodes_never_crash(n: int) -> None:
    x = np.random.default_rng(n).normal(size=(n, 8)).astype(np.float32)
    m = HierarchicalKMeans(levels=3, branching=4, seed=0).fit(x)
    ids = m.assign(x)
    assert ids.shape == (n,) and ids.max() < 64
    if n <= 4:  # n <= k: each point is its own child all the way down, distance 0
        assert len(np.unique(ids)) == n
        assert m.inertia_ == 0.0
        # its own child at the top, then child 0 below: ids are multiples of k**2
        assert all(int(i) % 16 == 0 for i in ids)
    _, mask = m.leaf_centroids()
    assert mask.sum() == len(np.unique(m.labels_))
    assert set(np.flatnonzero(mask).tolist()) == set(ids.tolist())


def test_duplicates_and_degenerate_nodes() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 6)).astype(np.float32)
    x = np.repeat(base, 200, axis=0)  # 600 points, only 3 distinct
    m = HierarchicalKMeans(levels=2, branching=5, seed=0).fit(x)
    ids = m.assign(x)
    assert len(np.unique(ids)) == 3
    for i in range(3):
        assert len(np.unique(ids[i * 200 : (i + 1) * 200])) == 1
    assert m.inertia_ == pytest.approx(0.0, abs=1e-4)  # faiss perturbs split centroids by ~1e-3
    same = np.zeros((50, 4), np.float32)
    ids = HierarchicalKMeans(levels=4, branching=3).fit(same).assign(same)
    assert (ids == 0).all()


def test_word_numbering_is_mixed_radix() -> None:
    x = np.random.default_rng(5).normal(size=(2000, 10)).astype(np.float32)
    k, L = 3, 3
    m = HierarchicalKMeans(levels=L, branching=k, seed=0).fit(x)
    ids = m.assign(x)
    for depth in range(1, L + 1):
        _, valid = m.level_centroids(depth)
        prefix = ids // k ** (L - depth)
        assert valid[prefix].all()  # every prefix of a word is a fitted node
    assert m.word_path(int(ids[0])) == tuple(int(ids[0]) // k ** (L - i) % k for i in range(1, L + 1))
    # children are numbered by decreasing size
    counts = np.bincount(ids // k ** (L - 1), minlength=k)
    assert (np.diff(counts) <= 0).all()


def test_all_points_used_by_default() -> None:
    # 600 points, k=2, faiss' default would subsample to 256*k=512; ours uses all:
    # at convergence each centroid is the mean of its points
    x = np.random.default_rng(0).normal(size=(600, 2)).astype(np.float32)
    m = HierarchicalKMeans(levels=1, branching=2, niter=50, seed=0).fit(x)
    leaf, _ = m.leaf_centroids()
    for w in range(2):
        np.testing.assert_allclose(leaf[w], x[m.labels_ == w].mean(0), atol=1e-5)


def test_kmeans_plus_plus_spreads_seeds() -> None:
    x, y, _ = blobs(6, 1200, 8, 50.0, 0)
    c = kmeans_plus_plus(x, 6, np.random.default_rng(0))
    hit = {int(y[np.argmin(((x - ci) ** 2).sum(1))]) for ci in c}
    assert len(hit) == 6  # one seed per blob


def test_vocab_stats_numbers() -> None:
    s = vocab_stats(np.array([2, 2, 0, 0]), sq_dist_sum=2.0)
    assert s["words_used"] == 2 and s["n_tokens"] == 4 and s["n_words"] == 4
    assert s["entropy_bits"] == pytest.approx(1.0)
    assert s["largest_share"] == pytest.approx(0.5) and s["largest_word"] == 0
    assert s["inertia"] == pytest.approx(0.5)
    s = vocab_stats(np.array([1, 1, 1, 1, 1, 1, 1, 1]))
    assert s["entropy_bits"] == pytest.approx(3.0) and "inertia" not in s


def test_bad_input() -> None:
    m = HierarchicalKMeans(levels=2, branching=3)
    with pytest.raises(Exception, match="not fitted"):
        m.assign(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError):
        m.fit(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError):
        HierarchicalKMeans(branching=1)
    m.fit(np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32))
    with pytest.raises(ValueError, match="dim"):
        m.assign(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="method"):
        m.assign(np.zeros((2, 3), np.float32), method="nope")  # type: ignore[arg-type]


def test_saved_vocabulary_loads_and_assigns_without_faiss(tmp_path) -> None:
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    km = HierarchicalKMeans(levels=2, branching=3, seed=0).fit(x)
    km.save(tmp_path / "vocab")
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys; sys.modules['faiss'] = None\n"  # any `import faiss` now fails
        "import numpy as np\n"
        "from videobert.vocab.hkmeans import HierarchicalKMeans\n"
        f"km = HierarchicalKMeans.load({str(tmp_path / 'vocab')!r})\n"
        f"ids = km.assign(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "leaf, used = km.leaf_centroids()\n"
        "print(','.join(map(str, ids.tolist())), int(used.sum()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == ",".join(map(str, km.assign(x).tolist())) and int(out[1]) == int(km.leaf_centroids()[1].sum())
