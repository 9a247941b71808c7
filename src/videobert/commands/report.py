"""``videobert report WORK``: build WORK/reports/report.html from the stage outputs."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write WORK/reports/report.html from every stage's results")
    p.add_argument("work", help="work directory")
    p.add_argument("--title", default="VideoBERT report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videobert.report import build_report

    path = build_report(args.work, title=args.title)
    log.info("open %s", path)
    return 0
