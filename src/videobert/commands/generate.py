"""Generation tasks: ``caption``, ``summarize``, ``forecast`` and ``text-to-video``.

Each reads a checkpoint (``--checkpoint DIR``, default the one ``WORK/checkpoints/final.txt``
names), the visual words under ``WORK/tokens`` and YouCook2-layout annotations (``--annotations``,
default ``WORK/annotations.json``), and writes ``WORK/reports/<task>.json`` (metrics beside their
baseline) plus PNG strips under ``WORK/reports/<task>/``. Settings: ``--config FILE`` (YAML) and
``key=value`` overrides of the task's config dataclass, e.g. ``videobert caption WORK steps=200 beam=3``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videobert.config import load_config

log = logging.getLogger(__name__)


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, Path, Path]:
    from videobert.tasks.common import default_annotations, load_checkpoint

    model, tokenizer, ckpt = load_checkpoint(args.work, args.checkpoint)
    ann = Path(args.annotations) if args.annotations else default_annotations(args.work)
    return model, tokenizer, ckpt, ann


def _log_metrics(task: str, result: dict[str, Any]) -> None:
    for name, value in result["metrics"].items():
        base = result.get("chance", {}).get(name)
        log.info("%s %s: %.4f (baseline %s)", task, name, value, "n/a" if base is None else f"{base:.4f}")


def _runner(
    task: str, cfg_cls: type, run: Callable[..., dict[str, Any]]
) -> Callable[[argparse.Namespace], int]:
    def func(args: argparse.Namespace) -> int:

        from videobert.tasks.common import seed_everything, write_report

        cfg = load_config(cfg_cls, args.config, [*args.overrides, *args.set])
        seed_everything(int(getattr(cfg, "seed", 0)))
        model, tokenizer, ckpt, ann = _inputs(args)
        kwargs: dict[str, Any] = {}
        if task == "summarize" and args.with_captions:
            from videobert.tasks.caption import CaptionConfig, train_captioner
            from videobert.tasks.common import load_annotations, load_segments

            cap_cfg = CaptionConfig()
            captioner, _ = train_captioner(
                model, tokenizer, load_segments(load_annotations(ann), args.work, "training"), cap_cfg
            )
            kwargs["captioner"] = lambda windows: captioner.caption(model, tokenizer, windows)
        result = run(model, tokenizer, args.work, ann, cfg, **kwargs)
        result["checkpoint"] = str(ckpt)
        write_report(args.work, task, result)
        _log_metrics(task, result)
        return 0

    return func


def _add(
    subparsers: argparse._SubParsersAction,
    name: str,
    help_: str,
    cfg_cls: type,
    run: Callable[..., dict[str, Any]],
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("work", help="work directory (tokens/, checkpoints/, reports/)")
    p.add_argument(
        "--checkpoint", default=None, help="checkpoint directory (default: WORK/checkpoints/final.txt)"
    )
    p.add_argument(
        "--annotations", default=None, help="YouCook2-layout JSON (default: WORK/annotations.json)"
    )
    p.add_argument("--config", default=None, help=f"YAML file with {cfg_cls.__name__} fields")
    p.add_argument("overrides", nargs="*", default=[], help=f"key=value overrides of {cfg_cls.__name__}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an override that may follow other options (repeatable)")
    p.set_defaults(func=_runner(name, cfg_cls, run))
    return p


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``caption``, ``summarize``, ``forecast`` and ``text-to-video`` sub-commands."""
    from videobert.tasks.caption import CaptionConfig, run_caption
    from videobert.tasks.forecast import ForecastConfig, run_forecast
    from videobert.tasks.summarize import SummarizeConfig, run_summarize
    from videobert.tasks.text_to_video import TextToVideoConfig, run_text_to_video

    _add(
        subparsers,
        "caption",
        "captioning: decoder on frozen VideoBERT features vs nearest-neighbour captions",
        CaptionConfig,
        run_caption,
    )
    p = _add(
        subparsers,
        "summarize",
        "the k clips best aligned with the narration, as a frame strip and text",
        SummarizeConfig,
        run_summarize,
    )
    p.add_argument(
        "--with-captions",
        action="store_true",
        help="train a caption model first and caption the chosen clips",
    )
    _add(
        subparsers,
        "forecast",
        "next visual words (top-k) vs the frequency baseline",
        ForecastConfig,
        run_forecast,
    )
    _add(
        subparsers,
        "text-to-video",
        "visual words generated from sentences vs the frequency baseline",
        TextToVideoConfig,
        run_text_to_video,
    )
