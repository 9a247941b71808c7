"""``videobert label-actions ANNOTATIONS``: verb and noun labels of every caption, by a POS tagger.

YouCook2's annotation file has one ``sentence`` per segment and no ``verb`` / ``noun``; the paper
took its zero-shot classes from those captions with a part-of-speech tagger. This command tags
every caption with spaCy (``pip install 'videobert[nlp]'``), keeps the ``--verbs`` / ``--nouns``
most frequent verbs and nouns of the training captions, and writes the annotations with ``verb``
and ``noun`` added per segment (labels outside those vocabularies left out; labels already there
kept unless ``overwrite=true``) to ``--out`` (default ``<input stem>.labelled.json`` beside the
input) or, with ``--work WORK``, to ``WORK/annotations.json``, where the tasks look by default.
Beside it, ``<output stem>.summary.json`` holds the counts and the vocabularies with their counts.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from videobert.commands.dialect import Command, add_command
from videobert.errors import VideoBertError
from videobert.text.actions import ActionLabelConfig

log = logging.getLogger(__name__)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "annotations",
        metavar="ANNOTATIONS",
        help="YouCook2-layout annotation JSON with a 'sentence' per segment",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="labelled annotations (default: <input stem>.labelled.json beside it)",
    )
    p.add_argument(
        "--work",
        default=None,
        metavar="WORK",
        help="write WORK/annotations.json instead (what the tasks read by default)",
    )


def output_paths(
    annotations: str | Path, out: str | Path | None = None, work: str | Path | None = None
) -> tuple[Path, Path]:
    """``(labelled annotations, summary JSON)`` for ``label-actions ANNOTATIONS [--out | --work]``."""
    from videobert.workdir import ANNOTATIONS_NAME, WorkDir

    if out is not None and work is not None:
        raise VideoBertError("label-actions: give --out FILE or --work WORK, not both")
    src = Path(annotations)
    if work is not None:
        target = WorkDir(work).root / ANNOTATIONS_NAME  # the file WorkDir.annotations() finds first
    elif out is not None:
        target = Path(out)
    else:
        target = src.with_name(f"{src.stem}.labelled.json")
    return target, target.with_name(f"{target.stem}.summary.json")


def _run(args: argparse.Namespace, cfg: ActionLabelConfig) -> int:
    from videobert.data.annotations import load_annotations
    from videobert.text.actions import label_database
    from videobert.utils.io import atomic_write_json, read_json

    target, summary_path = output_paths(args.annotations, args.out, args.work)
    if target.exists() and not target.samefile(args.annotations):
        log.warning("%s exists and will be replaced by the labelled %s", target, args.annotations)
    load_annotations(args.annotations)  # checks the layout, naming the file
    data = read_json(args.annotations)  # written back as it was (subset names, other keys), labels added
    labelled, summary = label_database(data["database"], cfg, source=args.annotations)
    log.info("%s: %s", args.annotations, summary.line())
    for slot in ("verb", "noun"):
        log.info("  %s: kept %d from the file, %d from the tagger, %d outside the vocabulary",
                 slot, summary.kept[slot], summary.tagged[slot], summary.dropped[slot])  # fmt: skip
        words = ", ".join(f"{w} {c}" for w, c in summary.vocabularies[slot])
        log.info("  %ss (%d): %s", slot, len(summary.vocabularies[slot]), words)
    atomic_write_json(target, {**data, "database": labelled})
    atomic_write_json(
        summary_path, {"annotations": str(args.annotations), "output": str(target), **summary.to_json()}
    )
    log.info("wrote %s and %s", target, summary_path)
    return 0


FLAGS = ("verbs", "nouns", "tagger", "overwrite", "vocab_subset", "progress")
HELP = "verb / noun labels of every caption by a POS tagger (spaCy) -> annotations with verb, noun"
COMMAND = Command("label-actions", HELP, _run, ActionLabelConfig, __doc__, _arguments, FLAGS)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``label-actions`` sub-command."""
    add_command(subparsers, COMMAND)
