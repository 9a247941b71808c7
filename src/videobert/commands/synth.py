"""``videobert synth OUT``: generate the built-in narrated-video corpus.

Writes OUT/videos/<id>.mp4 + .srt narration, OUT/annotations.json (YouCook2 layout) and
OUT/taxonomy.json. Deterministic by seed; re-running with the same settings does nothing.
"""

from __future__ import annotations

import argparse

from videobert.commands.dialect import Command, add_command
from videobert.config import kwargs_of
from videobert.datasets.synthetic import SynthConfig


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", help="output folder")


def _run(args: argparse.Namespace, cfg: SynthConfig) -> int:
    from videobert.datasets.synthetic import synthesize

    synthesize(args.out, **kwargs_of(cfg))  # logs its own summary: videos, minutes of video, steps
    return 0


FLAGS = ("n_videos:--videos", "seed", "width", "height", "fps", "codec", "subset_split")
FLAGS += ("max_steps_per_video:--steps-per-video", "workers", "force")
COMMAND = Command(
    "synth",
    "generate the built-in narrated 'recipe' video corpus",
    _run,
    SynthConfig,
    __doc__,
    _arguments,
    FLAGS,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command."""
    add_command(subparsers, COMMAND)
