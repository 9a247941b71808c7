"""Training curves drawn from ``WORK/logs/pretrain.jsonl`` (matplotlib, Agg backend)."""

from __future__ import annotations

import logging
from pathlib import Path

from videobert.utils.io import read_jsonl

log = logging.getLogger(__name__)

LOSS_KEYS = ("loss", "text_mlm_loss", "video_mlm_loss", "alignment_loss")


def _series(records: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, int | float) and "step" in r:
            xs.append(float(r["step"]))
            ys.append(float(v))
    return xs, ys


def _kind(record: dict) -> str:
    """``"train"`` or ``"val"``: the pretraining log marks entries with ``kind`` (train / eval)."""
    kind = record.get("kind", record.get("split", "train"))
    return "val" if kind in ("eval", "val", "validation") else "train"


def _strip_val(record: dict) -> dict:
    """Validation entries name their values ``val_<name>``; plot them under ``<name>``."""
    return {(k[4:] if k.startswith("val_") else k): v for k, v in record.items()}


def plot_training_curves(log_path: str | Path, out_png: str | Path) -> Path | None:
    """Two panels: training/validation losses per objective, and validation accuracies.

    Training records have ``kind == "train"``; validation records ``kind == "eval"`` with values
    named ``val_<name>``. Any numeric key ending in ``_acc`` / ``_accuracy`` is plotted
    as an accuracy. Returns the PNG path, or None when there is no log.
    """
    records = read_jsonl(log_path)
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if _kind(r) == "train"]
    val = [_strip_val(r) for r in records if _kind(r) == "val"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for key in LOSS_KEYS:
        xs, ys = _series(train, key)
        if xs:
            ax_loss.plot(xs, ys, label=f"train {key}", lw=1.2)
        xs, ys = _series(val, key)
        if xs:
            ax_loss.plot(xs, ys, "o--", label=f"val {key}", ms=3)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("losses per objective")
    ax_loss.legend(fontsize=7)
    acc_keys = sorted({k for r in val for k in r if k.endswith(("_acc", "_accuracy"))})
    for key in acc_keys:
        xs, ys = _series(val, key)
        ax_acc.plot(xs, ys, "o-", label=key, ms=3)
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.set_title("validation accuracies")
    if acc_keys:
        ax_acc.legend(fontsize=7)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png
