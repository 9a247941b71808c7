"""``videobert synth OUT``: generate the built-in narrated-video corpus.

Writes OUT/videos/<id>.mp4 + .srt narration, OUT/annotations.json (YouCook2 layout) and
OUT/taxonomy.json. Deterministic by seed; re-running with the same settings does nothing.
"""

from __future__ import annotations

import argparse

from videobert.commands.dialect import SEED_FLAG, Command, Flag, add_command
from videobert.datasets.synthetic import CODECS, SynthConfig


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", help="output folder")


def _run(args: argparse.Namespace, cfg: SynthConfig) -> int:
    from videobert.datasets.synthetic import synthesize

    synthesize(args.out, **cfg.kwargs())  # logs its own summary: videos, minutes of video, steps
    return 0


COMMAND = Command(
    name="synth",
    help="generate the built-in narrated 'recipe' video corpus",
    run=_run,
    config_class=SynthConfig,
    description=__doc__,
    arguments=_arguments,
    flags=(
        Flag("--videos", "n_videos", "number of videos", int),
        SEED_FLAG,
        Flag("--width", "width", "frame width in pixels, even", int),
        Flag("--height", "height", "frame height in pixels, even", int),
        Flag("--fps", "fps", "frames per second", float),
        Flag("--codec", "codec", "video codec", choices=sorted(CODECS)),
        Flag("--subset-split", "subset_split", "fraction of videos in 'training'", float),
        Flag(
            "--steps-per-video", "max_steps_per_video", "cap the recipe steps per video (short videos)", int
        ),
        Flag("--workers", "workers", "encoding processes", int),
        Flag("--force", "force", "regenerate over a corpus made with other settings", const=True),
    ),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command."""
    add_command(subparsers, COMMAND)
