"""``videobert report WORK``: build WORK/reports/report.html from the stage outputs."""

from __future__ import annotations

import argparse
import logging

from videobert.commands.dialect import Command, add_command, work_argument
from videobert.report.html import ReportConfig

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace, cfg: ReportConfig) -> int:
    from videobert.report import build_report

    path = build_report(args.work, cfg.title, cfg.gallery_top)
    log.info("open %s", path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    add_command(
        sub,
        Command(
            "report",
            "write WORK/reports/report.html from every stage's results",
            _run,
            ReportConfig,
            __doc__,
            work_argument, ("title",),
        ),
    )
