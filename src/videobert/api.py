"""VideoBERT in a few calls: load a model with its processor, and ask it questions.

::

    import videobert
    model, processor = videobert.load("demo-work/export")
    inputs = processor(text="now let me show you how to cut the tomato", video="clip.mp4")
    print(videobert.align(model, inputs), videobert.zero_shot_actions(model, processor, video="clip.mp4"))

The task functions (``videobert.tasks``) run on the same model and ``processor.tokenizer``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videobert.errors import StageMissingError


def load(path: str | os.PathLike[str], device: str | None = None) -> tuple[Any, Any]:
    """``(VideoBertForPreTraining in eval mode, VideoBertProcessor)`` from an exported directory
    (``videobert export``) or a work directory (its final checkpoint, vocabulary and feature spec).

    Args:
        device: where the model goes (``cpu``, ``cuda``...; default the CPU).
    """
    from videobert.model.loading import load_model
    from videobert.processor import PROCESSOR_CONFIG, VideoBertProcessor
    from videobert.utils.runtime import resolve_device
    from videobert.workdir import WorkDir

    path = Path(path)
    if (path / PROCESSOR_CONFIG).is_file():
        model, _, _ = load_model(path)
        processor = VideoBertProcessor.from_pretrained(path)
    elif WorkDir(path).checkpoints.is_dir():
        model, _, _ = load_model(WorkDir(path).resolve_checkpoint())
        processor = VideoBertProcessor.from_work(path)
    else:
        raise StageMissingError(f"{path}: neither an exported model (no {PROCESSOR_CONFIG}) nor a work directory with checkpoints")
    return model.to(resolve_device(device or "cpu")), processor


def align(model: Any, inputs: dict[str, Any]) -> float:
    """P(aligned): how well the text and the video of ``inputs`` (a processor output holding both)
    go together, by the linguistic-visual alignment head, in [0, 1]."""
    import torch

    from videobert.model.inference import model_device, to_device

    model.eval()
    with torch.inference_mode():
        logits = model(**to_device(inputs, model_device(model))).alignment_logits.float()  # (1, 2)
    return float(torch.softmax(logits, dim=-1)[0, 1])


DEFAULT_VERBS = ("add", "cut", "fry", "mix", "pour", "put", "stir", "bake")
DEFAULT_NOUNS = ("onion", "tomato", "egg", "oil", "water", "salt", "meat", "flour")


def zero_shot_actions(
    model: Any,
    processor: Any,
    video: str | os.PathLike[str] | None = None,
    frames: np.ndarray | None = None,
    features: np.ndarray | None = None,
    visual_words: np.ndarray | None = None,
    verbs: Sequence[str] = DEFAULT_VERBS,
    nouns: Sequence[str] = DEFAULT_NOUNS,
    template: str = "now let me show you how to [MASK] the [MASK]",
    k: int = 3,
) -> dict[str, list[tuple[str, float]]]:
    """The paper's zero-shot action classification of one video: fill ``template``'s two masks
    from its visual words. Returns ``{"verb": [(word, log-prob), ...], "noun": [...]}``, the ``k``
    best candidates of each, best first (multi-piece words by the mean of their pieces)."""
    from videobert.tasks.zero_shot import ZeroShotConfig, score_slots

    if visual_words is None:
        visual_words = processor.visual_words(video, frames, features)[0]
    vocab = [list(verbs), list(nouns)]
    scores = score_slots(model, processor.tokenizer, [np.asarray(visual_words)], vocab, ZeroShotConfig(template=template))
    out = {}
    for slot, words, sc in zip(("verb", "noun"), vocab, scores, strict=True):
        order = np.argsort(-sc[0], kind="stable")[:k]
        out[slot] = [(words[i], float(sc[0, i])) for i in order]
    return out


__all__ = ["align", "load", "zero_shot_actions"]
