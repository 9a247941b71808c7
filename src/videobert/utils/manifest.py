"""``work/manifest.jsonl``: one JSON record per video and stage.

Records are appended (one line, one ``write`` call, flushed and fsynced), never rewritten, so
concurrent shards and killed jobs cannot corrupt earlier lines; a torn last line is ignored on read.
The latest record for a ``(stage, video_id)`` pair wins.

Record fields: ``stage`` (e.g. ``"extract/s3d"``), ``video_id``, ``path`` (source file),
``status`` (``"ok"`` or ``"skipped"``), ``error`` (text, for skipped), and stage-specific extras
such as ``duration`` (s), ``fps``, ``n_clips``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"


class Manifest:
    """Append-only JSONL manifest in a work directory."""

    def __init__(self, work: str | os.PathLike[str]) -> None:
        self.path = Path(work) / MANIFEST_NAME

    def append(self, record: dict[str, Any]) -> None:
        """Append one record atomically (single ``O_APPEND`` write)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
            os.fsync(fd)
        except OSError as exc:  # ENOSPC and the like come without the file's name
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
        finally:
            os.close(fd)

    def records(self, stage: str | None = None) -> list[dict[str, Any]]:
        """All well-formed records (optionally of one stage), in file order."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s:%d: ignoring a torn manifest line", self.path, lineno)
                    continue
                if not isinstance(rec, dict) or not isinstance(rec.get("video_id", ""), str):
                    log.warning("%s:%d: ignoring a manifest line that is not a record", self.path, lineno)
                    continue
                if stage is None or rec.get("stage") == stage:
                    out.append(rec)
        return out

    def latest_ids(self) -> list[str]:
        """Every video id any record names."""
        return sorted({str(rec["video_id"]) for rec in self.records() if rec.get("video_id") is not None})

    def latest(self, stage: str) -> dict[str, dict[str, Any]]:
        """``video_id -> latest record`` for one stage."""
        return {rec["video_id"]: rec for rec in self.records(stage)}
