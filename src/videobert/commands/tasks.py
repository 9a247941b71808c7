"""``videobert zero-shot | classify | retrieve | caption | summarize | forecast | text-to-video WORK``.

Every registered task (``videobert.tasks.task_names()``) is a sub-command of the same shape: it
reads the checkpoint (``--checkpoint DIR``, default the one ``WORK/checkpoints/final.txt`` names),
the visual words under ``WORK/tokens`` and YouCook2-layout annotations (``--annotations FILE``,
default ``WORK/annotations.json``), and writes ``WORK/reports/<task>.json`` (metrics beside their
baseline) plus its pictures under ``WORK/reports/<task>/``. Settings are the task config's fields.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from videobert.commands.dialect import Command, add_command, annotations_argument, work_argument

log = logging.getLogger(__name__)

# Flags kept for settings users reach for often (each also reads as key=value).
TASK_FLAGS: dict[str, tuple[str, ...]] = {
    "zero-shot": ("template",),
    "retrieve": ("max_segments", "finetune"),
    "summarize": ("with_captions",),
}


def _arguments(p: argparse.ArgumentParser) -> None:
    work_argument(p, "work directory (tokens/, checkpoints/, reports/)")
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="DIR",
        help="checkpoint directory (default: WORK/checkpoints/final.txt)",
    )
    annotations_argument(p)


def _runner(name: str) -> Any:
    def run(args: argparse.Namespace, cfg: Any) -> int:
        from videobert.tasks import run_task

        _, path = run_task(name, args.work, cfg, annotations=args.annotations, checkpoint=args.checkpoint)
        log.info("report: %s", path)
        return 0

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add one sub-command per registered task."""
    from videobert.tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        flags = ("device", *TASK_FLAGS.get(name, ()))
        add_command(
            subparsers,
            Command(name, task.help, _runner(name), task.config_class, task.description, _arguments, flags),
        )
