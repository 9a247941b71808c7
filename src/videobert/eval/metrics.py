"""Evaluation metrics shared by every task: top-k accuracy, precision / recall / F1, confusion
matrices, retrieval ranks, R@K and median rank.

All functions take plain NumPy arrays (or anything ``np.asarray`` accepts) and return Python
floats / NumPy arrays, so results serialise to JSON directly.

Ties: a target's rank counts the candidates that score *strictly higher* plus, by default
(``ties="pessimistic"``), every *other* candidate with an equal score. A model that gives every
candidate the same score therefore gets the worst rank, never a free hit; ``"optimistic"`` and
``"mean"`` (expected rank under random tie-breaking) are available for comparison.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Ties = Literal["pessimistic", "optimistic", "mean"]


def target_ranks(scores: np.ndarray, targets: np.ndarray, ties: Ties = "pessimistic") -> np.ndarray:
    """1-based rank of each row's target among that row's candidates (higher score = better).

    Args:
        scores: float (N, C) score of candidate c for item n.
        targets: int (N,) index in ``[0, C)`` of each item's correct candidate.
        ties: how equal scores count (see the module docstring).

    Returns:
        float64 (N,) ranks, 1 = best (integers unless ``ties="mean"``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (N, C) and targets (N,), got {scores.shape} and {targets.shape}")
    if scores.shape[0] and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ValueError("targets out of range [0, C)")
    true = scores[np.arange(len(targets)), targets][:, None]  # (N,) -> (N, 1)
    greater = (scores > true).sum(axis=1)
    equal = (scores == true).sum(axis=1) - 1  # other candidates tied with the target
    if ties == "pessimistic":
        ranks = 1 + greater + equal
    elif ties == "optimistic":
        ranks = 1 + greater
    elif ties == "mean":
        ranks = 1 + greater + equal / 2.0
    else:
        raise ValueError(f"unknown ties policy {ties!r}")
    return ranks.astype(np.float64)


def topk_accuracy(scores: np.ndarray, targets: np.ndarray, k: int = 1, ties: Ties = "pessimistic") -> float:
    """Fraction of items whose target ranks within the top ``k`` of scores (N, C)."""
    ranks = target_ranks(scores, targets, ties)
    return float(np.mean(ranks <= k)) if len(ranks) else 0.0


def topk_predictions(scores: np.ndarray, k: int = 5) -> np.ndarray:
    """int64 (N, k) candidate indices ordered best first (ties: lower index first)."""
    scores = np.asarray(scores, dtype=np.float64)
    k = min(k, scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 (n_classes, n_classes) counts: row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def precision_recall_f1(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None
) -> dict[str, float | list[float] | list[int]]:
    """Accuracy, per-class and macro-averaged precision, recall and F1 (sklearn's definitions).

    Macro averages run over the classes that occur in ``y_true`` or ``y_pred`` (as
    ``sklearn.metrics.precision_recall_fscore_support(average="macro")`` does); a 0/0 ratio counts
    as 0 (``zero_division=0``). Micro-averaged F1 of single-label predictions equals accuracy.

    Returns:
        dict with ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
        ``weighted_f1`` and per-class lists ``precision``, ``recall``, ``f1``, ``support``
        (length ``n_classes``).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    pred_count = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    precision = np.divide(tp, pred_count, out=np.zeros_like(tp), where=pred_count > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = (support > 0) | (pred_count > 0)
    n_present = max(int(present.sum()), 1)
    total = max(float(support.sum()), 1.0)
    return {
        "accuracy": float(tp.sum() / total) if len(y_true) else 0.0,
        "macro_precision": float(precision[present].sum() / n_present),
        "macro_recall": float(recall[present].sum() / n_present),
        "macro_f1": float(f1[present].sum() / n_present),
        "weighted_f1": float((f1 * support).sum() / total),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.astype(np.int64).tolist(),
    }


def per_class_topk(scores: np.ndarray, targets: np.ndarray, n_classes: int, k: int = 1) -> np.ndarray:
    """float64 (n_classes,) top-k accuracy of the items of each true class (NaN for absent classes)."""
    hits = (target_ranks(scores, targets) <= k).astype(np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    count = np.bincount(targets, minlength=n_classes).astype(np.float64)
    correct = np.bincount(targets, weights=hits, minlength=n_classes)
    out = np.full(n_classes, np.nan)
    np.divide(correct, count, out=out, where=count > 0)
    return out


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """R@K: fraction of queries whose correct item ranks within the top ``k`` (ranks 1-based)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(ranks <= k)) if len(ranks) else 0.0


def median_rank(ranks: np.ndarray) -> float:
    """Median of 1-based ranks (lower is better)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.median(ranks)) if len(ranks) else float("nan")


def retrieval_metrics(
    similarity: np.ndarray, ks: tuple[int, ...] = (1, 5, 10), ties: Ties = "pessimistic"
) -> dict[str, float]:
    """Both-direction retrieval metrics of a square similarity matrix.

    Args:
        similarity: float (N, N); ``similarity[i, j]`` scores text i against video j, and the
            matching pairs are on the diagonal.
        ks: the K of each R@K.

    Returns:
        ``{"t2v_R@K", "v2t_R@K" for K in ks, "t2v_median_rank", "v2t_median_rank"}``.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be square (N, N), got {similarity.shape}")
    n = similarity.shape[0]
    diag = np.arange(n)
    out: dict[str, float] = {}
    for name, mat in (("t2v", similarity), ("v2t", similarity.T)):
        ranks = target_ranks(mat, diag, ties)
        for k in ks:
            out[f"{name}_R@{k}"] = recall_at_k(ranks, k)
        out[f"{name}_median_rank"] = median_rank(ranks)
    return out


def retrieval_chance(n: int, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Chance values of :func:`retrieval_metrics` over N candidates: R@K = min(K, N) / N, median rank (N+1)/2."""
    out: dict[str, float] = {}
    for name in ("t2v", "v2t"):
        for k in ks:
            out[f"{name}_R@{k}"] = min(k, n) / n if n else 0.0
        out[f"{name}_median_rank"] = (n + 1) / 2.0
    return out
