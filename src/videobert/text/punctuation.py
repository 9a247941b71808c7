"""Punctuation restoration for unpunctuated ASR: which words end a sentence.

The model is a transformers token-classification checkpoint of the
``oliverguhr/fullstop-punctuation-multilang-*`` kind: one label per sub-word token naming the
punctuation that follows the word. Labels are read from the checkpoint's ``config.id2label``;
the ones accepted as sentence ends are ``ends`` (default :data:`SENTENCE_END_LABELS`), compared
after dropping a ``B-``/``I-``/``E-``/``S-`` tagging prefix. With the fullstop models
(``0``: none, ``.``, ``,``, ``?``, ``-``, ``:``) that is ``.`` and ``?``; checkpoints that name their
labels (``PERIOD``, ``QUESTION``, ``EXCLAMATION``, ``COMMA``, ``O``) are read the same way. A
checkpoint none of whose labels ends a sentence is refused.

A word's label is the label of its *last* sub-word token (as the fullstop models' own inference
does). Long transcripts are run in windows of at most ``window`` words that also fit the model's
positions, overlapping by ``overlap`` words; each word takes the prediction of the window where it
has the most context on both sides. Windows go through the model ``batch_size`` at a time.

Loading is lazy and cached per (name, device): :func:`load_punctuation_model`. A local path is
loaded with ``local_files_only``; a name is looked up on the hub (its cache when offline).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from videobert.errors import InputFileError, VideoBertError

log = logging.getLogger(__name__)

#: Labels that end a sentence: the fullstop models' symbols and the spelled-out names.
SENTENCE_END_LABELS: tuple[str, ...] = (".", "?", "!", "PERIOD", "QUESTION", "EXCLAMATION")

_TAG_PREFIX_RE = re.compile(r"^[BIES]-")


def _looks_like_path(name: str) -> bool:
    """A local path (exists, or is written like one) rather than a hub name ``owner/model``."""
    return (
        os.path.exists(name)
        or name.startswith((".", "~", os.sep))
        or os.path.isabs(name)
        or name.count("/") > 1
        or "\\" in name
    )


def _bare_label(label: str) -> str:
    return _TAG_PREFIX_RE.sub("", str(label))


class PunctuationModel:
    """A loaded punctuation model: :meth:`sentence_ends` marks the words after which a sentence ends.

    Args:
        model: a transformers token-classification model (eval mode is set here).
        tokenizer: its fast tokenizer (``word_ids`` is needed).
        name: how the model was named (for messages).
        ends: labels that end a sentence (see the module docstring).
        window: most words per model input.
        overlap: words shared by neighbouring windows (``< window / 2``).
        batch_size: windows per forward pass.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str = "<model>",
        ends: Sequence[str] = SENTENCE_END_LABELS,
        window: int = 150,
        overlap: int = 20,
        batch_size: int = 8,
    ) -> None:
        if window < 1 or not 0 <= overlap < (window + 1) // 2 or batch_size < 1:
            raise ValueError(
                f"need window >= 1, 0 <= overlap < window/2, batch_size >= 1; got {window}, {overlap}, {batch_size}"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise VideoBertError(
                f"punctuation model {name}: needs a fast tokenizer (word_ids), got {type(tokenizer).__name__}"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.window = window
        self.overlap = overlap
        self.batch_size = batch_size
        id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
        wanted = set(ends)
        self.end_ids = frozenset(i for i, lab in id2label.items() if _bare_label(lab) in wanted)
        self.id2label = id2label
        if not self.end_ids:
            raise VideoBertError(
                f"punctuation model {name}: none of its labels {sorted(id2label.values())} ends a sentence "
                f"(accepted: {sorted(wanted)}; set SentenceConfig.punctuation_ends)"
            )
        positions = int(getattr(model.config, "max_position_embeddings", 512) or 512)
        limit = min(int(getattr(tokenizer, "model_max_length", positions) or positions), positions - 2)
        self.max_tokens = max(limit - tokenizer.num_special_tokens_to_add(pair=False), 1)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def _windows(self, words: Sequence[str]) -> list[tuple[int, int]]:
        """``[a, b)`` word ranges: at most ``window`` words and ``max_tokens`` sub-word tokens each."""
        counts = [len(ids) for ids in self.tokenizer(list(words), add_special_tokens=False)["input_ids"]]
        out: list[tuple[int, int]] = []
        a = 0
        n = len(words)
        while a < n:
            b, used = a, 0
            while b < n and b - a < self.window and (used + counts[b] <= self.max_tokens or b == a):
                used += counts[b]
                b += 1
            out.append((a, b))
            if b >= n:
                break
            a = max(b - min(self.overlap, (b - a) // 2), a + 1)
        return out

    def labels(self, words: Sequence[str]) -> list[str]:
        """The predicted label (``id2label``) after each word; ``len(words)`` labels."""
        return [self.id2label[i] for i in self._label_ids(words)]

    def sentence_ends(self, words: Sequence[str]) -> list[bool]:
        """``out[k]``: a sentence ends after ``words[k]`` (words as spoken, one token each)."""
        return [i in self.end_ids for i in self._label_ids(words)]

    def _label_ids(self, words: Sequence[str]) -> list[int]:
        import torch

        words = [w if w.strip() else "_" for w in words]
        n = len(words)
        if n == 0:
            return []
        windows = self._windows(words)
        best = [-1] * n  # context (words) on the nearer side in the window the label came from
        out = [-1] * n
        with torch.inference_mode():
            for s in range(0, len(windows), self.batch_size):
                chunk = windows[s : s + self.batch_size]
                enc = self.tokenizer(
                    [words[a:b] for a, b in chunk],
                    is_split_into_words=True,
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens + self.tokenizer.num_special_tokens_to_add(pair=False),
                    return_tensors="pt",
                )
                pred = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits.argmax(-1).cpu()
                for row, (a, b) in enumerate(chunk):
                    last: dict[int, int] = {}
                    for pos, wid in enumerate(enc.word_ids(row)):
                        if wid is not None:
                            last[wid] = int(pred[row, pos])
                    for wid, label in last.items():
                        k = a + wid
                        context = min(k - a, b - 1 - k)
                        if context > best[k]:
                            best[k], out[k] = context, label
        no_label = next((i for i, lab in self.id2label.items() if _bare_label(lab) in {"0", "O"}), None)
        missing = sum(1 for x in out if x < 0)
        if missing:
            log.warning(
                "punctuation model %s: %d of %d words got no sub-word token; no boundary after them",
                self.name,
                missing,
                n,
            )
        return [x if x >= 0 else (no_label if no_label is not None else -1) for x in out]


def _load(
    name: str, device: str | None, ends: tuple[str, ...], window: int, overlap: int, batch_size: int
) -> PunctuationModel:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    local = _looks_like_path(name)
    if local:
        path = Path(name).expanduser()
        if not path.is_dir() or not (path / "config.json").is_file():
            reason = "no such folder" if not path.exists() else "not a model folder (no config.json)"
            raise InputFileError(path, f"punctuation model: {reason}")
        src = str(path)
    else:
        src = name
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=local)
        model = AutoModelForTokenClassification.from_pretrained(src, local_files_only=local)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if local:
            raise InputFileError(src, f"punctuation model cannot be loaded: {first}") from exc
        raise VideoBertError(
            f"punctuation model {name!r} cannot be loaded (not cached locally and no hub access?): {first}"
        ) from exc
    import torch

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(dev)
    log.info("punctuation model %s loaded on %s (%d labels)", name, dev, len(model.config.id2label))
    return PunctuationModel(model, tokenizer, name, ends, window, overlap, batch_size)


_cached_load = lru_cache(maxsize=2)(_load)


def load_punctuation_model(
    name: str | os.PathLike[str],
    device: str | None = None,
    ends: Sequence[str] = SENTENCE_END_LABELS,
    window: int = 150,
    overlap: int = 20,
    batch_size: int = 8,
) -> PunctuationModel:
    """Load (once per argument set, then cached) a punctuation model by local path or hub name.

    Raises :class:`InputFileError` for a missing/unloadable local path, :class:`VideoBertError` for
    a hub name that cannot be loaded or a checkpoint without sentence-end labels.
    ``device``: None picks CUDA when available, else CPU.
    """
    return _cached_load(os.fspath(name), device, tuple(ends), int(window), int(overlap), int(batch_size))
