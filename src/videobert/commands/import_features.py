"""``videobert import-features DIR --work WORK --name NAME [step=1.0 window=1.0]``: clip features
a user already has (HowTo100M's ``features/<video_id>.npy``, ``.npz`` files) as a feature set.

Writes WORK/features/<NAME>/<video_id>.npy (float16, n_clips x D), clip_times/<video_id>.npy and
info.json exactly as ``extract`` does, so ``fit-vocab --backbone NAME``, ``tokenize`` and
``pretrain`` run on them. Row k covers [offset + k*step, offset + k*step + window) seconds, or the
times of ``<id>.times.npy`` beside the array (or under ``times=DIR``). A bad array is recorded as
skipped in the manifest and the others go on; rows with NaN/inf are dropped with their times;
finished videos are skipped on a re-run.
"""

from __future__ import annotations

import argparse
import json
import logging

from videobert.commands.dialect import Command, add_command, inputs_and_work_arguments
from videobert.config import kwargs_of
from videobert.features.importer import ImportConfig

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    inputs_and_work_arguments(p, "sources", "DIR", "a folder of <video_id>.npy / .npz arrays (recursive) or array files")


def _run(args: argparse.Namespace, cfg: ImportConfig) -> int:
    from videobert.features.importer import import_features

    sources = args.sources if len(args.sources) > 1 else args.sources[0]
    summary = import_features(sources, args.work, **kwargs_of(cfg))
    log.info("summary: %s", json.dumps({k: v for k, v in summary.items() if k != "skipped"}, sort_keys=True))
    return 0


FLAGS = ("name", "step", "window", "offset", "times", "key", "videos", "ids", "progress")
HELP = "bring existing clip features (e.g. HowTo100M's .npy) into WORK as a feature set"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import-features`` sub-command."""
    add_command(subparsers, Command("import-features", HELP, _run, ImportConfig, __doc__, _arguments, FLAGS))
