"""Baselines that tasks report beside their results, computed from the training data alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def word_frequencies(word_lists: Sequence[np.ndarray], num_words: int) -> np.ndarray:
    """float64 (V,) relative frequency of each visual word in ``word_lists`` (add-nothing; sums to 1 or 0)."""
    counts = np.zeros(num_words, dtype=np.float64)
    for words in word_lists:
        w = np.asarray(words, dtype=np.int64)
        counts += np.bincount(w[(w >= 0) & (w < num_words)], minlength=num_words)
    total = counts.sum()
    return counts / total if total > 0 else counts


def bag_of_words(word_lists: Sequence[np.ndarray], num_words: int) -> np.ndarray:
    """float32 (N, V) L2-normalised visual-word histograms."""
    out = np.zeros((len(word_lists), num_words), dtype=np.float32)
    for i, w in enumerate(word_lists):
        np.add.at(out[i], np.asarray(w, dtype=np.int64), 1.0)
    out /= np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
    return out


def nearest_neighbour_captions(
    train_segments: Sequence[Any], segments: Sequence[Any], num_words: int
) -> list[str]:
    """The baseline: each segment gets the caption of the training segment with the most similar
    (cosine) bag of visual words."""
    a = bag_of_words([s.visual_words for s in segments], num_words)  # (N, V)
    b = bag_of_words([s.visual_words for s in train_segments], num_words)  # (M, V)
    nn_idx = (a @ b.T).argmax(axis=1)  # (N,)
    return [train_segments[int(j)].sentence for j in nn_idx]
