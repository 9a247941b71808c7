"""Small charts of task results, as PNG bytes for a :class:`~videobert.tasks.base.TaskReport`."""

from __future__ import annotations

import numpy as np

from videobert.utils.images import figure_png


def _pyplot():  # noqa: ANN202 - the pyplot module
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(labels: list[str], values: list[float], title: str) -> bytes:
    """A horizontal bar chart of values in [0, 1] (e.g. per-class accuracy), as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, max(1.5, 0.25 * len(labels) + 0.8)))
    ax.barh(range(len(labels)), values, color="#4c72b0")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=9)
    return figure_png(fig)


def confusion_chart(cm: np.ndarray, labels: list[str], title: str) -> bytes:
    """A confusion matrix (n, n), rows = truth, columns = prediction, as PNG."""
    plt = _pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.5 + 0.35 * n, 1.2 + 0.35 * n))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=6)
    ax.set_title(title, fontsize=9)
    return figure_png(fig)
