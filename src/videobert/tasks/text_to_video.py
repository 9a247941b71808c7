"""Text-to-video: visual words generated from a sentence.

The model reads ``[CLS] sentence [>] [MASK] x n [SEP]`` and the masks are filled left to right:
at step j the j-th ``[MASK]`` is replaced by the arg-max (``temperature == 0``) or a sample of the
masked-token head restricted to the visual vocabulary, and the model is run again.

Evaluation on validation segments: ``precision`` = mean fraction of generated words that occur
among the segment's true visual words, ``recall`` = mean fraction of the segment's distinct true
words that were generated; baseline: the n most frequent training words.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from videobert.errors import VideoBertError
from videobert.eval.baselines import word_frequencies
from videobert.eval.intervals import unit_intervals
from videobert.model.inference import fill_visual_masks
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, register_task
from videobert.tasks.strips import StripRow, render_strip, word_tiles
from videobert.utils.arrays import evenly_spaced

log = logging.getLogger(__name__)

TASK = "text-to-video"


@dataclass
class TextToVideoConfig(TaskConfig):
    """Settings of :func:`text_to_video` beyond :class:`TaskConfig`'s (``subset``: the segments
    whose sentences are turned into visual words; ``train_subset``: the frequency baseline's words).

    Attributes:
        n_words: visual words generated per sentence (capped by the segment's length when evaluating
            if ``match_length``).
        match_length: generate as many words as the segment has clips (at most ``n_words``).
        temperature: 0 = greedy arg-max, > 0 = sample from softmax(logits / temperature).
        top_k: when sampling, only from the ``top_k`` most likely words (0: all).
        max_segments: evaluated segments at most, evenly spaced (None or 0: all).
        max_text_tokens: WordPiece tokens of the sentence kept.
    """

    n_words: int = 8
    match_length: bool = True
    temperature: float = 0.0
    top_k: int = 0
    max_segments: int | None = 400
    max_text_tokens: int = 32
    n_examples: int = 4


def overlap_per_item(generated: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Per item, float64 (n,): ``precision`` (fraction of generated words found in the truth) and
    ``recall`` (fraction of the truth's distinct words generated); NaN where either is empty."""
    out = {"precision": np.full(len(truths), np.nan), "recall": np.full(len(truths), np.nan)}
    for i, (g, t) in enumerate(zip(generated, truths, strict=True)):
        g, t = np.asarray(g), np.asarray(t)
        if len(g) and len(t):
            out["precision"][i] = np.isin(g, t).mean()
            out["recall"][i] = np.isin(np.unique(t), g).mean()
    return out


def overlap_scores(generated: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> dict[str, float]:
    """``precision`` and ``recall`` of :func:`overlap_per_item`, averaged over the items that have
    both (0.0 when none), in [0, 1]."""
    per = overlap_per_item(generated, truths)
    return {k: float(np.nanmean(v)) if (~np.isnan(v)).any() else 0.0 for k, v in per.items()}


def text_to_video(
    model: Any, tokenizer: Any, inputs: TaskInputs, cfg: TextToVideoConfig | None = None
) -> TaskReport:
    """Generate visual words for the sentences of ``inputs.segments`` and compare them with the
    segments' true words.

    Returns:
        the report: ``metrics`` {"precision", "recall"} beside the n most frequent words of
        ``inputs.train_segments``; examples drawn as strips (generated above true words).
    """
    cfg = cfg or TextToVideoConfig()
    segs = [s for s in inputs.segments if s.sentence.strip() and len(s.visual_words)]
    segs = [segs[i] for i in evenly_spaced(len(segs), cfg.max_segments or None)]
    if not segs:
        raise VideoBertError(f"text-to-video: no {cfg.subset!r} segment with a sentence and visual words")
    counts = [min(cfg.n_words, len(s.visual_words)) if cfg.match_length else cfg.n_words for s in segs]
    generated = fill_visual_masks(
        model,
        tokenizer,
        [s.sentence for s in segs],
        counts,
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        max_text_tokens=cfg.max_text_tokens,
    )
    truths = [np.asarray(s.visual_words, dtype=np.int64) for s in segs]
    per_item = overlap_per_item(generated, truths)
    metrics = overlap_scores(generated, truths)
    freq = word_frequencies(
        [s.visual_words for s in inputs.train_segments], int(model.config.num_visual_words)
    )
    freq_order = np.argsort(-freq, kind="stable")
    baseline = [freq_order[:c] for c in counts]
    chance = overlap_scores(baseline, truths)
    intervals = unit_intervals(per_item, overlap_per_item(baseline, truths), seed=cfg.seed)
    log.info(
        "text-to-video: precision %.3f (freq %.3f), recall %.3f (freq %.3f) on %d segments",
        metrics["precision"],
        chance["precision"],
        metrics["recall"],
        chance["recall"],
        len(segs),
    )
    report = TaskReport(TASK, metrics, chance, "most frequent training words", len(segs), asdict(cfg), intervals=intervals)
    for j, i in enumerate(evenly_spaced(len(segs), cfg.n_examples)):
        s = segs[i]
        ex: dict[str, Any] = {
            "video_id": s.video_id,
            "segment": [s.start, s.end],
            "sentence": s.sentence,
            "pred": [int(w) for w in generated[i]],
            "truth": [int(w) for w in truths[i][: cfg.n_words]],
        }
        th = inputs.thumbs
        rows = [
            StripRow("generated", word_tiles(generated[i], th), [str(int(w)) for w in generated[i]]),
            StripRow("truth", word_tiles(ex["truth"], th), [str(int(w)) for w in ex["truth"]]),
        ]
        ex["image"] = f"text_to_video_{j}.png"
        report.images[ex["image"]] = render_strip(rows, title=s.sentence)
        report.examples.append(ex)
    return report


register_task(
    Task(
        TASK,
        "visual words generated from sentences vs the frequency baseline",
        TextToVideoConfig,
        text_to_video,
    )
)
