"""Transcripts as tools and datasets ship them -> timed segments (and, where known, timed words).

Supported inputs:

* ``.vtt`` (WebVTT): ``WEBVTT`` header with metadata lines (``Kind:``, ``Language:``), cue ids,
  ``HH:MM:SS.mmm`` or ``MM:SS.mmm`` timings with cue settings (``align:start position:0%``),
  ``NOTE`` / ``STYLE`` / ``REGION`` blocks. Only an empty line ends a cue: a line holding spaces
  is content (YouTube writes one-space lines inside cues). Inline ``<00:00:01.230>`` timestamps
  give each following word its start time.
* ``.srt`` from any tool: cue numbers missing or wrong, ``,`` or ``.`` before the milliseconds,
  trailing coordinates, ``<i>`` / ``<font>`` / ``{\an8}`` tags, multi-line cues; a blank line inside
  a cue's text keeps the text after it with that cue (a block without a timing line continues the
  cue before it, unless it looks like a cue whose timing line is broken: reported and skipped).
* Rolling captions (YouTube auto-captions, in ``.vtt`` or converted to ``.srt``): detected from the
  content, when cues' first lines repeat the previous cue's last line (at least 2 such cues and
  half of the consecutive pairs, or 1 when the file has inline word timestamps). Each cue then
  contributes only the words not shown by the cue before it (the longest overlap of its words'
  start with the previous cue's words' end is removed), so every spoken word comes out once, in
  order; the 10 ms transition cues add nothing. With inline timestamps the words are timed
  (a line's first word: the cue start) and the segment starts at its first new word.
* ``.json``: a list of ``{"start", "end", "text"}`` objects; Whisper output (openai-whisper,
  faster-whisper, WhisperX) ``{"text", "language", "segments": [{"start", "end", "text", "words":
  [{"word", "start", "end", "probability"}]}]}``, whose ``words`` (leading spaces stripped) become
  the segment's timed words and text (WhisperX words without times are interpolated within the
  segment between their timed neighbours); or one video's HowTo100M column layout
  ``{"start": [...], "end": [...], "text": [...]}``.
* HowTo100M's ``caption.json`` (one object for all videos, several GB): indexed once by
  :mod:`videobert.text.caption_index`; :func:`find_transcripts` returns a :class:`CaptionRef` per
  video, read by :func:`read_transcript` from that video's byte range only.

A segment's ``words``, when filled, are :class:`TimedWord` s whose texts joined by spaces are the
segment's text; a word ends where the next begins, the last at the segment's end.

Bytes are decoded as UTF-8 (a BOM is dropped), UTF-16 with a BOM, else cp1252, then latin-1 (which
never fails), with a warning. HTML-like tags (``<i>``, ``<c.colour>``, ``<font ...>``), ASS overrides
(``{\an8}``), entities (``&amp;``) and bracketed sound events (``[Music]``, ``[Applause]``: not
speech) are removed from caption text. A malformed entry (bad timing, end before start, missing
text) is skipped and reported as ``file:line: reason`` through ``logging`` and in
:attr:`Transcript.skipped`. A file that cannot be read at all raises
:class:`videobert.errors.TranscriptError`.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from videobert.errors import TranscriptError
from videobert.text.caption_index import CaptionRef, load_caption_index

log = logging.getLogger(__name__)

TRANSCRIPT_SUFFIXES: tuple[str, ...] = (".srt", ".vtt", ".json")

# 01:02:03,456 | 01:02:03.456 | 02:03.456 | 01:02:03 (hours optional, fraction optional)
_TIME = r"(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?"
_TIMING_RE = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+.*)?$")
_INLINE_TS_RE = re.compile(r"<((?:\d+:)?\d{1,2}:\d{2}(?:\.\d{1,3})?)>")  # <00:00:01.230>: a word's start
_TAG_RE = re.compile(r"<[^<>]*>")
_BREAK_TAG_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ASS_RE = re.compile(r"\{\\[^{}]*\}")  # {\an8}, {\i1}: ASS overrides some SRT tools keep
_SOUND_RE = re.compile(r"\[[^\[\]]*\]")  # [Music], [Applause]: sound events, not speech
_WORD_RE = re.compile(r"\S+")
_WS_RE = re.compile(r"\s+")
_CUE_NUMBER_RE = re.compile(r"^\s*\d+\s*$")
_TIMEISH_RE = re.compile(r"\d+:\d+")

TranscriptRef = Path | CaptionRef  # what find_transcripts gives per video and read_transcript reads


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
    """The segments of one file (or of one video of a ``caption.json``) in time order, and the
    entries that were skipped."""

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


def _clean_piece(text: str) -> str:
    """One stretch of caption text without timestamps: tags, ASS overrides and entities removed."""
    text = _BREAK_TAG_RE.sub(" ", text)
    text = _ASS_RE.sub("", _TAG_RE.sub("", text))
    return html.unescape(text)


def line_words(line: str, start: float | None = None) -> list[tuple[str, float | None]]:
    """The words of one caption line, each with its start time in seconds or ``None``.

    Inline ``<00:00:01.230>`` timestamps time the words that follow them (a word cut by a
    timestamp, as karaoke syllables are, keeps the time where it starts); when the line has any,
    its words before the first one get ``start`` (the cue start). Tags, ``{\an8}``, entities and
    ``[sound events]`` are removed.
    """
    parts = _INLINE_TS_RE.split(line)  # text, ts, text, ts, ...
    has_ts = len(parts) > 1
    text = ""
    bounds: list[tuple[int, float | None]] = [(0, start if has_ts else None)]
    for k, part in enumerate(parts):
        if k % 2:
            try:
                bounds.append((len(text), parse_timestamp(part)))
            except ValueError:
                continue
        else:
            text += _clean_piece(part)
    text = _SOUND_RE.sub(lambda m: " " * len(m.group(0)), text)
    out: list[tuple[str, float | None]] = []
    b = 0
    for m in _WORD_RE.finditer(text):
        while b + 1 < len(bounds) and bounds[b + 1][0] <= m.start():
            b += 1
        out.append((m.group(0), bounds[b][1]))
    return out


def clean_text(text: str) -> str:
    """Remove HTML-like tags, ASS overrides, entities and ``[sound events]``; collapse whitespace."""
    if not any(c in text for c in "<&{["):  # most ASR text: nothing to remove
        return " ".join(text.split())
    return " ".join(w for w, _ in line_words(text))


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


@dataclass
class _Cue:
    start: float
    end: float
    lines: list[str]  # raw text lines (tags kept)
    lineno: int  # 1-based line of the timing line


def _is_timing(line: str) -> bool:
    return "-->" in line


def _cue_blocks(lines: list[str], first: int, vtt: bool) -> list[tuple[int, list[str]]]:
    """``(1-based line of the block's first line, lines)`` of the blocks from ``first`` on: WebVTT
    ends a block only at an empty line (a line of spaces is content), SRT at a blank one."""
    blocks: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    cur_start = first
    for i in range(first, len(lines)):
        line = lines[i]
        brk = line == "" if vtt else not line.strip()
        if brk:
            if cur:
                blocks.append((cur_start + 1, cur))
            cur = []
            continue
        if not cur:
            cur_start = i
        cur.append(line)
    if cur:
        blocks.append((cur_start + 1, cur))
    return blocks


def _split_cues(text: str, path: Path | str, vtt: bool) -> tuple[list[_Cue], list[str]]:
    """The cues of an SRT/WebVTT text (timing lines parsed, text lines raw) and the skipped ones."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    if vtt:
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].lstrip("\ufeff").startswith("WEBVTT"):
            raise TranscriptError(path, "not a WebVTT file (no WEBVTT header)")
        i += 1
        while i < len(lines) and lines[i] != "" and not _is_timing(lines[i]):  # Kind:, Language:...
            i += 1
    cues: list[_Cue] = []
    skipped: list[str] = []
    current: _Cue | None = None  # the cue a text line belongs to (None: after a skipped one)
    for block_line, block in _cue_blocks(lines, i, vtt):
        timings = [k for k, line in enumerate(block) if _is_timing(line)]
        if not timings:
            if vtt and block[0].strip().startswith(("NOTE", "STYLE", "REGION")):
                continue
            broken = len(block) > 1 and _CUE_NUMBER_RE.match(block[0]) and _TIMEISH_RE.search(block[1])
            if broken or current is None and not cues and not skipped:
                skipped.append(f"{path}:{block_line}: no timing line in cue")
                current = None
            elif current is not None:
                current.lines.extend(block)  # a blank line inside a cue's text
            continue
        if vtt and block[0].strip().startswith(("NOTE", "STYLE", "REGION")) and timings[0] > 1:
            cut = timings[0] - 1  # a cue right after a NOTE, without the empty line between
            block, timings, block_line = block[cut:], [t - cut for t in timings], block_line + cut
        ends = [*timings[1:], len(block)]
        head = block[: timings[0]]
        if head and (timings[0] == 1 or _is_cue_id(block, timings[0], vtt)):
            head = head[:-1]  # the cue id / number
        if current is not None:
            current.lines.extend(head)
        for t, nxt in zip(timings, ends, strict=True):
            body = block[t + 1 : nxt]
            if nxt < len(block) and body and _is_cue_id(block, nxt, vtt):
                body = body[:-1]  # the next cue's number
            current = _timed_cue(block[t], body, f"{path}:{block_line + t}", block_line + t, skipped)
            if current is not None:
                cues.append(current)
    for cue in cues:  # checked last: text after a blank line right below the timing line is the cue's
        if not any(line.strip() for line in cue.lines):
            skipped.append(f"{path}:{cue.lineno}: empty cue text")
    return [c for c in cues if any(line.strip() for line in c.lines)], skipped


def _is_cue_id(block: list[str], timing: int, vtt: bool) -> bool:
    """Whether ``block[timing - 1]`` is the identifier of the cue timed at ``block[timing]``."""
    if timing == 0:
        return False
    if timing == 1:
        return True
    if vtt:
        return not block[timing - 2].strip()  # after a line of spaces
    return bool(_CUE_NUMBER_RE.match(block[timing - 1]))


def _timed_cue(timing: str, body: list[str], where: str, lineno: int, skipped: list[str]) -> _Cue | None:
    m = _TIMING_RE.match(timing)
    if not m:
        skipped.append(f"{where}: malformed timing {timing.strip()!r}")
        return None
    try:
        start, end = parse_timestamp(m.group(1)), parse_timestamp(m.group(2))
    except ValueError as exc:
        skipped.append(f"{where}: {exc}")
        return None
    if end < start:
        skipped.append(f"{where}: end {end:.3f} s before start {start:.3f} s")
        return None
    return _Cue(start, end, list(body), lineno)


def _cue_lines(cue: _Cue) -> list[list[tuple[str, float | None]]]:
    """Per non-empty line of ``cue``: its words with their inline start times."""
    out = [line_words(line, cue.start) for line in cue.lines]
    return [w for w in out if w]


def _is_rolling(lines: list[list[list[tuple[str, float | None]]]], timed: bool) -> bool:
    """Whether cues repeat the line before them (YouTube's rolling display): at least 2 cues (1
    with inline word times) and half of the consecutive pairs start with the previous cue's last line."""
    pairs = repeats = 0
    for prev, cur in zip(lines, lines[1:], strict=False):
        if prev and cur:
            pairs += 1
            repeats += [w for w, _ in cur[0]] == [w for w, _ in prev[-1]]
    return repeats >= (1 if timed else 2) and 2 * repeats >= pairs


def _overlap(prev: Sequence[str], cur: Sequence[str]) -> int:
    """The largest ``k`` with ``cur[:k] == prev[-k:]``."""
    for k in range(min(len(prev), len(cur)), 0, -1):
        if list(cur[:k]) == list(prev[-k:]):
            return k
    return 0


def _timed_words(words: list[tuple[str, float | None]], start: float, end: float) -> tuple[TimedWord, ...]:
    """Words with start times (``None``: the time before them, at first ``start``) -> TimedWords:
    starts kept non-decreasing inside ``[start, end]``; words sharing one start (several words
    after one timestamp) share the time up to the next start equally; each word ends where the
    next begins, the last at ``end``."""
    given: list[float] = []
    t = start
    for _, s in words:
        t = min(max(t, s if s is not None else t), end)
        given.append(t)
    starts = list(given)
    i = 0
    while i < len(given):
        j = i
        while j < len(given) and given[j] == given[i]:
            j += 1
        nxt = given[j] if j < len(given) else end
        starts[i:j] = [given[i] + (nxt - given[i]) * k / (j - i) for k in range(j - i)]
        i = j
    ends = [*starts[1:], end]
    return tuple(TimedWord(s, e, w) for (w, _), s, e in zip(words, starts, ends, strict=True))


def _cue_segments(cues: list[_Cue]) -> list[Segment]:
    """Cues -> segments; rolling captions de-duplicated (each word once), inline times kept."""
    lines = [_cue_lines(c) for c in cues]
    timed = any(t is not None for cl in lines for line in cl for _, t in line)
    rolling = _is_rolling(lines, timed)
    segments: list[Segment] = []
    prev: list[str] = []
    for cue, cl in zip(cues, lines, strict=True):
        words = [w for line in cl for w in line]
        if not words:
            continue  # only [sound events]
        if rolling:
            texts = [w for w, _ in words]
            new = words[_overlap(prev, texts) :]
            prev = texts
            words = new
            if not words:
                continue  # a transition cue: what it shows was said before
        has_times = any(t is not None for _, t in words)
        if has_times or (rolling and timed):
            tw = _timed_words(words, cue.start, cue.end)
            segments.append(Segment(tw[0].start, cue.end, " ".join(w.text for w in tw), tw))
        else:
            segments.append(Segment(cue.start, cue.end, " ".join(w for w, _ in words)))
    return segments


def _parse_cues(text: str, path: Path | str, vtt: bool) -> tuple[list[Segment], list[str]]:
    """SRT/WebVTT text -> (segments, skipped entries)."""
    cues, skipped = _split_cues(text, path, vtt)
    return _cue_segments(cues), skipped


def _number(value: object) -> float | None:
    """A finite number >= 0 (seconds), else None."""
    if isinstance(value, bool):
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out >= 0 else None


def whisper_words(raw: list[object], start: float, end: float) -> tuple[TimedWord, ...]:
    """Whisper's ``words`` of one segment spanning ``[start, end)`` s -> TimedWords.

    ``word`` texts are cleaned (Whisper's leading space dropped; a "word" holding spaces is split,
    its span shared equally). Words without a usable ``start``/``end`` (WhisperX leaves them off
    what it cannot align) share the time between their timed neighbours (the segment's start and
    end at its edges) equally. Starts are kept non-decreasing.
    """
    items: list[tuple[str, float | None, float | None]] = []
    for w in raw:
        if not isinstance(w, dict):
            continue
        text = w.get("word", w.get("text"))
        pieces = clean_text(text).split() if isinstance(text, str) else []
        if not pieces:
            continue
        s, e = _number(w.get("start")), _number(w.get("end"))
        if s is None or e is None or e < s:
            items.extend((p, None, None) for p in pieces)
            continue
        step = (e - s) / len(pieces)
        items.extend((p, s + k * step, s + (k + 1) * step) for k, p in enumerate(pieces))
    out: list[TimedWord] = []
    k = 0
    while k < len(items):
        if items[k][1] is not None:
            text, s, e = items[k]
            lo = out[-1].start if out else start
            s = max(float(s), lo)  # type: ignore[arg-type]
            out.append(TimedWord(s, max(float(e), s), text))  # type: ignore[arg-type]
            k += 1
            continue
        j = k
        while j < len(items) and items[j][1] is None:
            j += 1
        left = out[-1].end if out else start
        right = items[j][1] if j < len(items) else end
        right = max(float(right), left)  # type: ignore[arg-type]
        step = (right - left) / (j - k)
        out.extend(TimedWord(left + n * step, left + (n + 1) * step, items[k + n][0]) for n in range(j - k))
        k = j
    return tuple(out)


def segments_from_json(data: object, where: str) -> tuple[list[Segment], list[str]]:
    """Parsed JSON of one video's transcript -> (segments, skipped entries ``where:entry k: reason``).

    Raises:
        TranscriptError: ``data`` is none of the JSON layouts (``where`` names the source).
    """
    entries: list[tuple[str, object, object, object, object]] = []
    if isinstance(data, dict) and isinstance(data.get("segments"), list):  # Whisper-style output
        data = data["segments"]
    if isinstance(data, dict) and all(k in data for k in ("start", "end", "text")):
        starts, ends, texts = data["start"], data["end"], data["text"]
        if not all(isinstance(x, list) for x in (starts, ends, texts)):
            raise TranscriptError(where, "HowTo100M layout needs lists under start, end and text")
        if not len(starts) == len(ends) == len(texts):
            raise TranscriptError(
                where, f"start/end/text lengths differ ({len(starts)}, {len(ends)}, {len(texts)})"
            )
        entries = [
            (f"entry {k}", s, e, t, None) for k, (s, e, t) in enumerate(zip(starts, ends, texts, strict=True))
        ]
    elif isinstance(data, list):
        for k, item in enumerate(data):
            if not isinstance(item, dict):
                entries.append((f"entry {k}", None, None, None, None))
            else:
                entries.append((f"entry {k}", item.get("start"), item.get("end"), item.get("text"), item.get("words")))
    else:
        raise TranscriptError(
            where, "JSON transcript must be a list of {start, end, text}, Whisper's {segments: [...]} or {start: [], ...}"
        )
    segments: list[Segment] = []
    skipped: list[str] = []
    for entry, s, e, t, raw_words in entries:
        try:
            start, end = float(s), float(e)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            skipped.append(f"{where}:{entry}: bad start/end {s!r}, {e!r}")
            continue
        if not (math.isfinite(start) and math.isfinite(end)) or end < start or start < 0:  # NaN, inf, reversed
            skipped.append(f"{where}:{entry}: bad time span [{start}, {end})")
            continue
        words = whisper_words(raw_words, start, end) if isinstance(raw_words, list) else ()
        if words:
            segments.append(Segment(start, end, " ".join(w.text for w in words), words))
            continue
        text = clean_text(t) if isinstance(t, str) else ""
        if not text:
            skipped.append(f"{where}:{entry}: missing or empty text")
            continue
        segments.append(Segment(start, end, text))
    return segments, skipped


def _parse_json(text: str, path: Path | str) -> tuple[list[Segment], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(path, f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    return segments_from_json(data, str(path))


def _finish(path: Path, segments: list[Segment], skipped: list[str]) -> Transcript:
    for msg in skipped:
        log.warning("skipped transcript entry: %s", msg)
    segments.sort(key=lambda s: (s.start, s.end))
    return Transcript(path=path, segments=segments, skipped=skipped)


def read_transcript(source: str | os.PathLike[str] | CaptionRef) -> Transcript:
    """Read one transcript into segments sorted by start time: a ``.srt`` / ``.vtt`` / ``.json``
    file, or one video of a ``caption.json`` (a :class:`CaptionRef` from :func:`find_transcripts`:
    only that video's bytes are read, parsed as the same object in its own file would be).

    Raises :class:`TranscriptError` for an unreadable file or unknown suffix; skipped entries are
    logged (``file:line: reason``) and listed in the result.
    """
    if isinstance(source, CaptionRef):
        data = source.read_bytes()
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TranscriptError(str(source), f"not valid JSON (the caption file changed since it was indexed?): {exc}") from exc
        segments, skipped = segments_from_json(obj, str(source))
        return _finish(source.path, segments, skipped)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in TRANSCRIPT_SUFFIXES:
        raise TranscriptError(path, f"unknown transcript format {suffix!r} (expected .srt, .vtt or .json)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(path, f"cannot read: {exc}") from exc
    text = decode_bytes(raw, path)
    if suffix == ".json":
        segments, skipped = _parse_json(text, path)
    else:
        segments, skipped = _parse_cues(text, path, vtt=suffix == ".vtt")
    return _finish(path, segments, skipped)


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


def _rank(p: Path, lang: str | None) -> tuple[int, int, int, str]:
    """How much a candidate is preferred (smaller first): plain before tagged, then the suffix
    (.srt, .vtt, .json), then the shorter, then the name."""
    order = {s: k for k, s in enumerate(TRANSCRIPT_SUFFIXES)}
    return (lang is not None, order[p.suffix.lower()], len(p.name) if lang else 0, p.name if lang else "")


def _pick(video_id: str, pool: list[Path], tags: dict[Path, str | None]) -> Path:
    """The preferred of ``pool``; files of the same name in different folders (the same role) are
    reported, naming both, and the first in path order is used."""
    best = min(pool, key=lambda p: (_rank(p, tags[p]), str(p)))
    twins = sorted(str(p) for p in pool if p != best and p.name == best.name)
    if twins:
        log.warning("video %s: transcripts %s and %s have the same name; using %s",
                    video_id, best, ", ".join(twins), best)  # fmt: skip
    return best


def choose_transcript(video_id: str, candidates: dict[str, list[tuple[Path, str | None]]]) -> Path | None:
    """The transcript of ``video_id`` among ``candidates`` (file stem -> ``(path, language tag or
    None)``): ``id.srt`` / ``id.vtt`` / ``id.json`` first (in that order), then a language-tagged
    ``id.<lang>.<ext>`` as yt-dlp and Whisper tools name them: English, else the only language;
    several other languages are reported and none is used. Two files of the same name (in
    different folders) are reported, naming both, and the first in path order is used."""
    found = candidates.get(video_id, [])
    tags = {p: lang for p, lang in found}
    plain = [p for p, lang in found if lang is None]
    if plain:
        return _pick(video_id, plain, tags)
    tagged = [(p, lang) for p, lang in found if lang is not None]
    if not tagged:
        return None
    english = [p for p, lang in tagged if _language_of(lang) in ("en", "eng")]
    langs = sorted({lang for _, lang in tagged})
    if english or len(langs) == 1:
        return _pick(video_id, english or [p for p, _ in tagged], tags)
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


def find_transcripts(
    source: str | os.PathLike[str],
    video_ids: list[str] | None = None,
    index_file: str | os.PathLike[str] | None = None,
) -> dict[str, TranscriptRef]:
    """``video_id -> transcript`` for the videos of ``source``, each readable by :func:`read_transcript`.

    ``source``: a folder, searched recursively for ``.srt``/``.vtt``/``.json`` files whose stems are
    the ids, chosen per video by :func:`choose_transcript` (values: paths); or a HowTo100M
    ``caption.json`` holding every video (values: :class:`CaptionRef`), indexed once into
    ``index_file`` (reused while the caption file keeps its size and mtime; ``None``: indexed in
    memory only). ``video_ids``: the videos to find (default: every id found).

    Raises:
        TranscriptError: ``source`` is neither a folder nor a caption.json file.
    """
    root = Path(source)
    if root.is_file():
        if root.suffix.lower() != ".json":
            raise TranscriptError(root, "not a transcripts folder or a HowTo100M caption.json file")
        return load_caption_index(root, index_file).refs(video_ids)
    if not root.is_dir():
        raise TranscriptError(root, "transcripts folder not found (nor a caption.json file)")
    files = [p for p in sorted(root.rglob("*")) if p.suffix.lower() in TRANSCRIPT_SUFFIXES and p.is_file()]
    candidates = transcript_candidates(files, [video_id_for(p, root) for p in files])
    wanted = video_ids if video_ids is not None else sorted({video_id_for(p, root) for p in files})
    found = {vid: choose_transcript(vid, candidates) for vid in wanted}
    return {vid: p for vid, p in found.items() if p is not None}
