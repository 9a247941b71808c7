"""95% bootstrap confidence intervals over a task's evaluation units, paired with its baseline.

Every task scores units (segments, videos, queries, positions, captions). A metric is a statistic
of those units' scores (usually the mean: top-1 is the mean of 0/1 hits; R@5 the mean of
``rank <= 5``; CIDEr-D the mean of per-caption scores); a few are not means (median rank, corpus
BLEU) and are given as a function of the resampled unit indices. A per-unit score of NaN marks a
unit the metric does not score (a segment without a noun label counts for the verb metrics only):
the metric of a resample is the mean over its scored units.

The interval is the percentile bootstrap: ``n_resamples`` resamples of the n units with
replacement (seeded), the metric on each, the 2.5th and 97.5th percentiles. The baseline is
resampled with the same indices when it is scored per unit (nearest-neighbour captions, random
clips), so the interval of the *difference* is paired; a constant baseline (chance) has no
interval. A metric is *clearly above* its baseline when the difference's interval lies above 0
(or, for a lower-is-better metric such as median rank, below 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A metric of the units at the given indices: ``fn(idx)`` with idx int (n,) -> float.
UnitStatistic = Callable[[np.ndarray], float]
Scores = np.ndarray | UnitStatistic

N_RESAMPLES = 1000
CONFIDENCE = 0.95


@dataclass
class Intervals:
    """Bootstrap intervals of a report's metrics and their baseline, over n units.

    Attributes:
        n: evaluation units resampled (clusters when units were grouped).
        metrics: metric -> ``[lo, hi]``.
        baseline: metric -> ``[lo, hi]`` of the baseline (``[c, c]`` for a constant baseline).
        difference: metric -> ``[lo, hi]`` of metric - baseline (paired resamples).
        above_baseline: metric -> whether the difference's interval excludes 0 on the better side.
        n_resamples, confidence, seed: how they were computed.
    """

    n: int
    metrics: dict[str, list[float]] = field(default_factory=dict)
    baseline: dict[str, list[float]] = field(default_factory=dict)
    difference: dict[str, list[float]] = field(default_factory=dict)
    above_baseline: dict[str, bool] = field(default_factory=dict)
    n_resamples: int = N_RESAMPLES
    confidence: float = CONFIDENCE
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n, "metrics": self.metrics, "baseline": self.baseline, "difference": self.difference,
            "above_baseline": self.above_baseline, "n_resamples": self.n_resamples,
            "confidence": self.confidence, "method": "percentile bootstrap over units, paired with the baseline",
        }  # fmt: skip


def resample_indices(n: int, n_resamples: int = N_RESAMPLES, seed: int = 0) -> np.ndarray:
    """int64 (n_resamples, n): indices of ``n`` units drawn with replacement, seeded."""
    if n < 1:
        raise ValueError("bootstrap needs at least one unit")
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


class _Clusters:
    """Units grouped in clusters (the positions of one video): resamples draw whole clusters."""

    def __init__(self, labels: np.ndarray) -> None:
        _, self.inverse = np.unique(np.asarray(labels), return_inverse=True)
        self.n = int(self.inverse.max()) + 1 if len(self.inverse) else 0
        self.members = [np.flatnonzero(self.inverse == c) for c in range(self.n)]

    def expand(self, row: np.ndarray) -> np.ndarray:
        """Unit indices of the resampled clusters ``row`` (n_clusters,)."""
        return np.concatenate([self.members[c] for c in row])

    def replicates(self, values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        ok = ~np.isnan(values)
        sums = np.bincount(self.inverse[ok], weights=values[ok], minlength=self.n)
        counts = np.bincount(self.inverse[ok], minlength=self.n).astype(np.float64)
        tot, cnt = sums[idx].sum(axis=1), counts[idx].sum(axis=1)
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _replicates(scores: Scores, idx: np.ndarray, clusters: _Clusters | None = None) -> np.ndarray:
    """The metric on each resample: float64 (n_resamples,)."""
    if callable(scores):
        rows = idx if clusters is None else (clusters.expand(r) for r in idx)
        return np.array([float(scores(row)) for row in rows], dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)  # (n,) per-unit scores; the metric is their mean
    if clusters is not None:
        return clusters.replicates(values, idx)
    if not np.isnan(values).any():
        return values[idx].mean(axis=1)
    picked = values[idx]  # NaN: a unit this metric does not score (a segment without a noun label)
    counts = (~np.isnan(picked)).sum(axis=1)
    sums = np.nansum(picked, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> list[float]:
    """``[lo, hi]``: the central ``confidence`` share of ``replicates`` (n_resamples,)."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    replicates = replicates[~np.isnan(replicates)]
    if not len(replicates):
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(replicates, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def bootstrap_interval(
    scores: Scores, n: int | None = None, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> list[float]:
    """The percentile-bootstrap interval of one metric: ``scores`` per unit (n,) (the metric is
    their mean) or a :data:`UnitStatistic` with ``n`` units."""
    n = len(scores) if n is None and not callable(scores) else n
    if n is None:
        raise ValueError("a unit statistic needs n")
    return percentile_interval(_replicates(scores, resample_indices(n, n_resamples, seed)), confidence)


def unit_intervals(
    metrics: Mapping[str, Scores],
    baseline: Mapping[str, Scores | float] | None = None,
    n: int | None = None,
    lower_is_better: tuple[str, ...] = ("median_rank", "mean_rank"),
    clusters: np.ndarray | None = None,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Intervals:
    """Intervals of every metric (and of its baseline and the paired difference) over the same
    resamples of the units.

    Args:
        metrics: metric -> per-unit scores (n,) or a :data:`UnitStatistic`.
        baseline: metric -> per-unit scores, a statistic, or a constant (chance); metrics without
            an entry get no baseline interval.
        n: the number of units (default: the length of the first per-unit array).
        lower_is_better: metrics where below the baseline is better (a metric whose name ends with
            one of these, e.g. ``t2v_median_rank``).
        clusters: (n,) a label per unit (its video): units of one cluster are not independent
            (consecutive positions of one video), so resamples draw whole clusters, and ``n`` of
            the result counts clusters.
    """
    baseline = baseline or {}
    if n is None:
        arrays = [v for v in metrics.values() if not callable(v)]
        if not arrays:
            raise ValueError("unit statistics need n")
        n = len(arrays[0])
    for name, v in [*metrics.items(), *baseline.items()]:
        if not callable(v) and np.ndim(v) == 1 and len(v) != n:
            raise ValueError(f"{name}: {len(v)} unit scores, expected {n}")
    groups = _Clusters(clusters) if clusters is not None else None
    if groups is not None and len(groups.inverse) != n:
        raise ValueError(f"clusters: {len(groups.inverse)} labels, expected {n}")
    n_draw = groups.n if groups is not None else n
    idx = resample_indices(n_draw, n_resamples, seed)
    out = Intervals(n=n_draw, n_resamples=n_resamples, confidence=confidence, seed=seed)
    for name, scores in metrics.items():
        reps = _replicates(scores, idx, groups)
        out.metrics[name] = percentile_interval(reps, confidence)
        if name not in baseline:
            continue
        base = baseline[name]
        constant = np.ndim(base) == 0 and not callable(base)
        base_reps = np.full(n_resamples, float(base)) if constant else _replicates(base, idx, groups)  # type: ignore[arg-type]
        out.baseline[name] = percentile_interval(base_reps, confidence)
        diff = percentile_interval(reps - base_reps, confidence)
        out.difference[name] = diff
        lower = any(name.endswith(k) for k in lower_is_better)
        out.above_baseline[name] = diff[1] < 0 if lower else diff[0] > 0
    return out


__all__ = [
    "CONFIDENCE",
    "N_RESAMPLES",
    "Intervals",
    "UnitStatistic",
    "bootstrap_interval",
    "percentile_interval",
    "resample_indices",
    "unit_intervals",
]
