"""``videobert zero-shot | classify | retrieve WORK``: evaluate a pretrained checkpoint.

Each reads the checkpoint (default: the one ``WORK/checkpoints/final.txt`` names), the visual
words under ``WORK/tokens`` and YouCook2-layout annotations (default ``WORK/annotations.json``),
and writes ``WORK/reports/<task>.json`` (metrics beside their chance values) plus pictures under
``WORK/reports/<task>/``. Settings: ``--config FILE.yaml`` then ``--set key=value`` overrides of
the task's config dataclass.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from videobert.config import load_config

log = logging.getLogger(__name__)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("work", type=Path, help="work directory (tokens/, checkpoints/, reports/)")
    p.add_argument("--checkpoint", type=Path, default=None, help="checkpoint dir (default: WORK/checkpoints/final.txt)")
    p.add_argument("--annotations", type=Path, default=None, help="YouCook2-layout JSON (default: WORK/annotations.json)")
    p.add_argument("--config", type=Path, default=None, help="YAML file of task settings")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a setting")


def _setup(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    from videobert.tasks.common import default_annotations, load_annotations, load_checkpoint

    model, tokenizer, ckpt = load_checkpoint(args.work, args.checkpoint)
    ann = args.annotations or default_annotations(args.work)
    db = load_annotations(ann)
    args._checkpoint_dir, args._annotations = ckpt, ann
    return model, tokenizer, db


def _finish(args: argparse.Namespace, task: str, result: dict[str, Any]) -> int:
    from videobert.tasks.common import write_report

    result["checkpoint"] = str(args._checkpoint_dir)
    result["annotations"] = str(args._annotations)
    path = write_report(args.work, task, result)
    for group, suffix in (("metrics", ""), ("uncalibrated", " (uncalibrated)")):
        for k, v in result.get(group, {}).items():
            c = result.get("chance", {}).get(k)
            log.info("%s %-22s %.4f%s", task, k + suffix, v, "" if c is None else f"   (chance {c:.4f})")
    log.info("report: %s", path)
    return 0


def run_zero_shot(args: argparse.Namespace) -> int:
    """``videobert zero-shot``: verb / noun top-1 / top-5 over the annotation vocabularies."""
    from videobert.tasks.common import load_segments
    from videobert.tasks.zero_shot import TASK, ZeroShotConfig, zero_shot

    cfg = load_config(ZeroShotConfig, args.config, args.overrides)
    if args.template:  # set directly: "[MASK] ..." is not a YAML scalar
        cfg = dataclasses.replace(cfg, template=args.template)
    model, tokenizer, db = _setup(args)
    vocab = {
        slot: sorted({str(a[slot]) for e in db.values() for a in e.get("annotations", []) if a.get(slot)})
        for slot in cfg.slots
    }
    segments = load_segments(db, args.work, cfg.subset)
    reference = load_segments(db, args.work, cfg.calibration_subset) if cfg.calibration != "none" else None
    result = zero_shot(
        model, tokenizer, segments, cfg, vocab, out_dir=Path(args.work) / "reports" / TASK, reference=reference
    )
    return _finish(args, TASK, result)


def run_classify(args: argparse.Namespace) -> int:
    """``videobert classify``: recipe-type classification with k-fold CV over a grid."""
    from videobert.tasks.classify import TASK, ClassifyConfig, classify, video_items

    cfg = load_config(ClassifyConfig, args.config, args.overrides)
    model, tokenizer, db = _setup(args)
    train = video_items(db, args.work, cfg.train_subset, cfg.label_key)
    test = video_items(db, args.work, cfg.test_subset, cfg.label_key)
    result = classify(model, tokenizer, train, test, cfg, out_dir=Path(args.work) / "reports" / TASK)
    return _finish(args, TASK, result)


def run_retrieve(args: argparse.Namespace) -> int:
    """``videobert retrieve``: text<->video R@K and median rank, zero-shot and fine-tuned."""
    from videobert.tasks.common import load_segments
    from videobert.tasks.retrieve import TASK, RetrieveConfig, retrieve

    overrides = list(args.overrides)
    if args.max_segments is not None:
        overrides.append(f"max_segments={args.max_segments}")
    if args.no_finetune:
        overrides.append("finetune=false")
    cfg = load_config(RetrieveConfig, args.config, overrides)
    model, tokenizer, db = _setup(args)
    segments = load_segments(db, args.work, cfg.subset)
    train = load_segments(db, args.work, cfg.train_subset) if cfg.finetune else None
    result = retrieve(model, tokenizer, segments, cfg, train)
    return _finish(args, TASK, result)


def register(subparsers: Any) -> None:
    """Add the ``zero-shot``, ``classify`` and ``retrieve`` sub-commands."""
    p = subparsers.add_parser(
        "zero-shot",
        help="zero-shot verb/noun action classification",
        description="Fill the template's [MASK]s given each segment's visual words. "
        "--set calibration=prior ranks candidates by how much the clips raise them over their mean "
        "score on the training subset's clips (the raw metrics are kept as 'uncalibrated').",
    )
    _common(p)
    p.add_argument("--template", default=None, help='text with two [MASK]s (verb, noun)')
    p.set_defaults(func=run_zero_shot)

    p = subparsers.add_parser("classify", help="video classification (recipe_type), k-fold CV over a grid")
    _common(p)
    p.set_defaults(func=run_classify)

    p = subparsers.add_parser("retrieve", help="text<->video retrieval, zero-shot and fine-tuned")
    _common(p)
    p.add_argument("--max-segments", type=int, default=None, help="N evaluation segments (N^2 pairs scored)")
    p.add_argument("--no-finetune", action="store_true", help="zero-shot scores only")
    p.set_defaults(func=run_retrieve)
