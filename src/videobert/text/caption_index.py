"""HowTo100M's ``caption.json``: one JSON object for all videos, indexed once, read one video at a time.

``caption.json`` is ``{"<video_id>": {"start": [...], "end": [...], "text": [...]}, ...}`` and
several GB. :func:`scan_caption_json` reads it in chunks (``chunk_size`` bytes at a time) and
records each video's byte range ``(offset, length)`` of its value; only the buffer and one video's
value are held at a time (each value is parsed by the C JSON decoder to find its end and check its
layout, then dropped). :func:`load_caption_index` saves that index as JSON (written atomically) and
reuses it while the caption file keeps its size and mtime; a :class:`CaptionRef` then reads a
video's captions by seeking to its range and parsing only those bytes.

The scan decodes bytes as latin-1 (one character per byte, so character positions are byte
offsets; UTF-8 multi-byte sequences never hold an ASCII byte, so JSON structure is found exactly).
An entry that is not the column layout (an object with lists under ``start``, ``end`` and
``text`` of equal lengths) is recorded as bad and skipped with a warning naming the file and the
id when it is asked for; JSON that is malformed as a whole raises
:class:`videobert.errors.TranscriptError` naming the file and the byte offset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tqdm import tqdm

from videobert.errors import TranscriptError
from videobert.utils.io import atomic_write_json
from videobert.workdir import usable_video_id

log = logging.getLogger(__name__)

INDEX_VERSION = 1
CHUNK_SIZE = 1 << 18  # bytes read at a time (256 KiB)
MAX_ENTRY_BYTES = 1 << 28  # one video's captions larger than this: the file is taken as damaged

_WS_RE = re.compile(r"[ \t\n\r]*")
_STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_NOT_A_CAPTION_FILE = {"start", "end", "text", "segments", "language"}  # one video's transcript keys


@dataclass(frozen=True)
class CaptionRef:
    """One video's captions inside a ``caption.json``: ``length`` bytes at byte ``offset``.

    ``str(ref)`` is ``<caption.json>#<video_id>`` (in messages and the manifest).
    """

    path: Path
    video_id: str
    offset: int
    length: int

    def __str__(self) -> str:
        return f"{self.path}#{self.video_id}"

    def read_bytes(self) -> bytes:
        """This video's JSON value, as bytes (one seek and one read).

        Raises:
            TranscriptError: the caption file cannot be read or is shorter than the index says.
        """
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(self.length)
        except OSError as exc:
            raise TranscriptError(str(self), f"cannot read: {exc}") from exc
        if len(data) != self.length:
            raise TranscriptError(str(self), "caption file shorter than its index (changed since indexed?)")
        return data


@dataclass
class CaptionIndex:
    """Byte ranges of the videos of one ``caption.json``, and the entries found bad.

    Attributes:
        path: the caption file.
        entries: ``video_id -> (offset, length)`` in bytes.
        bad: ``video_id -> reason`` of the entries that are not the column layout.
        size, mtime_ns: the caption file's when indexed (the index is reused while both match).
    """

    path: Path
    entries: dict[str, tuple[int, int]]
    bad: dict[str, str] = field(default_factory=dict)
    size: int = 0
    mtime_ns: int = 0

    def refs(self, video_ids: list[str] | None = None) -> dict[str, CaptionRef]:
        """``video_id -> CaptionRef`` of ``video_ids`` found here (default: every usable id); a
        requested id whose entry is bad is reported (file, id, reason) and left out."""
        if video_ids is None:
            video_ids = sorted(v for v in self.entries if usable_video_id(v, self.path))
        out: dict[str, CaptionRef] = {}
        for vid in video_ids:
            if vid in self.entries:
                offset, length = self.entries[vid]
                out[vid] = CaptionRef(self.path, vid, offset, length)
            elif vid in self.bad:
                log.warning("%s: video %s: %s; skipped", self.path, vid, self.bad[vid])
        return out

    def to_json(self) -> dict:
        return {
            "version": INDEX_VERSION,
            "source": os.path.abspath(self.path),
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "entries": {k: list(v) for k, v in self.entries.items()},
            "bad": self.bad,
        }


def _entry_problem(value: object) -> str | None:
    """Why a caption.json value is not one video's column layout (None: it is)."""
    if not isinstance(value, dict):
        return f"value is a JSON {type(value).__name__}, not an object with start, end and text lists"
    missing = [k for k in ("start", "end", "text") if not isinstance(value.get(k), list)]
    if missing:
        return f"no list under {', '.join(missing)}"
    n = [len(value[k]) for k in ("start", "end", "text")]
    if len(set(n)) > 1:
        return f"start/end/text lengths differ ({n[0]}, {n[1]}, {n[2]})"
    return None


class _Scanner:
    """A moving window over the file's bytes as latin-1 text (``base``: the byte offset of ``buf[0]``)."""

    def __init__(self, fh: IO[bytes], path: Path, chunk_size: int, progress: tqdm) -> None:
        self.fh, self.path, self.chunk_size, self.progress = fh, path, chunk_size, progress
        self.buf, self.base, self.pos, self.eof = "", 0, 0, False
        self.decoder = json.JSONDecoder()

    def fail(self, reason: str, at: int | None = None) -> TranscriptError:
        return TranscriptError(self.path, f"{reason} at byte {self.base + self.pos if at is None else at}")

    def fill(self, size: int | None = None) -> bool:
        """Drop what lies before ``pos``, read ``size`` more bytes; False at the end of the file."""
        if self.eof:
            return False
        if self.pos:
            self.base += self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
        data = self.fh.read(size or self.chunk_size)
        if not data:
            self.eof = True
            return False
        self.progress.update(len(data))
        self.buf += data.decode("latin-1")
        return True

    def peek(self) -> str:
        """The next character that is not JSON whitespace ('' at the end of the file)."""
        while True:
            self.pos = _WS_RE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def string(self) -> str:
        """The JSON string at ``pos`` (decoded from UTF-8, escapes resolved)."""
        while True:
            m = _STRING_RE.match(self.buf, self.pos)
            if m:
                self.pos = m.end()
                try:
                    return json.loads(m.group(0).encode("latin-1").decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise self.fail(f"bad key string ({exc})", self.base + m.start()) from exc
            if not self.fill():
                raise self.fail("unterminated string")

    def value(self) -> tuple[object, int, int]:
        """``(value, byte offset, byte length)`` of the JSON value at ``pos``; reads on while it is cut."""
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.buf) - 64 or exc.msg.startswith("Unterminated string")
                if not cut or self.eof:
                    raise self.fail(f"invalid JSON ({exc.msg})", self.base + exc.pos) from exc
            else:
                if end < len(self.buf) or self.eof:  # a number cut at the window's end would parse
                    start = self.base + self.pos
                    self.pos = end
                    return obj, start, self.base + end - start
            if len(self.buf) - self.pos > MAX_ENTRY_BYTES:
                raise self.fail(f"an entry over {MAX_ENTRY_BYTES >> 20} MiB (damaged file?)")
            self.fill(max(self.chunk_size, len(self.buf) - self.pos))  # double the window


def scan_caption_json(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> CaptionIndex:
    """Index a ``caption.json`` in one streaming pass (``chunk_size`` bytes read at a time).

    Memory: the read window (about ``chunk_size``, more only while one video's value is larger)
    plus one video's parsed value, plus the index itself (ids and two integers each).

    Raises:
        TranscriptError: the file cannot be read, is not one JSON object, is malformed JSON, or is
            one video's transcript rather than a caption file of all videos.
    """
    path = Path(path)
    try:
        st = path.stat()
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TranscriptError(path, f"cannot read: {exc}") from exc
    entries: dict[str, tuple[int, int]] = {}
    bad: dict[str, str] = {}
    with fh, tqdm(total=st.st_size, unit="B", unit_scale=True, desc=f"index {path.name}", disable=None) as bar:
        sc = _Scanner(fh, path, chunk_size, bar)
        sc.fill()
        if sc.buf.startswith("\xef\xbb\xbf"):  # a UTF-8 BOM, seen through latin-1
            sc.pos = 3
        first = sc.peek()
        if first != "{":
            what = "empty" if not first else "a JSON list (one video's transcript?)" if first == "[" else "not a JSON object"
            raise sc.fail(f"not a HowTo100M caption.json ({what})")
        sc.pos += 1
        if sc.peek() == "}":
            sc.pos += 1
        else:
            while True:
                if sc.peek() != '"':
                    raise sc.fail("expected a video id (a JSON string)")
                vid = sc.string()
                if sc.peek() != ":":
                    raise sc.fail(f"expected ':' after video id {vid!r}")
                sc.pos += 1
                sc.peek()
                value, offset, length = sc.value()
                if vid in entries or vid in bad:
                    log.warning("%s: video %s appears twice; the later entry is used", path, vid)
                    entries.pop(vid, None)
                    bad.pop(vid, None)
                problem = _entry_problem(value)
                if problem is None:
                    entries[vid] = (offset, length)
                else:
                    bad[vid] = problem
                del value
                sep = sc.peek()
                sc.pos += 1
                if sep == "}":
                    break
                if sep != ",":
                    raise sc.fail("expected ',' or '}' after an entry" if sep else "file ends inside the object")
        if sc.peek():
            raise sc.fail("data after the JSON object")
    if not entries and bad and set(bad) <= _NOT_A_CAPTION_FILE:
        raise TranscriptError(path, "one video's transcript, not a caption.json of all videos (pass its folder)")
    if bad:
        log.warning("%s: %d of %d entries are not start/end/text lists of equal lengths (first: %s: %s)",
                    path, len(bad), len(bad) + len(entries), next(iter(bad)), next(iter(bad.values())))  # fmt: skip
    log.info("%s: indexed %d videos (%.1f MB)", path, len(entries), st.st_size / 1e6)
    return CaptionIndex(path, entries, bad, st.st_size, st.st_mtime_ns)


def _read_index(index_file: Path, path: Path, st: os.stat_result) -> CaptionIndex | None:
    """The saved index of ``path`` if ``index_file`` holds one for this file as it is now."""
    try:
        with open(index_file, encoding="utf-8") as fh:
            data = json.load(fh)
        if (
            data.get("version") != INDEX_VERSION
            or data.get("source") != os.path.abspath(path)
            or data.get("size") != st.st_size
            or data.get("mtime_ns") != st.st_mtime_ns
        ):
            return None
        entries = {str(k): (int(v[0]), int(v[1])) for k, v in data["entries"].items()}
        bad = {str(k): str(v) for k, v in data.get("bad", {}).items()}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.warning("%s: unreadable caption index (%s); indexing %s again", index_file, exc, path)
        return None
    return CaptionIndex(path, entries, bad, st.st_size, st.st_mtime_ns)


def load_caption_index(
    path: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None, chunk_size: int = CHUNK_SIZE
) -> CaptionIndex:
    """The index of ``caption.json`` ``path``: read from ``index_file`` when it was made from this
    file at its current size and mtime, else scanned (:func:`scan_caption_json`) and saved there
    atomically (``index_file=None``: not saved).

    Raises:
        TranscriptError: as :func:`scan_caption_json`.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise TranscriptError(path, f"cannot read: {exc}") from exc
    if index_file is not None:
        found = _read_index(Path(index_file), path, st)
        if found is not None:
            log.info("%s: using the index %s (%d videos)", path, index_file, len(found.entries))
            return found
    index = scan_caption_json(path, chunk_size)
    if index_file is not None:
        atomic_write_json(index_file, index.to_json(), indent=None)
    return index


def index_name(path: str | os.PathLike[str]) -> str:
    """A file name for the index of caption file ``path``: its stem and a hash of its absolute path."""
    digest = hashlib.sha1(os.path.abspath(path).encode("utf-8")).hexdigest()[:12]
    return f"{Path(path).stem}.{digest}.json"


__all__ = ["CaptionIndex", "CaptionRef", "index_name", "load_caption_index", "scan_caption_json"]
