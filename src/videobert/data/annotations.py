"""YouCook2-layout annotations and the visual words of what they annotate.

The file (``../shared/FORMATS.md``)::

    {"database": {video_id: {"subset": "training" | "validation" | "testing", "duration": s,
                             "recipe_type": str, "annotations": [{"segment": [s, e],
                             "sentence": str, "verb"?: str, "noun"?: str}, ...]}}}

:func:`load_annotations` is the one reader (tokenize's train/val split and every task use it);
:func:`load_videos` pairs a subset's videos with their visual words from ``WORK/tokens``, and
:func:`load_segments` their annotated segments with the clips
:func:`videobert.data.alignment.align_sentence` assigns to each span (the rule the corpus used).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videobert.data.alignment import align_sentence
from videobert.errors import InputFileError
from videobert.utils.io import read_json
from videobert.workdir import WorkDir, usable_video_id

log = logging.getLogger(__name__)

SUBSETS = ("training", "validation", "testing")
# what datasets and users call them
SUBSET_ALIASES = {
    "train": "training", "training": "training", "trn": "training",
    "val": "validation", "valid": "validation", "validation": "validation", "dev": "validation",
    "test": "testing", "testing": "testing", "tst": "testing",
}  # fmt: skip


def normalize_subset(name: str) -> str:
    """``training`` / ``validation`` / ``testing`` for a subset name or a common alias (``train``,
    ``val``, ``dev``, ``test``... in any case); other names are kept as given."""
    return SUBSET_ALIASES.get(str(name).strip().lower(), str(name))

Database = dict[str, dict[str, Any]]


def load_annotations(path: str | os.PathLike[str]) -> Database:
    """Read a YouCook2-layout annotation file and return its ``database`` mapping.

    Raises:
        InputFileError: not JSON, or no ``database`` mapping of videos with ``annotations`` lists.
    """
    try:
        data = read_json(path)
    except OSError as exc:
        raise InputFileError(path, f"cannot read annotations: {exc.strerror or exc}") from exc
    db = data.get("database") if isinstance(data, dict) else None
    if not isinstance(db, dict):
        raise InputFileError(path, 'expected YouCook2 layout {"database": {video_id: {...}}}')
    for vid, entry in db.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations", []), list):
            raise InputFileError(path, f"video {vid!r}: entry must be a mapping with an 'annotations' list")
        if entry.get("subset") is not None:
            entry["subset"] = normalize_subset(entry["subset"])
    return db


def subsets(db: Database) -> dict[str, str]:
    """``video_id -> subset`` (normalised, see :func:`normalize_subset`) for the videos whose entry names one."""
    return {str(k): str(v["subset"]) for k, v in db.items() if v.get("subset")}


def coverage(db: Database, available: set[str] | list[str], what: str = "visual words", limit: int = 5) -> dict[str, Any]:
    """How many annotated videos are ``available`` (a user's download holds part of YouCook2), per subset.

    Returns:
        ``{"annotated", "found", "missing", "first_missing": [up to limit ids], "what",
        "by_subset": {subset: {"annotated", "found"}}, "unannotated": available ids the file does
        not name}``.
    """
    have = set(available)
    by: dict[str, dict[str, int]] = {}
    missing = []
    for vid in sorted(db):
        sub = normalize_subset(db[vid].get("subset") or "none")
        row = by.setdefault(sub, {"annotated": 0, "found": 0})
        row["annotated"] += 1
        if vid in have:
            row["found"] += 1
        else:
            missing.append(vid)
    return {
        "what": what,
        "annotated": len(db),
        "found": len(db) - len(missing),
        "missing": len(missing),
        "first_missing": missing[:limit],
        "by_subset": by,
        "unannotated": len(have - set(db)),
    }


def coverage_line(cov: dict[str, Any], source: object) -> str:
    """One log line: ``annotations.json: 812 of 1,333 annotated videos have visual words (training
    570/1,000, validation 242/333); missing e.g. a, b, c``."""
    subs = ", ".join(f"{k} {v['found']:,}/{v['annotated']:,}" for k, v in sorted(cov["by_subset"].items()))
    line = f"{source}: {cov['found']:,} of {cov['annotated']:,} annotated videos have {cov['what']} ({subs})"
    if cov["missing"]:
        line += f"; missing, first: {', '.join(cov['first_missing'])}"
    if cov["unannotated"]:
        line += f"; {cov['unannotated']:,} other video(s) are not in the file"
    return line


@dataclass
class Video:
    """One annotated video with its visual words.

    Attributes:
        video_id: the annotation key (= the video's id in WORK).
        entry: its annotation entry (subset, recipe_type, annotations, ...).
        words: int32 (n_clips,) vocab-local visual words. times: float64 (n_clips, 2) clip [start, end) s.
    """

    video_id: str
    entry: dict[str, Any]
    words: np.ndarray
    times: np.ndarray

    @property
    def duration(self) -> float:
        """The video's length in seconds: the annotation's ``duration``, else its last clip's end."""
        d = self.entry.get("duration")
        if isinstance(d, int | float) and math.isfinite(d) and d > 0:
            return float(d)
        return float(self.times[-1, 1]) if len(self.times) else 0.0

    @property
    def steps(self) -> list[tuple[float, float]]:
        """The usable annotated segments' ``(start, end)`` in seconds (see :func:`segment_span`)."""
        spans = [segment_span(a, self.duration) for a in self.entry.get("annotations", [])]
        return [s for s in spans if isinstance(s, tuple)]


def segment_span(ann: Any, duration: float) -> tuple[float, float] | str:
    """``(start, end)`` seconds of one annotated segment, or why it cannot be used: no ``segment``
    pair of numbers, not finite, negative, reversed or empty, or wholly after the video's end."""
    seg = ann.get("segment") if isinstance(ann, dict) else None
    if not isinstance(seg, list | tuple) or len(seg) != 2:
        return "no [start, end] 'segment'"
    try:
        start, end = float(seg[0]), float(seg[1])
    except (TypeError, ValueError):
        return f"segment {seg!r} is not two numbers"
    if not (math.isfinite(start) and math.isfinite(end)):
        return f"segment {seg!r} is not finite"
    if start < 0 or end <= start:
        return f"segment [{start:g}, {end:g}] is negative, reversed or empty"
    if duration > 0 and start >= duration:
        return f"segment [{start:g}, {end:g}] starts after the video's end ({duration:g} s)"
    return start, min(end, duration) if duration > 0 else end


@dataclass
class Segment:
    """One annotated segment with the visual words (vocab-local ids, int32 (k,)) of its clips."""

    video_id: str
    index: int
    start: float
    end: float
    sentence: str
    visual_words: np.ndarray
    verb: str | None = None
    noun: str | None = None
    recipe_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_videos(db: Database, work: WorkDir | str | os.PathLike[str], subset: str | None) -> list[Video]:
    """The videos of ``subset`` (all if None; aliases such as ``val`` accepted) that have visual
    words in WORK, sorted by id."""
    work = WorkDir.of(work)
    subset = None if subset is None else normalize_subset(subset)
    out = []
    for vid in sorted(db):
        entry = db[vid]
        if subset is not None and normalize_subset(entry.get("subset") or "") != subset:
            continue
        if not usable_video_id(vid, "annotations"):
            continue
        tok = work.load_tokens(vid)
        if tok is not None:
            out.append(Video(vid, entry, tok[0], tok[1]))
    return out


def video_segments(video: Video) -> tuple[list[Segment], int]:
    """The annotated segments of one video with their clips' words, and how many covered no clip."""
    segs: list[Segment] = []
    empty = 0
    recipe = video.entry.get("recipe_type")
    for i, ann in enumerate(video.entry.get("annotations", [])):
        span = segment_span(ann, video.duration)
        if isinstance(span, str):
            log.warning("annotations: video %s, segment %d: %s; skipped", video.video_id, i, span)
            empty += 1
            continue
        start, end = span
        if len(video.times) == 0:
            empty += 1
            continue
        first, last = align_sentence(start, end, video.times)
        segs.append(
            Segment(
                video_id=video.video_id,
                index=i,
                start=start,
                end=end,
                sentence=str(ann.get("sentence", "")),
                visual_words=video.words[first:last],
                verb=ann.get("verb"),
                noun=ann.get("noun"),
                recipe_type=None if recipe is None else str(recipe),
            )
        )
    return segs, empty


def segments_of(videos: list[Video]) -> list[Segment]:
    """Every annotated segment of ``videos``, in video then annotation order."""
    out: list[Segment] = []
    empty = 0
    for v in videos:
        segs, e = video_segments(v)
        out += segs
        empty += e
    if empty:
        log.warning("%d annotated segment(s) left out (unusable spans or videos without clips)", empty)
    return out


def load_segments(db: Database, work: WorkDir | str | os.PathLike[str], subset: str | None = "validation") -> list[Segment]:
    """Annotated segments of ``subset`` with their clips' visual words."""
    return segments_of(load_videos(db, work, subset))


__all__ = [
    "SUBSETS",
    "Database",
    "Segment",
    "Video",
    "load_annotations",
    "load_segments",
    "load_videos",
    "normalize_subset",
    "segment_span",
    "segments_of",
    "subsets",
    "video_segments",
]
