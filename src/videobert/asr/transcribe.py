"""``videobert transcribe``: Whisper transcripts for videos that come without any.

For each video: decode its sound track in windows (:mod:`videobert.asr.audio`, 16 kHz mono
float32, at most ``window_s`` seconds held), skip windows quieter than ``silence_db`` (Whisper
invents text over silence), recognise the rest (:mod:`videobert.asr.backends`), clean the words
(times on the video's clock, inside the window, in order), group them into segments (at a pause
of ``pause_s``, after a sentence's end, at most ``max_segment_s`` long) and write the Whisper JSON
layout (``docs/ARCHITECTURE.md``, "Transcripts")::

    {"text": str, "language": str, "segments": [{"id", "start", "end", "text",
     "words": [{"word", "start", "end", "probability"}]}], "videobert": {...how it was made}}

atomically, to ``WORK/transcripts/<video_id>.json`` (``WorkDir.transcript_file``) or, with
``beside``, to ``<video>.json`` beside each video (where ``extract``'s transcript search finds it;
an existing ``.json`` there that videobert did not write is never overwritten). A finished output
is skipped on re-run; a video without a usable sound track (none, undecodable, silent) is recorded
in the manifest (stage ``transcribe``, status ``skipped``, the reason) and the run goes on.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from videobert import __version__
from videobert.asr.audio import SAMPLE_RATE, AudioDecodeError, iter_audio_windows, loudness_db
from videobert.asr.backends import Backend, Recognizer, Word, load_recognizer
from videobert.errors import InputFileError, VideoBertError
from videobert.utils.io import atomic_write_json, read_json
from videobert.workdir import IdRule, WorkDir

log = logging.getLogger(__name__)

STAGE = "transcribe"
MARK = "videobert"  # the key that marks a transcript this module wrote
_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


@dataclass
class TranscribeConfig:
    """Settings of ``videobert transcribe`` (the keyword arguments of :func:`transcribe`).

    Attributes:
        model: a local Whisper model folder, or a hub name (fetched only where there is network).
        backend: ``transformers`` (a Hugging Face Whisper folder) or ``faster-whisper`` (CTranslate2).
        language: the spoken language (``en``, ``de``...); None: detected per video.
        device: cpu, cuda or cuda:N (default: cuda when available).
        dtype: weights' precision: auto (float16 on CUDA, float32 on CPU; faster-whisper: int8 on CPU).
        batch_size: 30 s chunks per forward pass (transformers).
        beam_size: beam width (faster-whisper).
        chunk_length_s: seconds per Whisper chunk (transformers; Whisper's own is 30).
        window_s: seconds of audio decoded and recognised at a time (memory: 64 kB per second).
        silence_db: windows quieter than this RMS level (dB full scale) are not recognised; a video
            with no louder window is skipped as silent.
        pause_s: a gap between words of at least this many seconds starts a new segment.
        max_segment_s: longest segment, seconds.
        ids: how a file names its video: ``stem`` or ``path`` (as ``extract``).
        progress: show a progress bar.
    """

    model: str = "openai/whisper-small"
    backend: Backend = "transformers"
    language: str | None = None
    device: str | None = None
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    batch_size: int = 8
    beam_size: int = 5
    chunk_length_s: float = 30.0
    window_s: float = 300.0
    silence_db: float = -50.0
    pause_s: float = 1.0
    max_segment_s: float = 30.0
    ids: IdRule = "stem"
    progress: bool = True


# ------------------------------------------------------------------------------------------------
# words -> segments
# ------------------------------------------------------------------------------------------------


def clean_words(words: Sequence[Word], offset: float, length: float, floor: float = 0.0) -> list[Word]:
    """``words`` (times from a window's start) on the video's clock: ``offset`` added, every time
    inside ``[max(offset, floor), offset + length]``, starts non-decreasing, ``end >= start``; a
    missing time takes its neighbour's; words with no text are dropped."""
    lo, hi = offset, offset + max(0.0, length)
    out: list[Word] = []
    prev = min(max(lo, floor), hi)
    kept = [w for w in words if w.word.strip()]
    for i, w in enumerate(kept):
        start = lo + w.start if math.isfinite(w.start) else prev
        nxt = kept[i + 1].start if i + 1 < len(kept) else float("nan")
        end = lo + (w.end if math.isfinite(w.end) else nxt) if math.isfinite(w.end) or math.isfinite(nxt) else start
        start = min(max(start, prev), hi)
        end = min(max(end, start), hi)
        prob = w.probability if w.probability is None or math.isfinite(w.probability) else None
        out.append(Word(w.word, round(start, 3), round(end, 3), prob))
        prev = start
    return out


def group_words(words: Sequence[Word], pause_s: float = 1.0, max_segment_s: float = 30.0) -> list[list[Word]]:
    """Split time-ordered ``words`` into segments: a new one after a word ending a sentence, at a
    gap of ``pause_s`` or more, or where the segment would last longer than ``max_segment_s``."""
    groups: list[list[Word]] = []
    cur: list[Word] = []
    for w in words:
        if cur and (
            cur[-1].word.strip().endswith(_SENTENCE_END)
            or w.start - cur[-1].end >= pause_s
            or w.end - cur[0].start > max_segment_s
        ):
            groups.append(cur)
            cur = []
        cur.append(w)
    if cur:
        groups.append(cur)
    return groups


def segment_record(index: int, words: Sequence[Word]) -> dict[str, Any]:
    """One Whisper-layout segment of ``words`` (text: the words as Whisper spells them, joined)."""
    return {
        "id": index,
        "start": words[0].start,
        "end": max(w.end for w in words),
        "text": "".join(w.word if w.word[:1].isspace() else " " + w.word for w in words),
        "words": [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability} for w in words],
    }


# ------------------------------------------------------------------------------------------------
# one video
# ------------------------------------------------------------------------------------------------


def transcribe_file(
    path: str | os.PathLike[str], recognizer: Recognizer, cfg: TranscribeConfig | None = None
) -> dict[str, Any]:
    """The Whisper-layout transcript (a dict, see the module docstring) of one video's speech.

    Extra key ``videobert``: ``{"version", "backend", "model", "duration" (s of audio),
    "speech_windows", "silent_windows", "seconds" (wall time)}``.

    Raises:
        AudioDecodeError: no audio stream, undecodable audio, or nothing louder than ``silence_db``.
    """
    cfg = cfg or TranscribeConfig()
    t0 = time.perf_counter()
    language = cfg.language
    words: list[Word] = []
    groups: list[list[Word]] = []
    duration = 0.0
    n_speech = n_silent = 0
    peak_db = -math.inf
    for offset, samples in iter_audio_windows(path, cfg.window_s):
        length = len(samples) / SAMPLE_RATE
        duration = offset + length
        level = loudness_db(samples)
        peak_db = max(peak_db, level)
        if level < cfg.silence_db:
            n_silent += 1
            continue
        n_speech += 1
        found, heard = recognizer.transcribe(np.ascontiguousarray(samples, dtype=np.float32), language)
        language = language or heard
        for group in found:
            cleaned = clean_words(group, offset, length, floor=words[-1].start if words else 0.0)
            words.extend(cleaned)
            groups.extend(group_words(cleaned, cfg.pause_s, cfg.max_segment_s))
    if n_speech == 0:
        level = "digital silence" if peak_db == -math.inf else f"loudest window {peak_db:.1f} dB"
        raise AudioDecodeError(path, f"silent audio ({level} < silence_db={cfg.silence_db:g} dB over {duration:.1f} s)")
    segments = [segment_record(i, g) for i, g in enumerate(groups)]
    return {
        "text": "".join(s["text"] for s in segments),
        "language": language,
        "segments": segments,
        MARK: {
            "version": __version__,
            "backend": getattr(recognizer, "name", type(recognizer).__name__),
            "model": cfg.model,
            "duration": round(duration, 3),
            "speech_windows": n_speech,
            "silent_windows": n_silent,
            "seconds": round(time.perf_counter() - t0, 3),
        },
    }


# ------------------------------------------------------------------------------------------------
# many videos
# ------------------------------------------------------------------------------------------------


def beside_file(video: str | os.PathLike[str]) -> Path:
    """``<video less its extension>.json``: where ``beside`` writes a video's transcript."""
    return Path(video).with_suffix(".json")


def written_by_videobert(path: Path) -> bool:
    """Whether the JSON file ``path`` is a transcript this module wrote (an unreadable one is not)."""
    try:
        data = read_json(path)
    except (OSError, InputFileError):
        return False
    return isinstance(data, dict) and isinstance(data.get(MARK), dict)


def transcribe(
    videos: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    work: str | os.PathLike[str] | None = None,
    beside: bool = False,
    recognizer: Recognizer | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Transcribe every video of a folder (recursive) or a list of files; resumable.

    Args:
        videos: a folder (searched recursively, ids per ``ids``) or video files (ids: stems).
        work: the work directory: outputs go to ``WORK/transcripts/<id>.json`` and records to its
            manifest; may be None with ``beside``.
        beside: write ``<video>.json`` beside each video instead.
        recognizer: a ready backend (default: :func:`load_recognizer` of the settings, built only
            when some video is still to do).
        settings: :class:`TranscribeConfig` fields.

    Returns:
        ``{"n_videos", "done", "already_done", "skipped": {id: reason}, "audio_seconds",
        "seconds" (recognition), "realtime_factor" (audio s per wall s), "load_seconds" (the model's
        loading, when it was loaded)}``.

    Raises:
        VideoBertError: neither ``work`` nor ``beside``; no video to transcribe; none could be used.
    """
    from videobert.features.extract import collect_videos

    cfg = TranscribeConfig(**settings)
    if work is None and not beside:
        raise VideoBertError("transcribe: give a work directory (--work WORK) or --beside")
    wd = WorkDir.of(work) if work is not None else None
    if wd is not None and wd.root.exists():
        wd.require()
    found = collect_videos(videos, cfg.ids)
    if not found:
        raise VideoBertError(f"transcribe: no video files in {videos}")

    def target(vid: str, path: Path) -> Path:
        return beside_file(path) if beside else wd.transcript_file(vid)  # type: ignore[union-attr]

    summary: dict[str, Any] = {"n_videos": len(found), "done": 0, "already_done": 0, "skipped": {},
                               "audio_seconds": 0.0, "seconds": 0.0, "realtime_factor": 0.0}  # fmt: skip

    def record(vid: str, path: Path, status: str, error: str | None = None, **extra: Any) -> None:
        if status == "skipped":
            summary["skipped"][vid] = error
            log.warning("skipped %s (%s): %s", vid, path, error)
        if wd is not None:
            wd.manifest.append({"stage": STAGE, "video_id": vid, "path": str(path), "status": status,
                                "error": error, **extra})  # fmt: skip

    todo: list[tuple[str, Path]] = []
    for vid, path in found.items():
        out = target(vid, path)
        if out.exists():
            if not beside or written_by_videobert(out):
                summary["already_done"] += 1
            else:
                record(vid, path, "skipped", f"{out} exists and was not written by videobert transcribe; "
                       "not overwritten (move it away to transcribe this video)")  # fmt: skip
            continue
        todo.append((vid, path))
    log.info("transcribe: %d videos, %d already done, %d to do", len(found), summary["already_done"], len(todo))
    if todo and recognizer is None:
        t_load = time.perf_counter()
        recognizer = load_recognizer(cfg.model, cfg.backend, cfg.device, cfg.dtype, cfg.batch_size,
                                     cfg.chunk_length_s, cfg.beam_size)  # fmt: skip
        summary["load_seconds"] = round(time.perf_counter() - t_load, 3)
    t0 = time.perf_counter()  # recognition time, the model's loading apart
    bar = tqdm(todo, unit="video", desc="transcribe", disable=not cfg.progress)
    try:
        for vid, path in bar:
            try:
                result = transcribe_file(path, recognizer, cfg)  # type: ignore[arg-type]
            except AudioDecodeError as exc:
                record(vid, path, "skipped", exc.reason)
                continue
            out = target(vid, path)
            atomic_write_json(out, result)
            meta = result[MARK]
            summary["done"] += 1
            summary["audio_seconds"] += meta["duration"]
            record(vid, path, "ok", None, out=str(out), language=result["language"], duration=meta["duration"],
                   n_segments=len(result["segments"]), n_words=sum(len(s["words"]) for s in result["segments"]),
                   seconds=meta["seconds"])  # fmt: skip
            bar.set_postfix(realtime=f"{summary['audio_seconds'] / max(time.perf_counter() - t0, 1e-9):.1f}x")
    finally:
        bar.close()
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    summary["realtime_factor"] = round(summary["audio_seconds"] / max(summary["seconds"], 1e-9), 2)
    log.info("transcribe: %d done, %d already done, %d skipped (%.0f s of audio in %.1f s, %.1fx real time)",
             summary["done"], summary["already_done"], len(summary["skipped"]), summary["audio_seconds"],
             summary["seconds"], summary["realtime_factor"])  # fmt: skip
    if todo and summary["done"] == 0 and summary["already_done"] == 0:
        first = "; ".join(f"{v}: {r}" for v, r in list(summary["skipped"].items())[:3])
        raise VideoBertError(f"transcribe: none of the {len(todo)} video(s) could be used ({first})")
    return summary


__all__ = [
    "STAGE",
    "TranscribeConfig",
    "beside_file",
    "clean_words",
    "group_words",
    "segment_record",
    "transcribe",
    "transcribe_file",
    "written_by_videobert",
]
