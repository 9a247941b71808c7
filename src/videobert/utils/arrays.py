"""Small array helpers shared by the stages."""

from __future__ import annotations

import numpy as np


def evenly_spaced(n: int, k: int | None) -> np.ndarray:
    """int64 (min(n, k),) indices of ``k`` of ``n`` items, evenly spread from the first to the
    last, ascending and distinct. ``k`` None: all ``n``; ``k <= 0``: none."""
    if k is None or k >= n:
        return np.arange(max(n, 0), dtype=np.int64)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def subsample_evenly(items: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` items of the 1-D array ``items`` (n,), evenly spaced, order kept."""
    items = np.asarray(items)
    return items[evenly_spaced(len(items), max(int(k), 0))]
