"""``videobert pretrain WORK [--config FILE] [--preset NAME] [key=value ...]``.

Trains VideoBERT on ``WORK/corpus`` and writes ``WORK/checkpoints/step-N`` (resuming from the
newest one when present). Run under ``torchrun --nproc_per_node N -m videobert.cli pretrain ...``
for several processes (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _add_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    from videobert.train.config import PRESETS

    d = None if defaults else argparse.SUPPRESS
    p.add_argument("--config", default=d, help="YAML file with PretrainConfig fields")
    p.add_argument("--preset", default=d, choices=sorted(PRESETS), help="named starting configuration")
    p.add_argument("--max-steps", type=int, default=d, help="shortcut for max_steps=N")
    p.add_argument("--device", default=d, choices=["cpu", "cuda"], help="default: cuda when available")


def run(args: argparse.Namespace) -> int:
    """Load the config, pretrain, and log the final checkpoint."""
    from videobert.train.config import load_pretrain_config
    from videobert.train.pretrain import pretrain

    # options may also follow WORK, mixed with the overrides: parse what came after WORK again
    rest = argparse.ArgumentParser(prog="videobert pretrain WORK", add_help=False)
    _add_options(rest, defaults=False)
    rest.add_argument("overrides", nargs="*", default=[])
    late = rest.parse_intermixed_args(args.rest)
    for key, value in vars(late).items():
        setattr(args, key, value)
    cfg = load_pretrain_config(args.config, args.overrides, args.preset)
    if args.max_steps is not None:
        cfg.max_steps = args.max_steps
    final = pretrain(Path(args.work), cfg, device=args.device)
    log.info("final checkpoint: %s", final)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pretrain`` sub-command."""
    p = subparsers.add_parser(
        "pretrain",
        help="pretrain VideoBERT on WORK/corpus (resumes from WORK/checkpoints)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("work", help="work directory holding corpus/ (and vocab/)")
    _add_options(p)
    p.add_argument(
        "rest", nargs=argparse.REMAINDER, metavar="key=value",
        help="overrides, e.g. lr=3e-4 model.num_hidden_layers=2 (options may be mixed in)",
    )
    p.set_defaults(func=run)
