"""videobert.eval: metrics shared by every task."""

from videobert.eval.metrics import (
    confusion_matrix,
    median_rank,
    per_class_topk,
    precision_recall_f1,
    recall_at_k,
    retrieval_chance,
    retrieval_metrics,
    target_ranks,
    topk_accuracy,
    topk_predictions,
)

__all__ = [
    "confusion_matrix",
    "median_rank",
    "per_class_topk",
    "precision_recall_f1",
    "recall_at_k",
    "retrieval_chance",
    "retrieval_metrics",
    "target_ranks",
    "topk_accuracy",
    "topk_predictions",
]
