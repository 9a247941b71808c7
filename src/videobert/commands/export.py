"""``videobert export WORK OUT``: the trained model as a shareable Hugging Face directory.

OUT holds the model (safetensors; AutoModelForPreTraining / AutoModel), the processor (joint
tokenizer for AutoTokenizer, visual vocabulary, feature spec) that turns a new video into input,
the training settings and a model card (README.md); no optimiser state. ``videobert.load(OUT)``
returns the model and the processor.
"""

from __future__ import annotations

import argparse
import logging

from videobert.commands.dialect import Command, add_command, work_argument
from videobert.export import ExportConfig

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    work_argument(p)
    p.add_argument("out", metavar="OUT", help="new folder for the export")
    p.add_argument("--checkpoint", default=None, metavar="DIR", help="checkpoint directory (default: WORK/checkpoints/final.txt)")


def _run(args: argparse.Namespace, cfg: ExportConfig) -> int:
    from videobert.export import export

    log.info("exported to %s", export(args.work, args.out, args.checkpoint))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command."""
    add_command(sub, Command("export", "the trained model as a Hugging Face directory (model, processor, card)", _run, ExportConfig, __doc__, _arguments))
