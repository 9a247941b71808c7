"""``videobert transcribe VIDEOS... (--work WORK | --beside)``: Whisper transcripts for videos.

For videos that come without transcripts (YouCook2 ships none): decodes each video's sound track
(PyAV, 16 kHz mono, in windows), recognises it with Whisper (``model=`` a local folder or a hub
name; ``backend=faster-whisper`` for CTranslate2 models) and writes the Whisper JSON layout
(segments with per-word times) to WORK/transcripts/<video_id>.json, or beside each video as
<stem>.json with ``--beside`` (an existing .json there that videobert did not write is left
alone). Finished videos are skipped on re-run; a video with no, undecodable or silent audio is
recorded in the manifest (stage ``transcribe``) and the others go on.
"""

from __future__ import annotations

import argparse
import json
import logging

from videobert.asr.transcribe import TranscribeConfig
from videobert.commands.dialect import Command, add_command
from videobert.config import kwargs_of

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="+", metavar="VIDEOS", help="a folder of videos (recursive) or video files")
    p.add_argument("--work", default=None, metavar="WORK", help="work directory (WORK/transcripts/, its manifest)")
    p.add_argument("--beside", action="store_true", help="write <stem>.json beside each video instead")


def _run(args: argparse.Namespace, cfg: TranscribeConfig) -> int:
    from videobert.asr.transcribe import transcribe

    videos = args.videos if len(args.videos) > 1 else args.videos[0]
    summary = transcribe(videos, args.work, beside=args.beside, **kwargs_of(cfg))
    log.info("summary: %s", json.dumps(summary, sort_keys=True))
    return 0


FLAGS = ("model", "backend", "language", "device", "dtype", "batch_size", "window_s", "ids", "progress")
HELP = "speech recognition (Whisper) for videos without transcripts -> Whisper-layout JSON"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``transcribe`` sub-command."""
    add_command(subparsers, Command("transcribe", HELP, _run, TranscribeConfig, __doc__, _arguments, FLAGS))
