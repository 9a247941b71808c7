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
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.tasks.common import load_annotations, seed_everything, video_entries
from videobert.tasks.strips import StripRow, load_thumbnails, render_strip, word_tiles

log = logging.getLogger(__name__)


@dataclass
class ForecastConfig:
    """Settings of :func:`forecast_task`.

    Attributes:
        k: words listed per step (top-k); accuracy is reported at 1 and at ``k``.
        context: at most this many previous clips' words in the sequence (the most recent ones).
        min_context: first evaluated position has this many words before it.
        max_positions_per_video: evaluated positions per video (evenly spaced) — bounds the cost.
        max_videos: at most this many validation videos (0: all).
        steps: steps forecast ahead in the rendered examples.
        n_examples: rendered strips.
        batch_size: sequences per forward pass.
        seed: RNG seed.
    """

    k: int = 5
    context: int = 24
    min_context: int = 2
    max_positions_per_video: int = 40
    max_videos: int = 0
    steps: int = 3
    n_examples: int = 4
    batch_size: int = 128
    seed: int = 0


def token_ids(model_or_config: Any) -> dict[str, int]:
    """Special ids from a model or its config: ``cls``, ``sep``, ``mask``, ``pad``, ``vsep`` ([>] = T),
    ``voff`` (joint id of visual word 0 = T + 1)."""
    cfg = getattr(model_or_config, "config", model_or_config)
    t = int(cfg.text_vocab_size)
    pad = getattr(cfg, "pad_token_id", None)
    return {
        "cls": int(cfg.cls_token_id),
        "sep": int(cfg.sep_token_id),
        "mask": int(cfg.mask_token_id),
        "pad": int(pad if pad is not None else 0),
        "vsep": t,
        "voff": t + 1,
    }


def pad_sequences(seqs: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """``(input_ids, token_type_ids)`` pairs padded to the longest: long (B, L) ``input_ids``,
    ``token_type_ids``, ``attention_mask`` (1 real, 0 pad)."""
    length = max(len(s[0]) for s in seqs)
    input_ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    types = torch.zeros((len(seqs), length), dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, (ids_, tt) in enumerate(seqs):
        input_ids[i, : len(ids_)] = torch.tensor(ids_, dtype=torch.long)
        types[i, : len(tt)] = torch.tensor(tt, dtype=torch.long)
        mask[i, : len(ids_)] = 1
    return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": mask}


def subsample_words(words: np.ndarray, max_n: int) -> np.ndarray:
    """At most ``max_n`` items of ``words`` (k,), evenly spaced, order kept."""
    words = np.asarray(words)
    if len(words) <= max_n:
        return words
    if max_n <= 0:
        return words[:0]
    return words[np.linspace(0, len(words) - 1, max_n).round().astype(np.int64)]


def visual_logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """Masked-token logits over the visual words only.

    Args:
        model: a ``VideoBertForPreTraining``.
        hidden: (N, H) final hidden states at the positions to predict.

    Returns:
        (N, V) logits of vocab-local visual words (the joint-vocabulary head's rows ``[T+1, T+1+V)``),
        computed without the (N, T+1+V) full product.
    """
    head = model.cls.predictions
    voff = int(model.config.visual_offset)
    h = head.transform(hidden)  # (N, H)
    weight = head.decoder.weight[voff:]  # (V, H)
    bias = head.bias[voff:] if getattr(head, "bias", None) is not None else head.decoder.bias[voff:]  # (V,)
    return h @ weight.T + bias  # (N, V)


def text_logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """(N, T) masked-token logits over the WordPiece ids only, from (N, H) hidden states."""
    head = model.cls.predictions
    t = int(model.config.text_vocab_size)
    h = head.transform(hidden)  # (N, H)
    bias = head.bias[:t] if getattr(head, "bias", None) is not None else head.decoder.bias[:t]  # (T,)
    return h @ head.decoder.weight[:t].T + bias  # (N, T)


def word_frequencies(word_lists: Sequence[np.ndarray], num_words: int) -> np.ndarray:
    """float64 (V,) relative frequency of each visual word in ``word_lists`` (add-nothing; sums to 1 or 0)."""
    counts = np.zeros(num_words, dtype=np.float64)
    for words in word_lists:
        w = np.asarray(words, dtype=np.int64)
        counts += np.bincount(w[(w >= 0) & (w < num_words)], minlength=num_words)
    total = counts.sum()
    return counts / total if total > 0 else counts


def _video_only_masked(context: np.ndarray, ids: dict[str, int]) -> tuple[list[int], list[int]]:
    """``[CLS] [>] w_1..w_t [MASK] [SEP]`` ids and token types for vocab-local ``context`` (t,)."""
    vis = [int(w) + ids["voff"] for w in context]
    seq = [ids["cls"], ids["vsep"], *vis, ids["mask"], ids["sep"]]
    types = [0, 0] + [1] * (len(vis) + 2)
    return seq, types


@torch.inference_mode()
def next_word_logits(
    model: Any, contexts: Sequence[np.ndarray], batch_size: int = 128, desc: str | None = None
) -> np.ndarray:
    """float32 (N, V) visual-word logits of the word after each context (each int (t_i,) vocab-local, t_i >= 0)."""
    ids = token_ids(model)
    model.eval()
    n_words = int(model.config.num_visual_words)
    out = np.zeros((len(contexts), n_words), dtype=np.float32)
    order = np.argsort([len(c) for c in contexts], kind="stable")
    starts = range(0, len(contexts), batch_size)
    for s in tqdm(starts, desc=desc, disable=desc is None or len(starts) < 4, leave=False):
        idx = order[s : s + batch_size]
        seqs = [_video_only_masked(np.asarray(contexts[i]), ids) for i in idx]
        batch = pad_sequences(seqs, ids["pad"])
        hidden = model(**batch).last_hidden_state  # (B, L, H)
        lengths = batch["attention_mask"].sum(dim=1)  # (B,)
        mask_pos = lengths - 2  # [MASK] sits just before the final [SEP]
        picked = hidden[torch.arange(len(idx)), mask_pos]  # (B, H)
        out[idx] = visual_logits(model, picked).float().numpy()
    return out


def forecast(
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
    del tokenizer  # ids come from the model config; kept for the task-function signature
    ctx = [int(w) for w in np.asarray(context, dtype=np.int64).reshape(-1)]
    out: list[list[tuple[int, float]]] = []
    for _ in range(steps):
        logits = next_word_logits(model, [np.asarray(ctx[-max_context:] if max_context > 0 else [])])[
            0
        ]  # (V,)
        probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
        top = np.argsort(-probs, kind="stable")[:k]
        out.append([(int(w), float(probs[w])) for w in top])
        ctx.append(int(top[0]))
    return out


def _positions(n: int, min_context: int, max_n: int) -> np.ndarray:
    """Indices t (the word to predict is ``words[t]``), ``min_context <= t < n``, at most ``max_n`` evenly spaced."""
    if n <= min_context:
        return np.zeros(0, dtype=np.int64)
    pos = np.arange(min_context, n, dtype=np.int64)
    if max_n > 0 and len(pos) > max_n:
        pos = pos[np.linspace(0, len(pos) - 1, max_n).round().astype(np.int64)]
    return pos


def forecast_task(
    model: Any,
    tokenizer: Any,
    val_videos: Sequence[tuple[str, np.ndarray]],
    train_videos: Sequence[tuple[str, np.ndarray]],
    cfg: ForecastConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    thumbs: dict[int, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Next-visual-word accuracy of the model against the frequency baseline.

    Args:
        val_videos: ``(video_id, words int (n_clips,))`` evaluated videos.
        train_videos: the same for the training videos (frequency baseline only).
        out_dir: where strip PNGs go (none rendered when None); ``examples[i]["image"]`` is relative
            to its parent (the reports folder).
        thumbs: visual word -> (H, W, 3) uint8 thumbnail for the strips.

    Returns:
        The report dict: ``metrics`` {"top1", "top{k}"}, ``chance`` (frequency baseline, same keys),
        ``n`` (evaluated positions), ``config``, ``examples``.
    """
    cfg = cfg or ForecastConfig()
    seed_everything(cfg.seed)
    n_words = int(model.config.num_visual_words)
    videos = list(val_videos)[: cfg.max_videos] if cfg.max_videos > 0 else list(val_videos)
    contexts, targets, where = [], [], []
    for vid, words in videos:
        words = np.asarray(words, dtype=np.int64)
        for t in _positions(len(words), cfg.min_context, cfg.max_positions_per_video):
            contexts.append(words[max(0, t - cfg.context) : t])
            targets.append(int(words[t]))
            where.append((vid, int(t)))
    if not contexts:
        raise ValueError("no validation video is long enough to forecast")
    targets_arr = np.asarray(targets, dtype=np.int64)
    logits = next_word_logits(model, contexts, cfg.batch_size, desc="forecast")  # (N, V)
    # Rank of the true word: 1 + number of words scored strictly higher (ties counted in our favour
    # only for the exact value, as in argsort order).
    order = np.argsort(-logits, axis=1, kind="stable")  # (N, V)
    top = order[:, : cfg.k]  # (N, k)
    hit1 = float((top[:, 0] == targets_arr).mean())
    hitk = float((top == targets_arr[:, None]).any(axis=1).mean())
    freq = word_frequencies([w for _, w in train_videos], n_words)
    freq_top = np.argsort(-freq, kind="stable")[: cfg.k]
    base1 = float((targets_arr == freq_top[0]).mean())
    basek = float(np.isin(targets_arr, freq_top).mean())
    key_k = f"top{cfg.k}"
    result: dict[str, Any] = {
        "task": "forecast",
        "metrics": {"top1": hit1, key_k: hitk},
        "chance": {"top1": base1, key_k: basek},
        "n": len(targets),
        "config": asdict(cfg),
        "examples": [],
    }
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
        steps = forecast(model, tokenizer, contexts[i], steps=cfg.steps, k=cfg.k, max_context=cfg.context)
        truth = words[t : t + cfg.steps]
        ex: dict[str, Any] = {
            "video_id": vid,
            "position": t,
            "context": [int(w) for w in contexts[i][-8:]],
            "pred": [[w for w, _ in s] for s in steps],
            "prob": [[round(p, 4) for _, p in s] for s in steps],
            "truth": [int(w) for w in truth],
        }
        if out_dir is not None:
            th = thumbs or {}
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
            path = render_strip(rows, Path(out_dir) / f"forecast_{j}.png", title=f"{vid} @ clip {t}")
            ex["image"] = f"{Path(out_dir).name}/{path.name}"
        result["examples"].append(ex)
    return result


def load_forecast_inputs(
    work: str | os.PathLike[str], annotations: str | os.PathLike[str]
) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """``(validation videos, training videos)`` as ``(video_id, words int32 (n_clips,))`` from WORK/tokens."""
    db = load_annotations(annotations)
    val = [(vid, words) for vid, _, words, _ in video_entries(db, work, "validation")]
    train = [(vid, words) for vid, _, words, _ in video_entries(db, work, "training")]
    return val, train


def run_forecast(
    model: Any,
    tokenizer: Any,
    work: str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    cfg: ForecastConfig | None = None,
) -> dict[str, Any]:
    """:func:`forecast_task` on WORK's validation videos, strips under ``WORK/reports/forecast/``."""
    val, train = load_forecast_inputs(work, annotations)
    return forecast_task(
        model,
        tokenizer,
        val,
        train,
        cfg,
        out_dir=Path(work) / "reports" / "forecast",
        thumbs=load_thumbnails(work),
    )
