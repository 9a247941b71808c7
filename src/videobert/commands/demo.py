"""``videobert demo``: every stage on the built-in corpus, then the HTML report.

The demo runs the same sub-commands a user would (through ``videobert.cli.main``), in order,
timing each and recording it in ``WORK/demo_state.json``; a stage already recorded as done is
skipped, so a re-run of a finished demo redoes nothing (seconds). Each stage is itself
resumable, so a demo killed mid-stage picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from videobert.errors import VideoBertError
from videobert.utils.io import atomic_write_json

log = logging.getLogger(__name__)

STATE_NAME = "demo_state.json"

# ``--tiny``: a smoke run of every stage in a couple of minutes (8 short videos, 16 visual words,
# a tiny randomly initialised model). Extra arguments appended to each stage's command line.
TINY_ARGS: dict[str, list[str]] = {
    "synth": ["--max-steps", "3", "--subset-split", "0.75"],
    "fit-vocab": ["--niter", "10"],
    "gallery": ["--top-n", "8", "--per-word", "2"],
    "pretrain": [
        "init=random", "model.hidden_size=32", "model.num_attention_heads=2", "model.intermediate_size=64",
        "max_steps=20", "batch_size=8", "warmup_steps=2", "eval_every=10", "eval_batches=2",
        "checkpoint_every=10", "log_every=5",
    ],
    "classify": ["--set", "folds=2"],
    "retrieve": ["--max-segments", "16", "--set", "epochs=1"],
    "caption": ["--set", "steps=30"],
}
TINY_DEFAULTS = {"videos": 8, "levels": 2, "branching": 4}


def demo_stages(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The demo's stages as ``(name, argv for videobert.cli.main)``, in order."""
    if args.tiny:
        for key, value in TINY_DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
    for key, value in {"videos": 60, "levels": 2, "branching": 12}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    work = str(Path(args.work))
    src = str(Path(args.work) / "source")
    videos = str(Path(src) / "videos")
    ann = str(Path(src) / "annotations.json")
    backbone = args.backbone
    extract = ["extract", videos, "--backbone", backbone, "--work", work]
    if args.weights:
        extract += ["--weights", args.weights]
    pretrain = ["pretrain", work, "--preset", "demo", *args.pretrain_overrides]
    stages = [
        ("synth", ["synth", src, "--videos", str(args.videos), "--seed", str(args.seed)]),
        ("extract", extract),
        ("fit-vocab", ["fit-vocab", work, "--backbone", backbone, "--levels", str(args.levels),
                       "--branching", str(args.branching), "--seed", str(args.seed)]),
        ("gallery", ["gallery", work]),
        ("tokenize", ["tokenize", work, "--transcripts", videos, "--annotations", ann, "--seed", str(args.seed)]),
        ("pretrain", pretrain),
        # the report keeps the paper's raw reading beside the calibrated one (tasks/zero_shot.py)
        ("zero-shot", ["zero-shot", work, "--annotations", ann, "--set", "calibration=prior"]),
        ("classify", ["classify", work, "--annotations", ann]),
        ("retrieve", ["retrieve", work, "--annotations", ann]),
        ("caption", ["caption", work, "--annotations", ann]),
        ("summarize", ["summarize", work, "--annotations", ann]),
        ("forecast", ["forecast", work, "--annotations", ann]),
        ("text-to-video", ["text-to-video", work, "--annotations", ann]),
    ]
    if args.tiny:
        stages = [(name, argv + TINY_ARGS.get(name, [])) for name, argv in stages]
    return stages


def _load_state(work: Path) -> dict:
    path = work / STATE_NAME
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"stages": {}}


def run_demo(args: argparse.Namespace) -> int:
    """Run (or resume) every demo stage, then write the report. Returns an exit code."""
    from tqdm.auto import tqdm

    from videobert.cli import build_parser
    from videobert.report import build_report

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    state = _load_state(work)
    parser = build_parser()
    available = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    stages = demo_stages(args)
    t_all = time.perf_counter()
    bar = tqdm(stages, desc="demo", unit="stage")
    for name, argv in bar:
        bar.set_postfix_str(name)
        done = state["stages"].get(name, {})
        if done.get("status") == "done":
            log.info("demo: %s already done (%.1f s), skipped", name, done.get("seconds", 0.0))
            continue
        if argv[0] not in available:
            log.warning("demo: stage %s is not available in this build, skipped", name)
            state["stages"][name] = {"status": "unavailable", "seconds": 0.0}
            continue
        log.info("demo: stage %s: videobert %s", name, " ".join(argv))
        t0 = time.perf_counter()
        sub_args = parser.parse_args(argv)
        code = int(sub_args.func(sub_args) or 0)
        seconds = time.perf_counter() - t0
        if code != 0:
            state["stages"][name] = {"status": f"failed (exit {code})", "seconds": seconds}
            atomic_write_json(work / STATE_NAME, state)
            raise VideoBertError(f"demo stage {name} failed with exit code {code}; fix it and re-run to resume")
        state["stages"][name] = {"status": "done", "seconds": round(seconds, 2)}
        atomic_write_json(work / STATE_NAME, state)
        log.info("demo: %s done in %.1f s", name, seconds)
    report = work / "reports" / "report.html"
    if "report" not in state["stages"] or not report.exists():
        t0 = time.perf_counter()
        state["stages"]["report"] = {"status": "done", "seconds": 0.0}
        atomic_write_json(work / STATE_NAME, state)
        build_report(work, title="VideoBERT demo on the built-in corpus")
        state["stages"]["report"]["seconds"] = round(time.perf_counter() - t0, 2)
        atomic_write_json(work / STATE_NAME, state)
        build_report(work, title="VideoBERT demo on the built-in corpus")  # again, with its own timing
    total = sum(float(s.get("seconds", 0)) for s in state["stages"].values())
    log.info("demo finished: stage time %.1f s in all (this call %.1f s); open %s", total,
             time.perf_counter() - t_all, report)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run every stage on the built-in corpus and write an HTML report",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="demo-work", help="work directory (default: demo-work)")
    p.add_argument("--videos", type=int, default=None, help="number of generated videos (default 60; --tiny: 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backbone", default="classical", help="feature backbone (default: the offline classical descriptor)")
    p.add_argument("--weights", default=None, help="local weights for a torchvision backbone")
    p.add_argument("--levels", type=int, default=None, help="hierarchical k-means levels (default 2)")
    p.add_argument("--branching", type=int, default=None, help="hierarchical k-means branching (default 12; --tiny: 4)")
    p.add_argument("--tiny", action="store_true",
                   help="smoke run in a few minutes: few short videos, tiny vocabulary, tiny random model")
    p.add_argument("pretrain_overrides", nargs="*", default=[], help="key=value overrides for pretraining")
    p.set_defaults(func=run_demo)
