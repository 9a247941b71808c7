"""``PretrainConfig``: every knob of ``videobert pretrain`` (YAML file, then ``key=value`` overrides)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from videobert.config import ConfigError, check_keys, load_config, suggest, validate_as


def _collate_config() -> type:
    from videobert.data.collate import CollateConfig

    return CollateConfig


def model_config_keys() -> list[str]:
    """Keys ``model.*`` may set: ``VideoBertConfig``'s fields less the vocabulary sizes, which the
    corpus decides."""
    from videobert.model.configuration import VideoBertConfig

    derived = {"vocab_size", "text_vocab_size", "num_visual_words", "model_type"}
    return sorted(set(VideoBertConfig().to_dict()) - derived)


def _validate_model(value: Mapping[str, Any], key: str) -> None:
    check_keys(value, model_config_keys(), "the model config (VideoBertConfig)", prefix=f"{key}.")


@dataclass
class PretrainConfig:
    """Pretraining settings.

    Attributes:
        init: BERT checkpoint directory or cached hub name to start from; None = the packaged
            all-MiniLM-L6-v2; ``"random"`` = random weights (model shape from ``model``).
        model: ``VideoBertConfig`` overrides, e.g. ``{"num_hidden_layers": 2}`` (keeps the first
            two layers of the checkpoint), loss weights, dropout.
        init_visual_from_centroids: initialise visual-word embeddings from WORK/vocab's centroids.
        init_visual_from_narration: weight in [0, 1] that turns each visual word's initial
            embedding towards the IDF-weighted text embedding of what the training narration says
            while it is on screen (``model.init.narration_directions``; at most
            ``narration_rows`` corpus rows are read). 0 = off. Shortens the long plateau before
            alignment and text-from-video prediction start to learn.
        batch_size: sequences per micro-batch per process.
        grad_accum: micro-batches per optimiser step (global batch = batch_size * grad_accum * world).
        lr: peak learning rate (AdamW). warmup_steps: linear warm-up steps, then linear decay to 0.
        max_steps: optimiser steps in total. weight_decay: AdamW decay (not on biases/LayerNorm).
        clip_norm: max global gradient norm (<= 0: no clipping).
        checkpoint_every: steps between checkpoints (a final one is always written).
        keep_last: checkpoints kept (older ones deleted; <= 0 keeps all).
        eval_every: steps between validations (<= 0: only at the end). eval_batches: val batches.
        seed: seeds weights, data and dropout. deterministic: deterministic torch algorithms.
        bf16: bf16 autocast; None = on when training on CUDA. Training on CPU is always fp32.
        collate: ``videobert.data.collate.CollateConfig`` fields (masking, regimes, lengths).
        log_every: steps between train log entries.
        device: cpu, cuda or cuda:N; None = CUDA (this process's LOCAL_RANK GPU) when available.
        pack: train (and validate) on packed batches: several examples per row, attention kept
            within each example, positions and token types restarting per example, one alignment
            target and pooled state per example (``videobert.data.packing``). The same examples,
            masks and losses as unpacked batches (to float rounding), without the compute on
            padding (about half the tokens of a demo batch).
        pack_length: the longest packed row in tokens (at least each batch's longest example);
            None = each batch's longest example, the width padding would give: rows only get
            fewer. Longer rows pack tighter but cost attention (L x L per row) on every token.
        num_workers: DataLoader worker processes that build batches while the model trains (exact
            resume and the same batches as 0); None = 2 on CUDA, 0 on CPU (on 2 cores workers only
            take time from the model). Batches are pinned for the host-to-GPU copy on CUDA.
        compile: ``torch.compile`` the model (dynamic shapes); None = on for CUDA, off on CPU
            (its compile time outweighs the gain of a short CPU run).
        gradient_checkpointing: recompute each layer's activations in the backward pass (less
            memory, about a third more compute), for long rows or big models.
    """

    init: str | None = None
    model: dict[str, Any] = field(default_factory=dict, metadata={"validate": _validate_model})
    init_visual_from_centroids: bool = True
    init_visual_from_narration: float = 0.0
    narration_rows: int = 200_000
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-4
    warmup_steps: int = 100
    max_steps: int = 1000
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    checkpoint_every: int = 200
    keep_last: int = 2
    eval_every: int = 200
    eval_batches: int = 20
    seed: int = 0
    deterministic: bool = False
    bf16: bool | None = None
    collate: dict[str, Any] = field(default_factory=dict, metadata={"validate": validate_as(_collate_config)})
    log_every: int = 10
    device: str | None = None
    pack: bool = True
    pack_length: int | None = None
    num_workers: int | None = None
    compile: bool | None = None
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        positive = {"batch_size": self.batch_size, "grad_accum": self.grad_accum, "max_steps": self.max_steps,
                    "log_every": self.log_every, "lr": self.lr}  # fmt: skip
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        nonneg = {"warmup_steps": self.warmup_steps, "weight_decay": self.weight_decay, "narration_rows": self.narration_rows}
        for name, value in nonneg.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.num_workers is not None and self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.pack_length is not None and self.pack_length < 1:
            raise ValueError(f"pack_length must be >= 1 (or null: each batch's longest example), got {self.pack_length}")
        if not 0.0 <= self.init_visual_from_narration <= 1.0:
            raise ValueError(f"init_visual_from_narration must be in [0, 1], got {self.init_visual_from_narration}")


# Named starting points for ``videobert pretrain --preset NAME`` (then the YAML file, then overrides).
PRESETS: dict[str, dict[str, Any]] = {
    # the built-in demo corpus on 2 CPU cores in about 6 minutes: MiniLM cut to 2 layers. Visual
    # words start near what the narration says while they are seen, the alignment head reads the
    # mean state and weighs 3x: on this small corpus the cross-modal objectives otherwise sit on a
    # plateau for thousands of steps (measured on a GPU: alignment still 0.5 after 2,000 steps of 64).
    "demo": {
        "model": {"num_hidden_layers": 2, "alignment_pooling": "mean", "alignment_weight": 3.0},
        "init_visual_from_narration": 0.7,
        # most examples pair narration with its clips: the cross-modal objectives are what is slow
        "collate": {"regime_ratios": [0.1, 0.1, 0.8]},
        "batch_size": 32,
        "lr": 0.001,
        "warmup_steps": 30,
        "max_steps": 600,
        "checkpoint_every": 200,
        "eval_every": 200,
        "eval_batches": 20,
        "log_every": 10,
    },
    # the paper's setting scaled to one node: BERT-large, large batches, long schedule (GPUs)
    "paper": {
        "init": "bert-large-uncased",
        "batch_size": 32,
        "grad_accum": 4,
        "lr": 0.0001,
        "warmup_steps": 10000,
        "max_steps": 500000,
        "checkpoint_every": 5000,
        "eval_every": 5000,
        "eval_batches": 200,
        "log_every": 100,
    },
}

def load_pretrain_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] | None = None,
    preset: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> PretrainConfig:
    """Defaults, updated by ``PRESETS[preset]``, the YAML file at ``path``, ``values`` (dotted key ->
    value), then ``key=value`` overrides; unknown keys at any depth (``model.*`` and ``collate.*``
    too) are errors."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}{suggest(preset, PRESETS)}; choose from {sorted(PRESETS)}")
    return load_config(PretrainConfig, path, overrides, values, base=PRESETS.get(preset or "", {}))


__all__ = ["PRESETS", "PretrainConfig", "load_pretrain_config", "model_config_keys"]
