"""``videobert synth OUT``: generate the built-in narrated-video corpus."""

from __future__ import annotations

import argparse

from videobert.datasets.synthetic import (
    CODECS,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_N_VIDEOS,
    DEFAULT_WIDTH,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command."""
    p = subparsers.add_parser(
        "synth",
        help="generate the built-in narrated 'recipe' video corpus",
        description="Write OUT/videos/<id>.mp4 + .srt narration, OUT/annotations.json (YouCook2 layout), "
        "OUT/taxonomy.json. Deterministic by --seed; re-running with the same parameters does nothing.",
    )
    p.add_argument("out", metavar="OUT", help="output folder")
    p.add_argument(
        "--videos",
        type=int,
        default=DEFAULT_N_VIDEOS,
        help="number of videos (default %(default)s, ~36 min of video)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--width", type=int, default=DEFAULT_WIDTH, help="frame width in pixels, even (default %(default)s)"
    )
    p.add_argument(
        "--height",
        type=int,
        default=DEFAULT_HEIGHT,
        help="frame height in pixels, even (default %(default)s)",
    )
    p.add_argument("--fps", type=float, default=DEFAULT_FPS, help="frames per second (default %(default)s)")
    p.add_argument("--codec", choices=sorted(CODECS), default="h264", help="video codec (default h264 .mp4)")
    p.add_argument(
        "--subset-split", type=float, default=0.8, help="fraction of videos in 'training' (default 0.8)"
    )
    p.add_argument(
        "--max-steps", type=int, default=None, help="cap the steps per video (short videos for tests)"
    )
    p.add_argument("--workers", type=int, default=1, help="encoding processes (default 1)")
    p.add_argument("--force", action="store_true", help="regenerate over a corpus made with other parameters")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the corpus and log a summary."""
    from videobert.datasets.synthetic import synthesize

    synthesize(  # logs its own summary: videos, minutes of video, steps, steps per verb
        args.out,
        n_videos=args.videos,
        seed=args.seed,
        width=args.width,
        height=args.height,
        fps=args.fps,
        codec=args.codec,
        subset_split=args.subset_split,
        max_steps=args.max_steps,
        force=args.force,
        workers=args.workers,
    )
    return 0
