"""``videobert extract VIDEOS... --work WORK``: clip features for every video.

Decodes videos on the clip grid and writes WORK/features/<backbone>/<video_id>.npy (float16,
n_clips x D) and .times.npy; finished videos are skipped on re-run; ``--shard i/n`` (or torchrun's
RANK / WORLD_SIZE) splits the videos between processes.
"""

from __future__ import annotations

import argparse
import json
import logging

from videobert.commands.dialect import CLIP_FLAGS, DEVICE_FLAG, Command, Flag, add_command
from videobert.features.extract import ExtractConfig

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "videos", nargs="+", metavar="VIDEOS", help="a folder of videos (recursive) or video files"
    )
    p.add_argument("--work", required=True, metavar="WORK", help="work directory")


def _run(args: argparse.Namespace, cfg: ExtractConfig) -> int:
    from videobert.features.extract import extract

    summary = extract(args.videos if len(args.videos) > 1 else args.videos[0], args.work, **cfg.kwargs())
    log.info("summary: %s", json.dumps(summary, sort_keys=True))
    return 0


def _description() -> str:
    from videobert.features.registry import available_backbones, get_spec

    return (
        (__doc__ or "")
        + "\nBackbones:\n"
        + "\n".join(f"  {n}: {get_spec(n).description}" for n in available_backbones())
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` sub-command."""
    from videobert.features.registry import available_backbones

    add_command(
        subparsers,
        Command(
            name="extract",
            help="clip features: one row per 1.5 s clip, resumable and sharded",
            run=_run,
            config_class=ExtractConfig,
            description=_description(),
            arguments=_arguments,
            flags=(
                Flag("--backbone", "backbone", "feature backbone", choices=available_backbones()),
                Flag(
                    "--weights",
                    "weights",
                    "a torchvision-format state_dict (.safetensors/.pth) or a weight enum member name",
                ),
                Flag("--random-weights", "random_weights", "random weights (tests only)", const=True),
                Flag("--batch-size", "batch_size", "clips per forward pass", int),
                Flag("--shard", "shard", "i/n: this process's share of the videos"),
                DEVICE_FLAG,
                Flag("--num-workers", "num_workers", "decoding threads (0: inline)", int),
                *CLIP_FLAGS,
                Flag("--input-size", "input_size", "override the network input size (pixels)", int),
                Flag("--no-progress", "progress", "no progress bar", const=False),
            ),
        ),
    )
