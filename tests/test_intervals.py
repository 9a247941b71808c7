"""Bootstrap intervals: against a hand computation, the textbook width, paired baselines, clusters,
and BLEU's bootstrap statistic against pycocoevalcap itself."""

from __future__ import annotations

import numpy as np
import pytest

from videobert.eval.intervals import bootstrap_interval, percentile_interval, resample_indices, unit_intervals


def test_interval_equals_a_hand_computation() -> None:
    hits = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    idx = resample_indices(5, n_resamples=4, seed=7)
    assert idx.shape == (4, 5) and idx.min() >= 0 and idx.max() < 5
    # by hand: each resample's mean, sorted, then numpy's linear-interpolation percentiles
    means = sorted(sum(hits[j] for j in row) / 5 for row in idx)
    lo_pos, hi_pos = 0.025 * 3, 0.975 * 3  # positions in the sorted list of 4
    lo = means[0] + (means[1] - means[0]) * lo_pos
    hi = means[2] + (means[3] - means[2]) * (hi_pos - 2)
    got = bootstrap_interval(hits, n_resamples=4, seed=7)
    assert got == pytest.approx([lo, hi])
    assert percentile_interval(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 0.5) == pytest.approx([1.0, 3.0])


def test_width_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(0)
    hits = (rng.random(400) < 0.5).astype(np.float64)
    lo, hi = bootstrap_interval(hits, n_resamples=2000, seed=1)
    p = hits.mean()
    assert lo < p < hi
    assert hi - lo == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / 400), rel=0.1)


def test_paired_baseline_constant_chance_nan_units_and_lower_is_better() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(200) < 0.3).astype(np.float64)
    ours = np.where(rng.random(200) < 0.2, 1.0, base)  # the baseline's hits plus more: always >= it
    noun = np.where(np.arange(200) % 2 == 0, ours, np.nan)  # half the units have no such label
    ranks = rng.integers(1, 20, 200).astype(np.float64)
    out = unit_intervals(
        {"top1": ours, "noun_top1": noun, "t2v_median_rank": lambda idx: float(np.median(ranks[idx]))},
        {"top1": base, "noun_top1": 0.01, "t2v_median_rank": 100.0},
        seed=3,
    )
    assert out.n == 200
    assert out.difference["top1"][0] > 0 and out.above_baseline["top1"]
    assert out.baseline["noun_top1"] == [0.01, 0.01]
    lo, hi = out.metrics["noun_top1"]
    assert lo < np.nanmean(noun) < hi
    assert out.above_baseline["t2v_median_rank"]  # far below the baseline's rank: better
    same = unit_intervals({"top1": base}, {"top1": base})
    assert same.difference["top1"] == [0.0, 0.0] and not same.above_baseline["top1"]
    with pytest.raises(ValueError, match="expected 200"):
        unit_intervals({"a": ours, "b": ours[:5]})


def test_clusters_resample_whole_videos() -> None:
    """Positions of one video move together: a cluster bootstrap is wider than one over positions."""
    videos = np.repeat(np.arange(20), 10)
    per_video = np.random.default_rng(0).random(20) < 0.5
    hits = per_video[videos].astype(np.float64)  # every position of a video alike
    flat = unit_intervals({"top1": hits}, seed=0)
    grouped = unit_intervals({"top1": hits}, clusters=videos, seed=0)
    assert flat.n == 200 and grouped.n == 20
    width = lambda iv: iv.metrics["top1"][1] - iv.metrics["top1"][0]  # noqa: E731
    assert width(grouped) > 2 * width(flat)
    calls = []
    unit_intervals({"s": lambda idx: calls.append(len(idx)) or 0.0}, n=200, clusters=videos, n_resamples=3)
    assert calls == [200, 200, 200]  # 20 whole videos of 10 positions each


def test_bleu_statistic_reproduces_pycocoevalcap() -> None:
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu

    from videobert.eval.captions import bleu_statistic, bleu_stats

    gts = {0: ["cut the onion into pieces", "chop an onion"], 1: ["pour the water"], 2: ["fry the egg in a pan"],
           3: ["add salt"], 4: ["stir the rice with a spoon"]}  # fmt: skip
    res = {0: ["cut the onion"], 1: ["pour water into the pot"], 2: ["fry the egg"], 3: ["add some salt"],
           4: ["stir the rice"]}  # fmt: skip
    stats = bleu_stats(gts, res)
    expected, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for k in range(1, 5):
        assert bleu_statistic(stats, k)(np.arange(5)) == pytest.approx(expected[k - 1], rel=1e-9)
    # a resample with repeats equals pycocoevalcap on the repeated items
    idx = np.array([0, 0, 2, 4, 4])
    gts2 = {j: gts[int(i)] for j, i in enumerate(idx)}
    res2 = {j: res[int(i)] for j, i in enumerate(idx)}
    again, _ = Bleu(4).compute_score(gts2, res2, verbose=0)
    assert bleu_statistic(stats, 4)(idx) == pytest.approx(again[3], rel=1e-9)
