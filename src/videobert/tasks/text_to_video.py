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
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.tasks.common import Segment, example_indices, load_segment_splits
from videobert.tasks.forecast import pad_sequences, token_ids, visual_logits, word_frequencies
from videobert.tasks.strips import StripRow, report_strip_args, save_example_strip, word_tiles

log = logging.getLogger(__name__)


@dataclass
class TextToVideoConfig:
    """Settings of :func:`text_to_video_task`.

    Attributes:
        n_words: visual words generated per sentence (capped by the segment's length when evaluating
            if ``match_length``).
        match_length: generate as many words as the segment has clips (at most ``n_words``).
        temperature: 0 = greedy arg-max, > 0 = sample from softmax(logits / temperature).
        top_k: when sampling, only from the ``top_k`` most likely words (0: all).
        max_segments: evaluated validation segments at most (0: all).
        max_text_tokens: WordPiece tokens of the sentence kept.
        n_examples: rendered strips.
        batch_size: sequences per forward pass.
        seed: RNG seed (sampling).
    """

    n_words: int = 8
    match_length: bool = True
    temperature: float = 0.0
    top_k: int = 0
    max_segments: int = 400
    max_text_tokens: int = 32
    n_examples: int = 4
    batch_size: int = 128
    seed: int = 0


@torch.inference_mode()
def generate_visual_words(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    n_words: int | Sequence[int] = 8,
    temperature: float = 0.0,
    top_k: int = 0,
    seed: int = 0,
    batch_size: int = 128,
    max_text_tokens: int = 32,
) -> list[np.ndarray]:
    """Visual words (vocab-local int64 (n_i,)) generated for each sentence, left to right.

    Args:
        sentences: the texts.
        n_words: words per sentence (one int for all, or one per sentence).
        temperature: 0 for greedy decoding, > 0 to sample.
        top_k: restrict sampling to the ``top_k`` most likely words (0: no restriction).
    """
    ids = token_ids(model)
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    counts = [int(n_words)] * len(sentences) if isinstance(n_words, int) else [int(n) for n in n_words]
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(sentences)
    starts = range(0, len(sentences), batch_size)
    for s in tqdm(starts, desc="text-to-video", disable=len(starts) < 4, leave=False):
        chunk = list(range(s, min(s + batch_size, len(sentences))))
        seqs, first = [], []
        for i in chunk:
            text = tokenizer.encode_text(sentences[i])[:max_text_tokens]
            head = [ids["cls"], *text, ids["vsep"]]
            seq = head + [ids["mask"]] * counts[i] + [ids["sep"]]
            seqs.append((seq, [0] * len(head) + [1] * (counts[i] + 1)))
            first.append(len(head))
        batch = pad_sequences(seqs, ids["pad"])
        input_ids = batch["input_ids"]  # (B, L)
        rows = torch.arange(len(chunk))
        first_t = torch.tensor(first)
        cnt = torch.tensor([counts[i] for i in chunk])
        for j in range(max(cnt.tolist(), default=0)):
            active = cnt > j  # (B,)
            hidden = model(
                input_ids=input_ids,
                token_type_ids=batch["token_type_ids"],
                attention_mask=batch["attention_mask"],
            ).last_hidden_state  # (B, L, H)
            pos = first_t + j  # (B,)
            logits = visual_logits(
                model, hidden[rows, pos.clamp(max=input_ids.shape[1] - 1)]
            ).float()  # (B, V)
            if temperature > 0:
                logits = logits / temperature
                if top_k > 0:
                    kth = torch.topk(logits, min(top_k, logits.shape[1]), dim=-1).values[:, -1:]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                pick = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen)[:, 0]  # (B,)
            else:
                pick = logits.argmax(dim=-1)  # (B,)
            new = pick + ids["voff"]
            input_ids[rows[active], pos[active]] = new[active]
        for b, i in enumerate(chunk):
            out[i] = (input_ids[b, first[b] : first[b] + counts[i]] - ids["voff"]).numpy().astype(np.int64)
    return out


def overlap_scores(generated: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> dict[str, float]:
    """``precision``: mean fraction of generated words found in the truth; ``recall``: mean fraction
    of the truth's distinct words generated. Both in [0, 1], averaged over items."""
    prec, rec = [], []
    for g, t in zip(generated, truths, strict=True):
        g, t = np.asarray(g), np.asarray(t)
        if len(g) == 0 or len(t) == 0:
            continue
        prec.append(float(np.isin(g, t).mean()))
        uniq = np.unique(t)
        rec.append(float(np.isin(uniq, g).mean()))
    return {"precision": float(np.mean(prec)) if prec else 0.0, "recall": float(np.mean(rec)) if rec else 0.0}


def text_to_video_task(
    model: Any,
    tokenizer: Any,
    segments: Sequence[Segment],
    train_segments: Sequence[Segment],
    cfg: TextToVideoConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    thumbs: dict[int, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Generate visual words for validation sentences and compare with their true words.

    Returns:
        The report dict: ``metrics`` {"precision", "recall"}, ``chance`` (n most frequent training
        words, same keys), ``n`` (segments), ``config``, ``examples`` (strips under ``out_dir``).
    """
    cfg = cfg or TextToVideoConfig()
    segs = [s for s in segments if s.sentence.strip() and len(s.visual_words)]
    if cfg.max_segments > 0 and len(segs) > cfg.max_segments:
        idx = np.linspace(0, len(segs) - 1, cfg.max_segments).round().astype(np.int64)
        segs = [segs[i] for i in idx]
    if not segs:
        raise ValueError("no validation segment with a sentence and visual words")
    counts = [min(cfg.n_words, len(s.visual_words)) if cfg.match_length else cfg.n_words for s in segs]
    generated = generate_visual_words(
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
    metrics = overlap_scores(generated, truths)
    freq = word_frequencies([s.visual_words for s in train_segments], int(model.config.num_visual_words))
    freq_order = np.argsort(-freq, kind="stable")
    baseline = [freq_order[:c] for c in counts]
    chance = overlap_scores(baseline, truths)
    log.info(
        "text-to-video: precision %.3f (freq %.3f), recall %.3f (freq %.3f) on %d segments",
        metrics["precision"],
        chance["precision"],
        metrics["recall"],
        chance["recall"],
        len(segs),
    )
    examples = []
    for j, i in enumerate(example_indices(len(segs), cfg.n_examples)):
        s = segs[i]
        ex: dict[str, Any] = {
            "video_id": s.video_id,
            "segment": [s.start, s.end],
            "sentence": s.sentence,
            "pred": [int(w) for w in generated[i]],
            "truth": [int(w) for w in truths[i][: cfg.n_words]],
        }
        if out_dir is not None:
            th = thumbs or {}
            rows = [
                StripRow("generated", word_tiles(generated[i], th), [str(int(w)) for w in generated[i]]),
                StripRow(
                    "truth",
                    word_tiles(truths[i][: cfg.n_words], th),
                    [str(int(w)) for w in truths[i][: cfg.n_words]],
                ),
            ]
            ex["image"] = save_example_strip(rows, out_dir, f"text_to_video_{j}.png", title=s.sentence)
        examples.append(ex)
    return {
        "task": "text-to-video",
        "metrics": metrics,
        "chance": chance,
        "n": len(segs),
        "config": asdict(cfg),
        "examples": examples,
    }


def run_text_to_video(
    model: Any,
    tokenizer: Any,
    work: str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    cfg: TextToVideoConfig | None = None,
) -> dict[str, Any]:
    """:func:`text_to_video_task` on WORK's validation segments; strips under ``WORK/reports/text-to-video/``."""
    val, train = load_segment_splits(work, annotations, "validation", "training")
    return text_to_video_task(model, tokenizer, val, train, cfg, **report_strip_args(work, "text-to-video"))
