"""Pretraining examples and batches: regimes, masking, subsampling, concatenation, negatives.

An *example* is made from one anchor row of the corpus and its neighbours in the same row block
(see :func:`make_example`):

1. Regime: text-only (0), video-only (1) or text-video (2), drawn with ``CollateConfig.regime_ratios``.
   A row without text (video-only rows) always gives regime 1; a row without clips gives regime 0.
   The streams (data/dataset.py) pass ratios adjusted by :func:`balance_regimes` so that the mix
   over the whole corpus, video-only rows included, matches the configuration.
2. Concatenation: with ``concat_prob`` the anchor is joined with the following sentences of the same
   video (preceding ones at a video's end) into 2..``max_concat`` rows; their clips are united by
   clip index, so overlapping spans are not repeated. This survives loose ASR-to-clip alignment.
3. Subsampling: clips are taken every ``r``-th clip from a random offset, ``r`` uniform in
   ``subsample_range`` (inclusive; the paper's 1-5x), so one model sees several speeds.
4. Alignment negatives: a text-video example is, with ``negative_prob``, given the clips of another
   row of a different video (or, when the block holds one video, a non-overlapping time of the
   same video), spanning as many sentences as the positive would: ``alignment_labels`` 0; aligned examples 1; other regimes -100.
5. Future clips: a video-carrying example is, with ``future_prob``, marked to predict its
   last 1..min(``future_max_clips``, half its clips) clips: they are always replaced by ``[MASK]`` and labelled (the
   "predict what comes next" objective), and excluded from random masking. Negatives get future
   clips as often as positives (the clips are still a real continuous run of some video), so
   trailing masks say nothing about the alignment label.
   Negatives are masked like positives but, unless ``negative_mlm``, carry no masked-token labels
   (as in LXMERT and UNITER: a word is not to be predicted from clips it was never said over).
6. Truncation to ``max_text_tokens`` / ``max_video_tokens`` (from the end), then both sides to fit
   ``max_length`` with the special tokens (longer side cut first).

:func:`collate` then lays out ``[CLS] text [>] video [SEP]`` (docs/ARCHITECTURE.md), applies BERT
masking -- ``round-random(mask_prob * n)`` of the ``n`` maskable tokens of each sequence (text and
visual words, never special tokens): ``mask_token_frac`` become ``[MASK]``, ``random_token_frac``
a random token *of the same modality*, the rest stay -- and pads to the longest sequence.
Batch keys are exactly those of docs/ARCHITECTURE.md; :func:`videobert.data.packing.pack_batch`
then packs such a batch into full rows for training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from videobert.errors import VideoBertError
from videobert.text.tokenizer import VideoBertTokenizer, build_sequence, truncate_pair

TEXT_ONLY, VIDEO_ONLY, TEXT_VIDEO = 0, 1, 2
IGNORE_INDEX = -100


@dataclass
class CollateConfig:
    """How corpus rows become pretraining batches (probabilities in [0, 1], lengths in tokens)."""

    max_length: int = 128
    mask_prob: float = 0.15
    mask_token_frac: float = 0.8
    random_token_frac: float = 0.1
    regime_ratios: tuple[float, float, float] = (0.2, 0.2, 0.6)  # text-only, video-only, text-video
    subsample_range: tuple[int, int] = (1, 5)
    concat_prob: float = 0.5
    max_concat: int = 3
    negative_prob: float = 0.5
    future_prob: float = 0.25
    future_max_clips: int = 2
    negative_mlm: bool = False  # masked-token labels on misaligned (negative) text-video pairs too
    alignment_masking: Literal["all", "separate"] = "all"  # "all": alignment pairs are masked too; "separate": shown unmasked
    min_video_tokens: int = 4  # subsampling never leaves fewer clips than this (or than there are)
    max_text_tokens: int = 64
    max_video_tokens: int = 64

    def __post_init__(self) -> None:
        ratios = np.asarray(self.regime_ratios, dtype=np.float64)
        if ratios.shape != (3,) or (ratios < 0).any() or ratios.sum() <= 0:
            raise VideoBertError(f"regime_ratios must be 3 non-negative numbers, got {self.regime_ratios}")
        lo, hi = self.subsample_range
        if not 1 <= lo <= hi:
            raise VideoBertError(f"subsample_range must satisfy 1 <= lo <= hi, got {self.subsample_range}")
        if self.max_length < 5:
            raise VideoBertError(f"max_length must be >= 5, got {self.max_length}")
        if self.mask_token_frac + self.random_token_frac > 1:
            raise VideoBertError("mask_token_frac + random_token_frac must be <= 1")
        if self.alignment_masking not in ("all", "separate"):
            raise VideoBertError(
                f"alignment_masking must be 'all' or 'separate', got {self.alignment_masking!r}"
            )
        if self.alignment_masking == "separate" and self.negative_prob > 0.5:
            raise VideoBertError(
                "alignment_masking='separate' pairs each negative with a positive: negative_prob <= 0.5"
            )


def balance_regimes(cfg: CollateConfig, video_only_fraction: float) -> CollateConfig:
    """``cfg`` with regime ratios for *text rows* that make the overall mix match ``cfg.regime_ratios``.

    Video-only rows (a fraction ``q`` of the corpus) can only give regime 1; text rows then use
    ratios ``(r0', r1', r2')`` with ``r1' = max(0, (r1 - q) / (1 - q))`` and r0', r2' in the
    configured proportion, so that overall ``P(1) = q + (1 - q) r1' = r1`` whenever ``q <= r1``.
    """
    r = np.asarray(cfg.regime_ratios, dtype=np.float64)
    r = r / r.sum()
    q = float(min(max(video_only_fraction, 0.0), 1.0))
    if q <= 0.0 or q >= 1.0:
        return cfg
    r1 = max(0.0, (r[1] - q) / (1.0 - q))
    rest = r[0] + r[2]
    if rest <= 0:
        return cfg
    r0, r2 = (1.0 - r1) * r[0] / rest, (1.0 - r1) * r[2] / rest
    return dataclasses.replace(cfg, regime_ratios=(float(r0), float(r1), float(r2)))


@dataclass
class Example:
    """One sequence before layout: WordPiece ids, vocab-local visual words, targets."""

    text_ids: list[int] | None
    visual: list[int] | None
    regime: int
    alignment: int = IGNORE_INDEX
    future: int = 0  # number of final clips to predict
    video_id: str = ""
    masked: bool = True  # False: an alignment pair shown whole (no masking, no future clips)


@dataclass
class RowBlock:
    """Columns of a block of consecutive corpus rows (e.g. one parquet row group), as Python lists."""

    video_id: list[str]
    text_ids: list[list[int]]
    visual_ids: list[list[int]]
    clip_start: list[int]

    def __len__(self) -> int:
        return len(self.video_id)

    @classmethod
    def from_table(cls, table: Any) -> RowBlock:
        """From a pyarrow Table with the corpus columns."""
        return cls(
            video_id=table.column("video_id").to_pylist(),
            text_ids=table.column("text_ids").to_pylist(),
            visual_ids=table.column("visual_ids").to_pylist(),
            clip_start=table.column("clip_start").to_pylist(),
        )


def _window(block: RowBlock, anchor: int, k: int) -> list[int]:
    """Up to ``k`` consecutive row indices of the anchor's video containing the anchor."""
    vid = block.video_id[anchor]
    lo, hi = anchor, anchor + 1
    while hi - lo < k and hi < len(block) and block.video_id[hi] == vid:
        hi += 1
    while hi - lo < k and lo > 0 and block.video_id[lo - 1] == vid:
        lo -= 1
    return list(range(lo, hi))


def _clips(block: RowBlock, rows: Sequence[int]) -> tuple[list[int], int, int]:
    """United clips of ``rows`` in clip order: (words, first clip index, last clip index exclusive)."""
    by_clip: dict[int, int] = {}
    for r in rows:
        c0 = block.clip_start[r]
        for i, w in enumerate(block.visual_ids[r]):
            by_clip[c0 + i] = w
    keys = sorted(by_clip)
    if not keys:
        return [], 0, 0
    return [by_clip[c] for c in keys], keys[0], keys[-1] + 1


def _subsample(words: list[int], cfg: CollateConfig, rng: np.random.Generator) -> list[int]:
    lo, hi = cfg.subsample_range
    rate = int(rng.integers(lo, hi + 1))
    if rate == 1 or len(words) <= 1:
        return list(words)
    off = int(rng.integers(0, rate))
    # Sentences often span only a few clips: cap the rate so that the video side stays informative.
    rate = min(rate, max(1, len(words) // max(1, cfg.min_video_tokens)))
    off %= rate
    out = words[off::rate]
    return out if out else words[:1]


def make_example(block: RowBlock, anchor: int, cfg: CollateConfig, rng: np.random.Generator) -> Example:
    """Build one example around row ``anchor`` of ``block`` (see the module docstring)."""
    has_text = len(block.text_ids[anchor]) > 0
    has_video = len(block.visual_ids[anchor]) > 0
    r0, r1, r2 = cfg.regime_ratios
    u = rng.random() * (r0 + r1 + r2)
    regime = TEXT_ONLY if u < r0 else (VIDEO_ONLY if u < r0 + r1 else TEXT_VIDEO)
    if not has_text:
        regime = VIDEO_ONLY
    elif not has_video:
        regime = TEXT_ONLY
    rows = [anchor]
    if cfg.max_concat > 1 and rng.random() < cfg.concat_prob:
        rows = _window(block, anchor, int(rng.integers(2, cfg.max_concat + 1)))
        if regime != VIDEO_ONLY:  # only rows with text join a text-carrying example
            rows = [r for r in rows if block.text_ids[r]]
    text: list[int] | None = None
    visual: list[int] | None = None
    alignment = IGNORE_INDEX
    future = 0
    masked = True
    if regime != VIDEO_ONLY:
        text = [t for r in rows for t in block.text_ids[r]][: cfg.max_text_tokens]
    if regime != TEXT_ONLY:
        words, c0, c1 = _clips(block, rows)
        if regime == TEXT_VIDEO:
            alignment = 1
            u = rng.random()
            if u < cfg.negative_prob:
                neg = _negative_row(block, anchor, c0, c1, rng)
                if neg is not None:
                    # as many neighbouring rows as the positive had, so length gives nothing away
                    words, _, _ = _clips(block, _window(block, neg, len(rows)))
                    alignment = 0
            if cfg.alignment_masking == "separate":
                # a negative and as many positives are shown whole; the other positives are masked
                # and carry no alignment label (their masks would say "aligned")
                masked = u >= 2 * cfg.negative_prob
                if masked:
                    alignment = IGNORE_INDEX
        visual = _subsample(words, cfg, rng)[: cfg.max_video_tokens]
    if text is not None or visual is not None:
        budget = cfg.max_length - (2 if visual is None else 3)
        t, v = truncate_pair(text or [], visual or [], budget)
        text = t if text is not None else None
        visual = v if visual is not None else None
    if visual is not None and len(visual) >= 2 and rng.random() < cfg.future_prob and masked:
        # at most half of the clips are hidden as "the future": the rest is the context
        future = int(rng.integers(1, min(cfg.future_max_clips, len(visual) // 2) + 1))
    return Example(text, visual, regime, alignment, future, block.video_id[anchor], masked)


def _negative_row(block: RowBlock, anchor: int, c0: int, c1: int, rng: np.random.Generator) -> int | None:
    """A row of another video, else a row of the same video whose clips miss ``[c0, c1)``; None if none."""
    vid = block.video_id[anchor]
    n = len(block)
    for _ in range(16):  # rejection sampling: cheap when the block holds several videos
        j = int(rng.integers(0, n))
        if block.video_id[j] != vid and block.visual_ids[j]:
            return j
    others = [j for j in range(n) if block.video_id[j] != vid and block.visual_ids[j]]
    if not others:
        others = [
            j
            for j in range(n)
            if block.visual_ids[j]
            and (block.clip_start[j] >= c1 or block.clip_start[j] + len(block.visual_ids[j]) <= c0)
        ]
    return others[int(rng.integers(0, len(others)))] if others else None


def collate(
    examples: Sequence[Example], tok: VideoBertTokenizer, cfg: CollateConfig, rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """Lay out, mask and pad examples into a batch dict of long tensors (B, L) / (B,), plus
    ``mlm_positions`` (N,): the flat indices ``b * L + l`` of the labelled positions.

    Masking is vectorised over the batch: per sequence, ``floor(mask_prob * n + u)`` (u uniform in
    [0, 1), so the expected count is exactly ``mask_prob * n``) of its ``n`` maskable positions are
    chosen uniformly without replacement; future-clip positions are always masked and labelled.
    """
    if not examples:
        raise VideoBertError("collate needs at least one example")
    b = len(examples)
    seqs = []
    for ex in examples:
        vis = None if ex.visual is None else [tok.visual_offset + int(w) for w in ex.visual]
        seqs.append(build_sequence(tok, ex.text_ids, vis))
    length = max(len(s["input_ids"]) for s in seqs)
    ids = np.full((b, length), tok.pad_token_id, dtype=np.int64)
    types = np.zeros((b, length), dtype=np.int64)
    att = np.zeros((b, length), dtype=bool)
    future = np.zeros((b, length), dtype=bool)
    for i, (ex, seq) in enumerate(zip(examples, seqs, strict=True)):
        n = len(seq["input_ids"])
        ids[i, :n] = seq["input_ids"]
        types[i, :n] = seq["token_type_ids"]
        att[i, :n] = True
        if ex.future and ex.visual is not None and ex.masked:
            f = min(ex.future, len(ex.visual))
            future[i, n - 1 - f : n - 1] = True  # the last f clips, just before [SEP]
    is_vis = (ids >= tok.visual_offset) & (ids < tok.vocab_size)
    video_side = att & (types == 1) & (ids != tok.sep_token_id)
    if (ids < 0).any() or (ids >= tok.vocab_size).any() or not is_vis[video_side].all():
        raise VideoBertError(
            f"a visual word is outside [0, {tok.num_visual_words}) or a text id outside [0, T)"
        )
    maskable = att & ~np.isin(ids, tok.special_id_array())
    shown_whole = np.array([not ex.masked for ex in examples])  # (B,)
    eligible = maskable & ~future & ~shown_whole[:, None]
    n_elig = eligible.sum(axis=1)  # (B,)
    n_mask = np.floor(cfg.mask_prob * n_elig + rng.random(b)).astype(np.int64)  # (B,)
    keys = rng.random((b, length))
    keys[~eligible] = 2.0  # never chosen before an eligible position
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)  # (B, L) rank of each position in its row
    chosen = eligible & (ranks < n_mask[:, None])
    u = rng.random((b, length))
    to_mask = (chosen & (u < cfg.mask_token_frac)) | future
    to_rand = chosen & (u >= cfg.mask_token_frac) & (u < cfg.mask_token_frac + cfg.random_token_frac)
    pool = tok.random_text_pool()
    text_draw = pool[rng.integers(0, len(pool), size=(b, length))]
    vis_draw = tok.visual_offset + rng.integers(0, tok.num_visual_words, size=(b, length))
    labels = np.where(chosen | future, ids, IGNORE_INDEX)
    if not cfg.negative_mlm:
        # predicting words from someone else's clips (and clips from someone else's words) teaches
        # the model that the other modality is noise; negatives keep their masks but lose the labels
        negative = np.array([ex.alignment == 0 for ex in examples])  # (B,)
        labels[negative] = IGNORE_INDEX
    out = np.where(to_mask, tok.mask_token_id, ids)
    out = np.where(to_rand, np.where(is_vis, vis_draw, text_draw), out)
    return {
        "input_ids": torch.from_numpy(out),
        "token_type_ids": torch.from_numpy(types),
        "attention_mask": torch.from_numpy(att.astype(np.int64)),
        "labels": torch.from_numpy(labels),
        "alignment_labels": torch.tensor([ex.alignment for ex in examples], dtype=torch.long),
        "regime": torch.tensor([ex.regime for ex in examples], dtype=torch.long),
        "mlm_positions": torch.from_numpy(np.flatnonzero(labels.reshape(-1) != IGNORE_INDEX).astype(np.int64)),
    }
