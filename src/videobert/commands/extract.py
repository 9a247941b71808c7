"""``videobert extract VIDEOS... --work WORK``: clip features for every video.

Decodes videos on the clip grid and writes WORK/features/<backbone>/<video_id>.npy (float16,
n_clips x D) and clip_times/<video_id>.npy; finished videos are skipped on re-run; ``--shard i/n`` (or torchrun's
RANK / WORLD_SIZE) splits the videos between processes.
"""

from __future__ import annotations

import argparse
import json
import logging

from videobert.commands.dialect import CLIP_KEYS, Command, add_command, inputs_and_work_arguments
from videobert.config import kwargs_of
from videobert.features.extract import ExtractConfig

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    inputs_and_work_arguments(p, "videos", "VIDEOS", "a folder of videos (recursive) or video files")


def _run(args: argparse.Namespace, cfg: ExtractConfig) -> int:
    from videobert.features.extract import extract

    summary = extract(args.videos if len(args.videos) > 1 else args.videos[0], args.work, **kwargs_of(cfg))
    log.info("summary: %s", json.dumps(summary, sort_keys=True))
    return 0


def _description() -> str:
    from videobert.features.registry import available_backbones, get_spec

    return (
        (__doc__ or "")
        + "\nBackbones:\n"
        + "\n".join(f"  {n}: {get_spec(n).description}" for n in available_backbones())
    )


FLAGS = ("backbone", "weights", "random_weights", "batch_size", "shard", "device", "num_workers", "worker_type")
FLAGS += CLIP_KEYS
FLAGS += ("input_size", "ids", "progress")
HELP = "clip features: one row per 1.5 s clip, resumable and sharded"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` sub-command."""
    add_command(subparsers, Command("extract", HELP, _run, ExtractConfig, _description, _arguments, FLAGS))
