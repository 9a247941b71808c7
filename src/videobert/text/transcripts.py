"""Transcripts (SRT, WebVTT, JSON) -> timed segments.

Supported layouts:

* ``.srt``: numbered cues ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` followed by text lines.
* ``.vtt``: ``WEBVTT`` header, optional cue identifiers, ``HH:MM:SS.mmm --> ...`` or ``MM:SS.mmm``
  timings (cue settings after the end time are ignored), ``NOTE`` / ``STYLE`` / ``REGION`` blocks.
* ``.json``: a list of ``{"start", "end", "text"}`` objects (also under a ``"segments"`` key, as
  Whisper writes it), or HowTo100M's column layout ``{"start": [...], "end": [...], "text": [...]}``.

Bytes are decoded as UTF-8 (a BOM is dropped); a file that is not valid UTF-8 falls back to
cp1252, then latin-1 (which never fails), with a warning. HTML-like tags (``<i>``, ``<c.colour>``,
``<00:00:01.000>``) and entities (``&amp;``) are removed from caption text. A malformed entry (bad
timing, end before start, missing text) is skipped and reported as ``file:line: reason`` through
``logging`` and in :attr:`Transcript.skipped`. A file that cannot be read at all raises
:class:`videobert.errors.TranscriptError`.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from videobert.errors import TranscriptError

log = logging.getLogger(__name__)

TRANSCRIPT_SUFFIXES: tuple[str, ...] = (".srt", ".vtt", ".json")

_TAG_RE = re.compile(r"<[^<>]*>")
_WS_RE = re.compile(r"\s+")
# 01:02:03,456 | 01:02:03.456 | 02:03.456 | 01:02:03 (hours optional, fraction optional)
_TIME = r"(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?"
_TIMING_RE = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+.*)?$")


@dataclass(frozen=True)
class TimedWord:
    """One spoken word with its own time: ``[start, end)`` in seconds (from YouTube's inline
    ``<00:00:01.230><c>`` tags or Whisper's ``words``)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    """One timed caption: ``[start, end)`` in seconds and its cleaned text.

    ``words``: the caption's words with their own times when the file gives them (YouTube
    auto-captions, Whisper JSON), in order, their texts joined by spaces equal to ``text``;
    empty when only the cue's span is known (sentence splitting then interpolates).
    """

    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...] = ()


@dataclass
class Transcript:
    """The segments of one file in time order, and the entries that were skipped."""

    path: Path
    segments: list[Segment]
    skipped: list[str] = field(default_factory=list)  # "file:line: reason"


def parse_timestamp(value: str) -> float:
    """``"01:02:03,456"`` / ``"02:03.5"`` -> seconds (float). Raises ``ValueError`` if malformed."""
    value = value.strip().replace(",", ".")
    parts = value.split(":")
    if not 2 <= len(parts) <= 3:
        raise ValueError(f"bad timestamp {value!r}")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[0]) if len(parts) == 3 else 0
    if seconds >= 60 or minutes >= 60 or seconds < 0 or minutes < 0 or hours < 0:
        raise ValueError(f"bad timestamp {value!r}")
    return hours * 3600.0 + minutes * 60.0 + seconds


def clean_text(text: str) -> str:
    """Remove HTML-like tags and entities, collapse whitespace."""
    text = _TAG_RE.sub(" ", text)
    text = html.unescape(text)
    return _WS_RE.sub(" ", text).strip()


def decode_bytes(data: bytes, path: str | os.PathLike[str] = "<bytes>") -> str:
    """Decode transcript bytes: UTF-8 (BOM dropped), else cp1252, else latin-1 (with a warning)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for enc in ("cp1252", "latin-1"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        log.warning("%s: not valid UTF-8, decoded as %s", path, enc)
        return text
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _parse_cues(text: str, path: Path, vtt: bool) -> tuple[list[Segment], list[str]]:
    """Shared SRT/VTT cue parser: blocks separated by blank lines, each with one timing line."""
    segments: list[Segment] = []
    skipped: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    if vtt:
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].lstrip("\ufeff").startswith("WEBVTT"):
            raise TranscriptError(path, "not a WebVTT file (no WEBVTT header)")
        while i < len(lines) and lines[i].strip():  # header block
            i += 1
    n = len(lines)
    while i < n:
        while i < n and not lines[i].strip():
            i += 1
        if i >= n:
            break
        block_start = i
        block: list[str] = []
        while i < n and lines[i].strip():
            block.append(lines[i])
            i += 1
        head = block[0].strip()
        if vtt and (head.startswith(("NOTE", "STYLE", "REGION"))):
            continue
        timing_idx = next((k for k, line in enumerate(block[:2]) if "-->" in line), None)
        lineno = block_start + 1
        if timing_idx is None:
            skipped.append(f"{path}:{lineno}: no timing line in cue")
            continue
        lineno = block_start + timing_idx + 1
        m = _TIMING_RE.match(block[timing_idx])
        if not m:
            skipped.append(f"{path}:{lineno}: malformed timing {block[timing_idx].strip()!r}")
            continue
        try:
            start, end = parse_timestamp(m.group(1)), parse_timestamp(m.group(2))
        except ValueError as exc:
            skipped.append(f"{path}:{lineno}: {exc}")
            continue
        if end < start:
            skipped.append(f"{path}:{lineno}: end {end:.3f} s before start {start:.3f} s")
            continue
        body = clean_text(" ".join(block[timing_idx + 1 :]))
        if not body:
            skipped.append(f"{path}:{lineno}: empty cue text")
            continue
        segments.append(Segment(start, end, body))
    return segments, skipped


def _parse_json(text: str, path: Path) -> tuple[list[Segment], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(path, f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    entries: list[tuple[str, object, object, object]] = []
    if isinstance(data, dict) and isinstance(data.get("segments"), list):  # Whisper-style output
        data = data["segments"]
    if isinstance(data, dict) and all(k in data for k in ("start", "end", "text")):
        starts, ends, texts = data["start"], data["end"], data["text"]
        if not all(isinstance(x, list) for x in (starts, ends, texts)):
            raise TranscriptError(path, "HowTo100M layout needs lists under start, end and text")
        if not len(starts) == len(ends) == len(texts):
            raise TranscriptError(
                path, f"start/end/text lengths differ ({len(starts)}, {len(ends)}, {len(texts)})"
            )
        entries = [
            (f"entry {k}", s, e, t) for k, (s, e, t) in enumerate(zip(starts, ends, texts, strict=True))
        ]
    elif isinstance(data, list):
        for k, item in enumerate(data):
            if not isinstance(item, dict):
                entries.append((f"entry {k}", None, None, None))
            else:
                entries.append((f"entry {k}", item.get("start"), item.get("end"), item.get("text")))
    else:
        raise TranscriptError(
            path, "JSON transcript must be a list of {start, end, text} or {start: [], ...}"
        )
    segments: list[Segment] = []
    skipped: list[str] = []
    for where, s, e, t in entries:
        try:
            start, end = float(s), float(e)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            skipped.append(f"{path}:{where}: bad start/end {s!r}, {e!r}")
            continue
        if (
            not (math.isfinite(start) and math.isfinite(end)) or end < start or start < 0
        ):  # NaN, inf, reversed
            skipped.append(f"{path}:{where}: bad time span [{start}, {end})")
            continue
        if not isinstance(t, str) or not clean_text(t):
            skipped.append(f"{path}:{where}: missing or empty text")
            continue
        segments.append(Segment(start, end, clean_text(t)))
    return segments, skipped


def read_transcript(path: str | os.PathLike[str]) -> Transcript:
    """Read one ``.srt`` / ``.vtt`` / ``.json`` transcript into segments sorted by start time.

    Raises :class:`TranscriptError` for an unreadable file or unknown suffix; skipped entries are
    logged (``file:line: reason``) and listed in the result.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TRANSCRIPT_SUFFIXES:
        raise TranscriptError(path, f"unknown transcript format {suffix!r} (expected .srt, .vtt or .json)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(path, f"cannot read: {exc}") from exc
    text = decode_bytes(data, path)
    if suffix == ".json":
        segments, skipped = _parse_json(text, path)
    else:
        segments, skipped = _parse_cues(text, path, vtt=suffix == ".vtt")
    for msg in skipped:
        log.warning("skipped transcript entry: %s", msg)
    segments.sort(key=lambda s: (s.start, s.end))
    return Transcript(path=path, segments=segments, skipped=skipped)


def write_srt(path: str | os.PathLike[str], segments: list[Segment]) -> None:
    """Write segments as SRT (UTF-8), for tests and tools."""
    from videobert.utils.io import atomic_write_text

    def ts(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{k}\n{ts(s.start)} --> {ts(s.end)}\n{s.text}\n" for k, s in enumerate(segments, 1)]
    atomic_write_text(path, "\n".join(blocks))


def video_id_for(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """The video id a transcript file under ``root`` belongs to: its stem, as for videos
    (:func:`videobert.workdir.file_video_id`; a language tag is handled by ``transcript_candidates``)."""
    from videobert.workdir import file_video_id

    return file_video_id(path, root, "stem")


# "name.en.vtt", "name.en-US.srt", "name.pt-BR.json": a language tag before the format suffix
_LANG_RE = re.compile(r"^(?P<stem>.+)\.(?P<lang>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)$")


def _language_of(tag: str) -> str:
    return tag.split("-")[0].split("_")[0].lower()


def choose_transcript(video_id: str, candidates: dict[str, list[tuple[Path, str | None]]]) -> Path | None:
    """The transcript of ``video_id`` among ``candidates`` (file stem -> ``(path, language tag or
    None)``): ``id.srt`` / ``id.vtt`` / ``id.json`` first (in that order), then a language-tagged
    ``id.<lang>.<ext>`` as yt-dlp and Whisper tools name them: English, else the only language;
    several other languages are reported and none is used."""
    rank = {s: k for k, s in enumerate(TRANSCRIPT_SUFFIXES)}
    plain = [p for p, lang in candidates.get(video_id, []) if lang is None]
    if plain:
        return min(plain, key=lambda p: rank[p.suffix.lower()])
    tagged = [(p, lang) for p, lang in candidates.get(video_id, []) if lang is not None]
    if not tagged:
        return None
    english = [p for p, lang in tagged if _language_of(lang) in ("en", "eng")]
    langs = sorted({lang for _, lang in tagged})
    if english or len(langs) == 1:
        pool = english or [p for p, _ in tagged]
        return min(pool, key=lambda p: (rank[p.suffix.lower()], len(p.name), p.name))
    log.warning("video %s has transcripts in %s and none in English: none used (rename the one to use to %s.srt)",
                video_id, ", ".join(langs), video_id)  # fmt: skip
    return None


def transcript_candidates(paths: list[Path], ids: list[str]) -> dict[str, list[tuple[Path, str | None]]]:
    """``stem -> [(path, language tag or None)]`` of transcript files whose ids are ``ids``: the
    file's id itself (plain), or it less a language tag (``name.en`` -> ``name``, tag ``en``)."""
    out: dict[str, list[tuple[Path, str | None]]] = {}
    for p, base in zip(paths, ids, strict=True):
        out.setdefault(base, []).append((p, None))
        m = _LANG_RE.match(base)
        if m:
            out.setdefault(m.group("stem"), []).append((p, m.group("lang")))
    return out


def find_transcripts(root: str | os.PathLike[str], video_ids: list[str] | None = None) -> dict[str, Path]:
    """``video_id -> transcript path`` for the ``.srt``/``.vtt``/``.json`` files under ``root``
    (recursive), chosen per video by :func:`choose_transcript`; ``video_ids``: the videos to find
    (default: every plain file id).

    Raises:
        TranscriptError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise TranscriptError(root, "transcripts folder not found")
    files = [p for p in sorted(root.rglob("*")) if p.suffix.lower() in TRANSCRIPT_SUFFIXES and p.is_file()]
    candidates = transcript_candidates(files, [video_id_for(p, root) for p in files])
    wanted = video_ids if video_ids is not None else sorted({video_id_for(p, root) for p in files})
    found = {vid: choose_transcript(vid, candidates) for vid in wanted}
    return {vid: p for vid, p in found.items() if p is not None}
