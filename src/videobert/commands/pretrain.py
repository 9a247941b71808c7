"""``videobert pretrain WORK [--preset NAME] [--config FILE] [key=value ...]``.

Trains VideoBERT on ``WORK/corpus`` and writes ``WORK/checkpoints/step-N`` with the run's resolved
settings (``pretrain_config.yaml``). With checkpoints there it continues the newest one when its
settings equal these, and otherwise stops listing the differences: ``--resume`` continues it with
the new settings, ``--fresh`` sets the old run aside and starts over. Settings are ``PretrainConfig`` fields (``videobert.train.config``):
``model.*`` sets the transformers model config (e.g. ``model.num_hidden_layers=2``) and
``collate.*`` the masking. Run under ``torchrun --nproc_per_node N -m videobert.cli pretrain ...``
for several processes (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from videobert.commands.dialect import Command, add_command, work_argument
from videobert.train.config import PRESETS, PretrainConfig

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    work_argument(p, "work directory holding corpus/ (and vocab/)")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS), help="named starting configuration")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", dest="resume", action="store_const", const="resume", default="auto",
                      help="continue the newest checkpoint even if its settings differ from these")
    mode.add_argument("--fresh", dest="resume", action="store_const", const="fresh",
                      help="set the earlier run aside (checkpoints.old-N, logs.old-N) and start over")


def _load(
    args: argparse.Namespace, path: str | None, overrides: list[str], values: dict[str, Any]
) -> PretrainConfig:
    from videobert.train.config import load_pretrain_config

    return load_pretrain_config(path, overrides, args.preset, values)


def _run(args: argparse.Namespace, cfg: PretrainConfig) -> int:
    from videobert.train.pretrain import pretrain
    from videobert.workdir import WorkDir

    final = pretrain(WorkDir(args.work).require().root, cfg, resume=args.resume)
    log.info("final checkpoint: %s", final)
    return 0


HELP = "pretrain VideoBERT on WORK/corpus (resumes from WORK/checkpoints)"
COMMAND = Command(
    "pretrain",
    HELP,
    _run,
    PretrainConfig,
    __doc__,
    _arguments,
    ("max_steps", "device"),
    _load,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pretrain`` sub-command."""
    add_command(subparsers, COMMAND)
