"""``videobert probe PATH...``: what the decoder sees in each video, and how many clips it gives.

Each PATH is a video file or a folder (searched recursively). Good videos are listed with id,
duration, fps, display size, rotation and clip count on the clip grid (``clips.*``); bad ones with
the reason (all through logging, on stderr). Exit status: 0 when every named file is good (bad
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
from videobert.video.clips import ClipSpec, clip_times
from videobert.video.decode import VideoInfo, list_videos, n_grid_frames, probe, video_id_for
from videobert.workdir import IdRule

log = logging.getLogger(__name__)


@dataclass
class ProbeConfig:
    """Settings of ``videobert probe``.

    Attributes:
        clips: the clip grid clip counts are given for.
        ids: how a file names its video (``stem`` or ``path``, as ``extract``).
    """

    clips: ClipSpec = field(default_factory=ClipSpec)
    ids: IdRule = "stem"


def _line(video_id: str, info: VideoInfo, spec: ClipSpec) -> str:
    """One report line for a good video."""
    n_clips = len(clip_times(n_grid_frames(info.duration, spec.fps), spec))
    return (
        f"{video_id}\t{info.duration:.2f} s\t{info.fps:.3f} fps\t{info.width}x{info.height}\t"
        f"rot {info.rotation}\t{info.codec}\t{n_clips} clips"
    )


def run_probe(args: argparse.Namespace, cfg: ProbeConfig) -> int:
    """Probe every named file and every video inside every named folder."""
    spec = cfg.clips
    status = 0
    n_ok = n_bad = 0
    for raw in args.paths:
        path = Path(raw)
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
            except VideoDecodeError as exc:
                n_bad += 1
                log.warning("%s\tSKIPPED\t%s\t(%s)", vid, exc.reason, f)
                if named:
                    status = 1
                continue
            n_ok += 1
            log.info("%s", _line(vid, info, spec))
    log.info("%d video(s) ok, %d skipped", n_ok, n_bad)
    return status


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files and/or folders")


HELP = "list videos with duration, fps, size, rotation and clip count; report bad files"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``probe`` sub-command."""
    add_command(subparsers, Command("probe", HELP, run_probe, ProbeConfig, __doc__, _arguments, CLIP_KEYS))
