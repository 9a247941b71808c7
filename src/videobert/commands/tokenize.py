"""``videobert tokenize WORK``: transcripts -> sentences -> WordPiece, aligned with visual words.

Reads WORK/tokens/<video_id>.npy (+ clip_times/) and transcripts (<video_id>.srt/.vtt/.json, or one
HowTo100M caption.json of all videos), splits transcripts into sentences, tokenizes them with
WordPiece and pairs each with the visual words of the clips its time span covers; videos without transcripts give video-only rows. The annotations'
``subset`` decides train/val where they name a video.
"""

from __future__ import annotations

import argparse
import logging

from videobert.commands.dialect import Command, add_command, annotations_argument, work_argument
from videobert.config import kwargs_of
from videobert.data.corpus import TokenizeConfig
from videobert.errors import StageMissingError

log = logging.getLogger(__name__)

STAT_KEYS = (
    "videos",
    "videos_with_transcript",
    "videos_with_text",
    "sentences",
    "mean_words",
    "pairs",
    "video_only_rows",
    "videos_without_transcript",
    "skipped_entries",
    "train_videos",
    "val_videos",
    "train_rows",
    "val_rows",
)


def _arguments(p: argparse.ArgumentParser) -> None:
    work_argument(p)
    p.add_argument(
        "--transcripts",
        default=None,
        metavar="DIR or caption.json",
        help="folder searched recursively for <video_id>.{srt,vtt,json}, or a HowTo100M caption.json of all "
        "videos (indexed once into WORK/caption_index/) (default: beside the source videos)",
    )
    annotations_argument(p, "YouCook2-layout JSON; its 'subset' decides train/val (default: WORK/annotations.json if any)")


def _run(args: argparse.Namespace, cfg: TokenizeConfig) -> int:
    from videobert.data.corpus import build_corpus
    from videobert.workdir import WorkDir

    work = WorkDir(args.work).require()
    annotations = args.annotations
    if annotations is None:  # the file the tasks will evaluate with decides the split too
        try:
            annotations = work.annotations()
            log.info("using %s for the train/validation split (its 'subset')", annotations)
        except StageMissingError:
            annotations = None
    stats = build_corpus(work.root, transcripts_dir=args.transcripts, annotations=annotations, **kwargs_of(cfg))
    for key in STAT_KEYS:
        value = stats[key]
        log.info("  %-24s %s", key, f"{value:.2f}" if isinstance(value, float) else value)
    if stats["skipped_videos"]:
        log.warning("  skipped videos: %d (see manifest.jsonl)", len(stats["skipped_videos"]))
    return 0


FLAGS = ("tokenizer", "val_fraction", "seed", "sentences.min_words", "sentences.max_words", "sentences.pause")
HELP = "align transcript sentences with visual words -> WORK/corpus/{train,val}.parquet"
COMMAND = Command("tokenize", HELP, _run, TokenizeConfig, __doc__, _arguments, FLAGS)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tokenize`` sub-command."""
    add_command(subparsers, COMMAND)
