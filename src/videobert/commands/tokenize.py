"""``videobert tokenize WORK``: transcripts -> sentences -> WordPiece, aligned with visual words."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``tokenize`` sub-command."""
    p = subparsers.add_parser(
        "tokenize",
        help="align transcript sentences with visual words -> WORK/corpus/{train,val}.parquet",
        description=(
            "Read WORK/tokens/<video_id>.npy (+ .times.npy) and transcripts (<video_id>.srt/.vtt/.json), "
            "split transcripts into sentences, tokenize them with WordPiece and pair each with the visual "
            "words of the clips its time span covers. Videos without transcripts give video-only rows."
        ),
    )
    p.add_argument("work", help="work directory")
    p.add_argument(
        "--transcripts",
        default=None,
        help="folder searched recursively for <video_id>.{srt,vtt,json} (default: beside the source videos)",
    )
    p.add_argument("--annotations", default=None, help="YouCook2-layout JSON; its 'subset' decides train/val")
    p.add_argument(
        "--tokenizer", default=None, help="BERT checkpoint path or name (default: packaged MiniLM)"
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="fraction of videos for val (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-words", type=int, default=4, help="shortest sentence in words (default 4)")
    p.add_argument("--max-words", type=int, default=25, help="longest sentence in words (default 25)")
    p.add_argument("--pause", type=float, default=1.0, help="silence (s) that ends an unpunctuated sentence")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the corpus and log its statistics."""
    from videobert.data.corpus import build_corpus
    from videobert.text.sentences import SentenceConfig

    stats = build_corpus(
        args.work,
        transcripts_dir=args.transcripts,
        annotations=args.annotations,
        tokenizer=args.tokenizer,
        val_fraction=args.val_fraction,
        seed=args.seed,
        sentence_cfg=SentenceConfig(min_words=args.min_words, max_words=args.max_words, pause=args.pause),
    )
    for key in (
        "videos",
        "videos_with_transcript",
        "videos_with_text",
        "sentences",
        "mean_words",
        "pairs",
        "video_only_rows",
        "skipped_entries",
        "train_videos",
        "val_videos",
        "train_rows",
        "val_rows",
    ):
        value = stats[key]
        log.info("  %-24s %s", key, f"{value:.2f}" if isinstance(value, float) else value)
    if stats["skipped_videos"]:
        log.warning("  skipped videos: %d (see manifest.jsonl)", len(stats["skipped_videos"]))
    return 0
