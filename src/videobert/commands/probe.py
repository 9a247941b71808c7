"""``videobert probe PATH...``: what the decoder sees in each video, and how many clips it gives.

Each PATH is a video file or a folder (searched recursively). Good videos are listed with id,
duration, fps, display size, rotation and clip count on the clip grid (``clips.*``); bad ones with
the reason (all through logging, on stderr). ``decode=true`` decodes every frame to find damaged
files (truncated, undecodable packets) that still open. A work directory (it has a
``manifest.jsonl``) lists what extraction recorded: ok, damaged but used (with the warnings), skipped. Exit status: 0 when every named file is good (bad
files found inside folders are reported, not fatal), 1 when a file named directly is bad or a path
does not exist.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path

from videobert.commands.dialect import CLIP_KEYS, Command, add_command
from videobert.errors import InputFileError, VideoDecodeError
from videobert.utils.manifest import MANIFEST_NAME
from videobert.video.clips import ClipSpec, clip_times
from videobert.video.decode import (
    DecodeReport,
    VideoInfo,
    iter_frames,
    list_videos,
    n_grid_frames,
    probe,
    video_id_for,
)
from videobert.workdir import IdRule, WorkDir

log = logging.getLogger(__name__)


@dataclass
class ProbeConfig:
    """Settings of ``videobert probe``.

    Attributes:
        clips: the clip grid clip counts are given for.
        ids: how a file names its video (``stem`` or ``path``, as ``extract``).
        decode: decode every frame (at the grid's fps, small frames) to find truncated or damaged
            files, which the header alone does not show (slower: a full decode per video).
    """

    clips: ClipSpec = field(default_factory=ClipSpec)
    ids: IdRule = "stem"
    decode: bool = False


def _line(video_id: str, info: VideoInfo, spec: ClipSpec) -> str:
    """One report line for a good video."""
    n_clips = len(clip_times(n_grid_frames(info.duration, spec.fps), spec))
    return (
        f"{video_id}\t{info.duration:.2f} s\t{info.fps:.3f} fps\t{info.width}x{info.height}\t"
        f"rot {info.rotation}\t{info.codec}\t{n_clips} clips"
    )


def decode_warnings(path: Path, spec: ClipSpec) -> list[str]:
    """Decode the whole video on the clip grid (frames 32 px high) and return its warnings."""
    report = DecodeReport()
    for _ in iter_frames(path, fps=spec.fps, size=32, report=report):
        pass
    return report.warnings


def probe_work(work: WorkDir) -> int:
    """List what a work directory's extraction recorded: each video's status, clips and warnings."""
    n = {"ok": 0, "damaged": 0, "skipped": 0}
    for stage in sorted({r["stage"] for r in work.manifest.records() if str(r.get("stage", "")).startswith("extract/")}):
        log.info("%s:", stage)
        for vid, rec in sorted(work.manifest.latest(stage).items()):
            warnings = rec.get("warnings") or []
            if rec.get("status") != "ok":
                n["skipped"] += 1
                log.warning("%s\tSKIPPED\t%s\t(%s)", vid, rec.get("error"), rec.get("path"))
                continue
            n["damaged" if warnings else "ok"] += 1
            line = f"{vid}\t{rec.get('n_clips')} clips\t{float(rec.get('duration') or 0):.2f} s"
            if warnings:
                log.warning("%s\tDAMAGED\t%s\t(%s)", line, "; ".join(warnings), rec.get("path"))
            else:
                log.info("%s", line)
    log.info("%d video(s) ok, %d damaged but used, %d skipped", n["ok"], n["damaged"], n["skipped"])
    return 0


def run_probe(args: argparse.Namespace, cfg: ProbeConfig) -> int:
    """Probe every named file and every video inside every named folder (a WORK directory: list
    what its extraction recorded)."""
    spec = cfg.clips
    status = 0
    n_ok = n_bad = n_damaged = n_work = 0
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir() and (path / MANIFEST_NAME).is_file():
            probe_work(WorkDir(path))
            n_work += 1
            continue
        if path.is_dir():
            try:
                files = list_videos(path)
            except InputFileError as exc:
                log.error("%s", exc)
                status = 1
                continue
            if not files:
                log.warning("%s: no video files", path)
            pairs = [(f, video_id_for(f, path, cfg.ids)) for f in files]
            named = False
        else:
            pairs = [(path, path.stem)]
            named = True
        for f, vid in pairs:
            try:
                info = probe(f)
                warnings = decode_warnings(f, spec) if cfg.decode else []
            except VideoDecodeError as exc:
                n_bad += 1
                log.warning("%s\tSKIPPED\t%s\t(%s)", vid, exc.reason, f)
                if named:
                    status = 1
                continue
            if warnings:
                n_damaged += 1
                log.warning("%s\tDAMAGED\t%s", _line(vid, info, spec), "; ".join(warnings))
            else:
                n_ok += 1
                log.info("%s", _line(vid, info, spec))
    if n_work < len(args.paths):  # video files or folders were named: their summary
        damaged = f", {n_damaged} damaged (partly decodable)" if cfg.decode else " (decode=true checks every frame)"
        log.info("%d video(s) ok%s, %d skipped", n_ok, damaged, n_bad)
    return status


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files, folders and/or work directories")


HELP = "list videos with duration, fps, size, rotation and clip count; report bad files"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``probe`` sub-command."""
    add_command(subparsers, Command("probe", HELP, run_probe, ProbeConfig, __doc__, _arguments, (*CLIP_KEYS, "ids", "decode")))
