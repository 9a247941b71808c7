"""Whisper recognisers behind one small interface: transformers (default) or faster-whisper.

A :class:`Recognizer` turns one window of 16 kHz mono float32 samples into timed words
(:class:`Word`, seconds from the window's start) grouped as the backend groups them, and names
the language it heard. :func:`load_recognizer` builds one from a local model folder or a hub name;
a model that cannot be found or fetched (no network) is a one-line :class:`VideoBertError` that
names the model and says how to provide a local folder.

* ``transformers``: ``pipeline("automatic-speech-recognition", return_timestamps="word",
  chunk_length_s=30)`` on a Hugging Face Whisper folder (``config.json``, weights, the processor's
  files); word times come from cross-attention DTW over the generation config's
  ``alignment_heads``; no per-word probability (``None``). The language, when not given, is
  detected once per video (``WhisperForConditionalGeneration.detect_language`` on the first
  30 s that are not silent) and then held fixed.
* ``faster-whisper`` (optional: ``pip install faster-whisper``): a CTranslate2 Whisper folder
  (``model.bin``, ``config.json``, ``tokenizer.json``) or a size name (``small``); gives
  per-word probabilities and its own segments.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from videobert.asr.audio import SAMPLE_RATE
from videobert.errors import InputFileError, VideoBertError

log = logging.getLogger(__name__)

Backend = Literal["transformers", "faster-whisper"]
BACKENDS: tuple[str, ...] = ("transformers", "faster-whisper")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")  # "openai/whisper-small", "small"


@dataclass(frozen=True)
class Word:
    """One recognised word: ``word`` as Whisper spells it (leading space included), ``[start, end]``
    in seconds, ``probability`` in [0, 1] or None when the backend gives none."""

    word: str
    start: float
    end: float
    probability: float | None = None


class Recognizer(Protocol):
    """What :mod:`videobert.asr.transcribe` needs of a backend."""

    name: str

    def transcribe(self, samples: np.ndarray, language: str | None) -> tuple[list[list[Word]], str | None]:
        """``(groups of words, language)`` for float32 (n,) samples at 16 kHz; times in seconds from
        the window's start; ``language`` None asks the backend to detect it (returned)."""
        ...


def _model_error(model: str, exc: BaseException | str) -> VideoBertError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return VideoBertError(
        f"Whisper model {model!r} could not be loaded ({reason[:200]}); without network, download the "
        f"model folder on a connected machine (e.g. `hf download {model} --local-dir DIR`) and pass "
        "model=DIR (a local folder)"
    )


def _check_local(model: str, marker: str) -> bool:
    """Whether ``model`` names a local folder (checked to hold ``marker``); False for a hub name.

    Raises:
        InputFileError: a path that does not exist, or a folder without ``marker``.
    """
    p = Path(os.path.expanduser(model))
    if p.exists():
        if not p.is_dir() or not (p / marker).is_file():
            raise InputFileError(p, f"not a Whisper model folder (no {marker}); pass model=DIR of a saved model")
        return True
    if model.startswith((".", "/", "~")) or os.sep in model.strip("/").replace("/", "", 1) or not _HUB_NAME.match(model):
        raise InputFileError(p, "no such model folder; pass model=DIR of a saved Whisper model, or a hub name")
    return False


class TransformersWhisper:
    """transformers' ASR pipeline on a Whisper checkpoint (see the module docstring)."""

    name = "transformers"

    def __init__(
        self, model: str, device: str | None = None, dtype: str = "auto", batch_size: int = 8,
        chunk_length_s: float = 30.0,
    ) -> None:  # fmt: skip
        import torch
        from transformers import pipeline

        from videobert.utils.runtime import resolve_device

        local = _check_local(model, "config.json")
        dev = resolve_device(device)
        torch_dtype = {"auto": torch.float16 if dev.type == "cuda" else torch.float32, "float32": torch.float32,
                       "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]  # fmt: skip
        try:
            self.pipe = pipeline(
                "automatic-speech-recognition", model=os.path.expanduser(model) if local else model,
                device=dev, dtype=torch_dtype,
            )  # fmt: skip
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise _model_error(model, exc) from exc
        if getattr(self.pipe, "type", None) != "seq2seq_whisper":
            raise InputFileError(model, f"not a Whisper model (the pipeline sees {self.pipe.type!r})")
        self.batch_size = max(1, int(batch_size))
        self.chunk_length_s = float(chunk_length_s)
        self.torch_dtype = torch_dtype
        gen = self.pipe.model.generation_config
        self.multilingual = bool(getattr(gen, "is_multilingual", False) and getattr(gen, "lang_to_id", None))

    def detect_language(self, samples: np.ndarray) -> str:
        """The language code (``en``) Whisper hears in the first 30 s of ``samples``; ``en`` for an
        English-only model."""
        if not self.multilingual:
            return "en"
        import torch

        fe = self.pipe.feature_extractor
        feats = fe(samples[: 30 * SAMPLE_RATE], sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
        with torch.inference_mode():
            lang_id = self.pipe.model.detect_language(feats.to(self.pipe.device, self.torch_dtype))
        token = self.pipe.tokenizer.convert_ids_to_tokens(int(lang_id.reshape(-1)[0]))
        return str(token).strip("<|>")

    def transcribe(self, samples: np.ndarray, language: str | None) -> tuple[list[list[Word]], str | None]:
        language = language or self.detect_language(samples)
        kwargs: dict[str, Any] = {"task": "transcribe", "language": language} if self.multilingual else {}
        out = self.pipe(
            {"raw": samples, "sampling_rate": SAMPLE_RATE}, return_timestamps="word",
            chunk_length_s=self.chunk_length_s, batch_size=self.batch_size, generate_kwargs=kwargs,
            ignore_warning=True,
        )  # fmt: skip
        words = []
        for chunk in out.get("chunks", []):
            start, end = (tuple(chunk.get("timestamp") or ()) + (None, None))[:2]
            words.append(Word(str(chunk.get("text", "")), _num(start), _num(end), None))
        return [words], language


class FasterWhisper:
    """faster-whisper (CTranslate2) with word timestamps and probabilities."""

    name = "faster-whisper"

    def __init__(self, model: str, device: str | None = None, dtype: str = "auto", beam_size: int = 5) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise VideoBertError("backend=faster-whisper needs the faster-whisper package (pip install faster-whisper)") from exc
        from videobert.utils.runtime import resolve_device

        local = _check_local(model, "model.bin")
        dev = resolve_device(device)
        compute = {"auto": "float16" if dev.type == "cuda" else "int8", "float32": "float32",
                   "float16": "float16", "bfloat16": "bfloat16"}[dtype]  # fmt: skip
        try:
            self.model = WhisperModel(
                os.path.expanduser(model) if local else model, device=dev.type,
                device_index=dev.index or 0, compute_type=compute, local_files_only=local,
            )  # fmt: skip
        except (OSError, ValueError, RuntimeError) as exc:
            raise _model_error(model, exc) from exc
        except Exception as exc:  # huggingface_hub's errors when the hub cannot be reached
            raise _model_error(model, exc) from exc
        self.beam_size = beam_size

    def transcribe(self, samples: np.ndarray, language: str | None) -> tuple[list[list[Word]], str | None]:
        segments, info = self.model.transcribe(
            samples, language=language, word_timestamps=True, beam_size=self.beam_size, vad_filter=False,
        )  # fmt: skip
        groups = [
            [Word(w.word, float(w.start), float(w.end), float(w.probability)) for w in (s.words or [])]
            for s in segments
        ]
        return groups, language or info.language


def _num(x: object) -> float:
    """A timestamp as a float (NaN when missing)."""
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def load_recognizer(
    model: str, backend: str = "transformers", device: str | None = None, dtype: str = "auto",
    batch_size: int = 8, chunk_length_s: float = 30.0, beam_size: int = 5,
) -> Recognizer:  # fmt: skip
    """A :class:`Recognizer` for ``model`` (local folder or hub name) on ``backend``.

    Raises:
        InputFileError: a local path that is not a model folder.
        VideoBertError: an unknown backend, a missing package, or a hub name that cannot be fetched.
    """
    if backend == "transformers":
        return TransformersWhisper(model, device, dtype, batch_size, chunk_length_s)
    if backend == "faster-whisper":
        return FasterWhisper(model, device, dtype, beam_size)
    raise VideoBertError(f"backend={backend!r}: expected one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "FasterWhisper", "Recognizer", "TransformersWhisper", "Word", "load_recognizer"]
