"""Video classification (``recipe_type``) by fine-tuning VideoBERT, with k-fold cross-validation
over a small hyper-parameter grid.

Each video becomes one video-only sequence ``[CLS] [>] w_1 ... w_n [SEP]`` of its visual words
(evenly subsampled to fit ``max_length``). The pooled ``[CLS]`` state feeds a linear head. The
grid mixes two kinds of setting:

* ``{"mode": "finetune", "top_layers": n, "lr": lr, "epochs": e}`` — real fine-tuning of the top
  ``n`` encoder layers, the pooler and the head (AdamW, cross-entropy); the frozen layers below run
  once per video and their output is cached, so each epoch costs only the top layers.
* ``{"mode": "logreg", "C": c}`` — the cheap baseline: frozen pooled features + scikit-learn
  logistic regression.

k-fold CV (stratified, on the training subset) picks the setting with the best mean accuracy; it is
then trained on the whole training subset and tested on the validation subset: accuracy, macro
precision / recall / F1 and the confusion matrix. Chance: 1/n_classes (uniform) and the majority
class's share of the test set.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.data.annotations import Video
from videobert.errors import VideoBertError
from videobert.eval.intervals import unit_intervals
from videobert.eval.metrics import confusion_matrix, precision_recall_f1
from videobert.model.inference import TopStack, lower_forward, model_device, to_device
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, register_task
from videobert.tasks.charts import confusion_chart
from videobert.utils.runtime import seed_everything, torch_threads

log = logging.getLogger(__name__)

TASK = "classify"


def _default_grid() -> list[dict[str, Any]]:
    return [
        {"mode": "finetune", "top_layers": 1, "lr": 2e-4, "epochs": 10},
        {"mode": "finetune", "top_layers": 1, "lr": 1e-3, "epochs": 10},
        {"mode": "finetune", "top_layers": 0, "lr": 3e-3, "epochs": 20},
        {"mode": "logreg", "C": 1.0},
    ]


@dataclass
class ClassifyConfig(TaskConfig):
    """Settings of video classification (and those of :class:`TaskConfig`: it cross-validates
    and trains on ``train_subset`` and tests on ``subset``).

    Attributes:
        label_key: the annotation field of each video used as its class.
        max_length: tokens per video sequence (visual words subsampled to fit).
        folds: k of the k-fold cross-validation (< 2: no CV, the first grid entry is used).
        grid: hyper-parameter settings tried (see the module docstring).
        train_batch_size: videos per optimisation step when fine-tuning.
        train_threads: torch threads while fine-tuning (1 is fastest for small batches).
    """

    label_key: str = "recipe_type"
    max_length: int = 128
    folds: int = 3
    grid: list[dict[str, Any]] = field(default_factory=_default_grid)
    batch_size: int = 32
    n_examples: int = 10
    train_batch_size: int = 8
    train_threads: int = 1


@dataclass
class VideoItem:
    """One video: id, its visual words int32 (n,), its class label (string)."""

    video_id: str
    visual_words: np.ndarray
    label: str


class _Cache:
    """Frozen lower-layer outputs for every video: hidden float (N, L, H), attention_mask long (N, L)."""

    def __init__(self, model: Any, tokenizer: Any, items: list[VideoItem], n_top: int, cfg: ClassifyConfig) -> None:
        encs = [tokenizer.encode_pair(None, it.visual_words, cfg.max_length, fit="subsample") for it in items]
        full = tokenizer.pad(encs)  # pad all to one length L
        hs = []
        device = model_device(model)
        model.eval()
        steps = range(0, len(items), cfg.batch_size)
        with torch.no_grad():  # not inference_mode: the cached states feed autograd later
            for b0 in tqdm(steps, desc=f"classify features (top {n_top})", disable=len(steps) < 4, leave=False):
                batch = to_device({k: v[b0 : b0 + cfg.batch_size] for k, v in full.items()}, device)
                hs.append(lower_forward(model, batch, n_top).float())
        self.hidden = torch.cat(hs)  # (N, L, H), on the model's device
        self.mask = full["attention_mask"].to(device)  # (N, L)


class VideoClassifier(torch.nn.Module):
    """Top encoder layers (copied) + pooler + linear head over cached lower-layer states."""

    def __init__(self, model: Any, n_top: int, n_classes: int) -> None:
        super().__init__()
        self.top = TopStack(model, n_top, copy_weights=True)
        hidden = int(model.config.hidden_size)
        self.dropout = torch.nn.Dropout(float(getattr(model.config, "hidden_dropout_prob", 0.1)))
        self.head = torch.nn.Linear(hidden, n_classes, device=model_device(model))

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) from hidden (B, L, H) and attention_mask (B, L)."""
        _, pooled = self.top(hidden, attention_mask)  # (B, H)
        return self.head(self.dropout(pooled))


def _fit_finetune(
    model: Any, cache: _Cache, idx: np.ndarray, y: np.ndarray, n_classes: int, setting: dict[str, Any], cfg: ClassifyConfig
) -> VideoClassifier:
    seed_everything(cfg.seed)
    clf = VideoClassifier(model, int(setting.get("top_layers", 1)), n_classes)
    opt = torch.optim.AdamW(clf.parameters(), lr=float(setting.get("lr", 1e-4)), weight_decay=0.01)
    rng = np.random.default_rng(cfg.seed)
    y_t = torch.as_tensor(y, dtype=torch.long, device=cache.hidden.device)
    clf.train()
    with torch_threads(cfg.train_threads):
        _train_epochs(clf, opt, cache, idx, y_t, rng, int(setting.get("epochs", 5)), cfg.train_batch_size)
    clf.eval()
    return clf


def _train_epochs(
    clf: VideoClassifier,
    opt: torch.optim.Optimizer,
    cache: _Cache,
    idx: np.ndarray,
    y_t: torch.Tensor,
    rng: np.random.Generator,
    epochs: int,
    batch_size: int,
) -> None:
    for _ in range(epochs):
        order = rng.permutation(idx)
        for b0 in range(0, len(order), batch_size):
            b = torch.as_tensor(order[b0 : b0 + batch_size])
            logits = clf(cache.hidden[b], cache.mask[b])  # (B, C)
            loss = torch.nn.functional.cross_entropy(logits, y_t[b])
            opt.zero_grad()
            loss.backward()
            opt.step()


def _predict_finetune(clf: VideoClassifier, cache: _Cache, idx: np.ndarray, batch_size: int) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for b0 in range(0, len(idx), batch_size):
            b = torch.as_tensor(idx[b0 : b0 + batch_size])
            out.append(clf(cache.hidden[b], cache.mask[b]).argmax(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _pooled(model: Any, cache: _Cache) -> np.ndarray:
    top = TopStack(model, 0, copy_weights=False)
    with torch.inference_mode():
        return top(cache.hidden, cache.mask)[1].double().cpu().numpy()  # (N, H)


def _fit_predict(
    model: Any,
    caches: dict[int, _Cache],
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    setting: dict[str, Any],
    cfg: ClassifyConfig,
) -> np.ndarray:
    """Train ``setting`` on ``train_idx`` and return int64 predictions for ``test_idx``."""
    mode = setting.get("mode", "finetune")
    if mode == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        feats = _pooled(model, caches[0])
        scaler = StandardScaler().fit(feats[train_idx])
        lr = LogisticRegression(C=float(setting.get("C", 1.0)), max_iter=2000)
        if len(np.unique(y[train_idx])) < 2:
            return np.full(len(test_idx), y[train_idx][0], dtype=np.int64)
        lr.fit(scaler.transform(feats[train_idx]), y[train_idx])
        return lr.predict(scaler.transform(feats[test_idx])).astype(np.int64)
    if mode == "finetune":
        clf = _fit_finetune(model, caches[int(setting.get("top_layers", 1))], train_idx, y, n_classes, setting, cfg)
        return _predict_finetune(clf, caches[int(setting.get("top_layers", 1))], test_idx, cfg.batch_size)
    raise VideoBertError(f"classify: unknown grid mode {mode!r} (use 'finetune' or 'logreg')")


def _folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(y)
    if counts[counts > 0].min() >= k:
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    else:
        split = KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)))
    return [(tr, te) for tr, te in split]


def video_items(videos: list[Video], label_key: str) -> list[VideoItem]:
    """The videos that have visual words and a ``label_key`` label in their annotation entry."""
    return [
        VideoItem(v.video_id, v.words, str(v.entry[label_key]))
        for v in videos
        if v.entry.get(label_key) is not None and len(v.words)
    ]


def classify(model: Any, tokenizer: Any, inputs: TaskInputs, cfg: ClassifyConfig | None = None) -> TaskReport:
    """Cross-validate the grid on the training videos, refit the best setting, test on the
    evaluated ones (``inputs.train_videos`` / ``inputs.videos``, classes from ``cfg.label_key``).

    Returns:
        the report: ``metrics`` accuracy, macro_precision, macro_recall, macro_f1 on the test videos
        and ``cv_accuracy`` of the chosen setting, beside chance (1/n_classes); ``details``
        ``majority``, ``n_train``, ``best`` (the chosen setting), ``cv`` (mean/std accuracy of every
        setting), ``classes``, ``confusion``, ``per_class``; the confusion matrix as a figure.
    """
    cfg = cfg or ClassifyConfig()
    train = video_items(inputs.train_videos, cfg.label_key)
    test = video_items(inputs.videos, cfg.label_key)
    if not cfg.grid:
        raise VideoBertError("classify: the hyper-parameter grid is empty")
    if len(train) < 2 or not test:
        raise VideoBertError(
            f"classify: need >= 2 {cfg.train_subset!r} and >= 1 {cfg.subset!r} videos with visual words "
            f"and a {cfg.label_key!r} label, got {len(train)} and {len(test)}"
        )
    classes = sorted({it.label for it in train} | {it.label for it in test})
    index = {c: i for i, c in enumerate(classes)}
    items = train + test
    y = np.array([index[it.label] for it in items], dtype=np.int64)
    tr_all = np.arange(len(train))
    te_all = np.arange(len(train), len(items))
    n_tops = {0} | {int(s.get("top_layers", 1)) for s in cfg.grid if s.get("mode", "finetune") == "finetune"}
    caches = {n: _Cache(model, tokenizer, items, n, cfg) for n in sorted(n_tops)}

    cv: list[dict[str, Any]] = []
    if cfg.folds >= 2 and len(cfg.grid) > 1:
        folds = _folds(y[tr_all], min(cfg.folds, len(train)), cfg.seed)
        for setting in tqdm(cfg.grid, desc="classify CV", leave=False):
            accs = []
            for f_tr, f_te in folds:
                pred = _fit_predict(model, caches, tr_all[f_tr], tr_all[f_te], y, len(classes), setting, cfg)
                accs.append(float(np.mean(pred == y[tr_all[f_te]])))
            cv.append(
                {
                    "setting": setting,
                    "mean_accuracy": float(np.mean(accs)),
                    "std_accuracy": float(np.std(accs)),
                    "folds": accs,
                }
            )
            log.info("classify CV %s: %.3f +- %.3f", setting, np.mean(accs), np.std(accs))
        best_i = int(np.argmax([c["mean_accuracy"] for c in cv]))  # first best on ties
    else:
        best_i = 0
    best = copy.deepcopy(cfg.grid[best_i])
    pred = _fit_predict(model, caches, tr_all, te_all, y, len(classes), best, cfg)
    truth = y[te_all]
    prf = precision_recall_f1(truth, pred, len(classes))
    cm = confusion_matrix(truth, pred, len(classes))
    metrics = {k: float(prf[k]) for k in ("accuracy", "macro_precision", "macro_recall", "macro_f1")}
    if cv:
        metrics["cv_accuracy"] = cv[best_i]["mean_accuracy"]
    majority = float(np.bincount(truth, minlength=len(classes)).max() / len(truth))
    uniform = 1.0 / len(classes)
    chance = {k: uniform for k in metrics}
    images = {
        "confusion.png": confusion_chart(
            cm, classes, f"classify: {cfg.label_key} (test accuracy {metrics['accuracy']:.2f})"
        )
    }
    examples = [
        {"video_id": test[i].video_id, "truth": test[i].label, "pred": classes[int(pred[i])]}
        for i in range(min(cfg.n_examples, len(test)))
    ]
    log.info("classify: best %s, test %s", best, {k: round(v, 3) for k, v in metrics.items()})
    details = {
        "majority": {"accuracy": majority},
        "n_train": len(train),
        "best": best,
        "cv": cv,
        "classes": classes,
        "confusion": cm.tolist(),
        "per_class": {k: prf[k] for k in ("precision", "recall", "f1", "support")},
    }
    def macro(key: str) -> Callable[[np.ndarray], float]:
        return lambda idx: float(precision_recall_f1(truth[idx], pred[idx], len(classes))[key])

    per_video = {"accuracy": (pred == truth).astype(np.float64), **{k: macro(k) for k in ("macro_precision", "macro_recall", "macro_f1")}}
    intervals = unit_intervals(per_video, chance, n=len(test), seed=cfg.seed)  # cv_accuracy: not on the test videos
    return TaskReport(TASK, metrics, chance, "chance", len(test), asdict(cfg), examples, images, list(images), details, intervals)


register_task(Task(TASK, "video classification (recipe_type), k-fold CV over a grid", ClassifyConfig, classify))
