"""Forecasting: the most likely next visual words given the video so far.

The model reads the video-only sequence ``[CLS] [>] w_1 .. w_t [MASK] [SEP]`` and its masked-token
head, restricted to the visual vocabulary, ranks the next word ``w_{t+1}``. Several steps ahead are
forecast greedily (the top-1 word is appended and the next ``[MASK]`` predicted), giving the top-k
words of every step.

Evaluation: top-1 / top-5 accuracy of the next visual word over positions of validation videos,
beside the frequency baseline (the k most frequent words of the training videos).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from videobert.errors import VideoBertError
from videobert.eval.baselines import word_frequencies
from videobert.eval.intervals import unit_intervals
from videobert.model.inference import next_visual_word_logits
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, register_task
from videobert.tasks.strips import StripRow, render_strip, word_tiles
from videobert.utils.runtime import seed_everything

log = logging.getLogger(__name__)

TASK = "forecast"


@dataclass
class ForecastConfig(TaskConfig):
    """Settings of :func:`forecast` (and those of :class:`TaskConfig`: it evaluates ``subset``'s
    videos; the frequency baseline counts ``train_subset``'s).

    Attributes:
        k: words listed per step (top-k); accuracy is reported at 1 and at ``k``.
        context: at most this many previous clips' words in the sequence (the most recent ones).
        min_context: first evaluated position has this many words before it.
        max_positions_per_video: evaluated positions per video (evenly spaced; None or 0: all).
        max_videos: at most this many evaluated videos (None or 0: all).
        steps: steps forecast ahead in the rendered examples.
    """

    k: int = 5
    context: int = 24
    min_context: int = 2
    max_positions_per_video: int | None = 40
    max_videos: int | None = None
    steps: int = 3
    n_examples: int = 4


def forecast_next(
    model: Any,
    tokenizer: Any,
    context: Sequence[int] | np.ndarray,
    steps: int = 3,
    k: int = 5,
    max_context: int = 24,
) -> list[list[tuple[int, float]]]:
    """Forecast ``steps`` visual words after ``context`` (vocab-local ids, (t,)), greedily.

    Returns:
        One list per step of ``(word, probability)`` for the top-``k`` words, most likely first; the
        top-1 word of each step is appended to the context before the next step.
    """
    ctx = [int(w) for w in np.asarray(context, dtype=np.int64).reshape(-1)]
    out: list[list[tuple[int, float]]] = []
    for _ in range(steps):
        recent = np.asarray(ctx[-max_context:] if max_context > 0 else [], dtype=np.int64)
        logits = next_visual_word_logits(model, tokenizer, [recent])[0]  # (V,)
        probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
        top = np.argsort(-probs, kind="stable")[:k]
        out.append([(int(w), float(probs[w])) for w in top])
        ctx.append(int(top[0]))
    return out


def _positions(n: int, min_context: int, max_n: int | None) -> np.ndarray:
    """Indices t (the word to predict is ``words[t]``), ``min_context <= t < n``, at most ``max_n`` evenly spaced."""
    if n <= min_context:
        return np.zeros(0, dtype=np.int64)
    pos = np.arange(min_context, n, dtype=np.int64)
    if max_n and len(pos) > max_n:
        pos = pos[np.linspace(0, len(pos) - 1, max_n).round().astype(np.int64)]
    return pos


def forecast(model: Any, tokenizer: Any, inputs: TaskInputs, cfg: ForecastConfig | None = None) -> TaskReport:
    """Next-visual-word accuracy on ``inputs.videos`` against the frequency baseline (the most
    frequent words of ``inputs.train_videos``).

    Returns:
        the report: ``metrics`` {"top1", "top{k}"} beside the frequency baseline, ``n`` evaluated
        positions; examples forecast ``cfg.steps`` words ahead, drawn as strips.
    """
    cfg = cfg or ForecastConfig()
    seed_everything(cfg.seed)
    n_words = int(model.config.num_visual_words)
    videos = [(v.video_id, v.words) for v in inputs.videos]
    videos = videos[: cfg.max_videos] if cfg.max_videos else videos
    contexts, targets, where = [], [], []
    for vid, words in videos:
        words = np.asarray(words, dtype=np.int64)
        for t in _positions(len(words), cfg.min_context, cfg.max_positions_per_video):
            contexts.append(words[max(0, t - cfg.context) : t])
            targets.append(int(words[t]))
            where.append((vid, int(t)))
    if not contexts:
        raise VideoBertError(
            f"forecast: no {cfg.subset!r} video is longer than min_context={cfg.min_context} clips"
        )
    targets_arr = np.asarray(targets, dtype=np.int64)
    logits = next_visual_word_logits(model, tokenizer, contexts, cfg.batch_size, desc="forecast")  # (N, V)
    # Rank of the true word: 1 + number of words scored strictly higher (ties counted in our favour
    # only for the exact value, as in argsort order).
    order = np.argsort(-logits, axis=1, kind="stable")  # (N, V)
    top = order[:, : cfg.k]  # (N, k)
    hit1 = float((top[:, 0] == targets_arr).mean())
    hitk = float((top == targets_arr[:, None]).any(axis=1).mean())
    freq = word_frequencies([v.words for v in inputs.train_videos], n_words)
    freq_top = np.argsort(-freq, kind="stable")[: cfg.k]
    base1 = float((targets_arr == freq_top[0]).mean())
    basek = float(np.isin(targets_arr, freq_top).mean())
    key_k = f"top{cfg.k}"
    metrics, baseline = {"top1": hit1, key_k: hitk}, {"top1": base1, key_k: basek}
    per_position = {"top1": top[:, 0] == targets_arr, key_k: (top == targets_arr[:, None]).any(axis=1)}
    per_base = {"top1": targets_arr == freq_top[0], key_k: np.isin(targets_arr, freq_top)}
    of_video = np.array([vid for vid, _ in where])  # positions of one video are not independent: resample videos
    intervals = unit_intervals(
        {k: v.astype(np.float64) for k, v in per_position.items()},
        {k: v.astype(np.float64) for k, v in per_base.items()}, clusters=of_video, seed=cfg.seed,
    )  # fmt: skip
    report = TaskReport(TASK, metrics, baseline, "most frequent training words", len(targets), asdict(cfg), intervals=intervals)
    log.info(
        "forecast: top1 %.3f (freq %.3f), %s %.3f (freq %.3f) on %d positions",
        hit1,
        base1,
        key_k,
        hitk,
        basek,
        len(targets),
    )
    # Examples: a few positions from different videos, forecast several steps ahead.
    rng = np.random.default_rng(cfg.seed)
    picks = rng.choice(len(contexts), size=min(cfg.n_examples, len(contexts)), replace=False)
    by_vid = {vid: np.asarray(w, dtype=np.int64) for vid, w in videos}
    for j, i in enumerate(sorted(int(p) for p in picks)):
        vid, t = where[i]
        words = by_vid[vid]
        steps = forecast_next(
            model, tokenizer, contexts[i], steps=cfg.steps, k=cfg.k, max_context=cfg.context
        )
        truth = words[t : t + cfg.steps]
        ex: dict[str, Any] = {
            "video_id": vid,
            "position": t,
            "context": [int(w) for w in contexts[i][-8:]],
            "pred": [[w for w, _ in s] for s in steps],
            "prob": [[round(p, 4) for _, p in s] for s in steps],
            "truth": [int(w) for w in truth],
        }
        th = inputs.thumbs
        ctx_tail = contexts[i][-8:]
        rows = [StripRow("context", word_tiles(ctx_tail, th), [str(int(w)) for w in ctx_tail])]
        for s_i, s in enumerate(steps):
            words_s = [w for w, _ in s]
            rows.append(
                StripRow(
                    f"step {s_i + 1} top-{cfg.k}", word_tiles(words_s, th), [f"{w} {p:.2f}" for w, p in s]
                )
            )
        rows.append(StripRow("truth", word_tiles(truth, th), [str(int(w)) for w in truth]))
        ex["image"] = f"forecast_{j}.png"
        report.images[ex["image"]] = render_strip(rows, title=f"{vid} @ clip {t}")
        report.examples.append(ex)
    return report


register_task(Task(TASK, "next visual words (top-k) vs the frequency baseline", ForecastConfig, forecast))
