"""``videobert demo [WORK]``: every stage on the built-in corpus, then the HTML report.

The demo calls the library's stage functions in order (``synthesize``, ``extract``, ``fit_vocab``,
``build_gallery``, ``build_corpus``, ``pretrain``, every registered task through ``run_task``,
``export`` into ``WORK/export``, ``build_report``), each with its own config: the demo's choices, then ``--tiny``'s, then yours
(``pretrain.max_steps=100``, ``tasks.caption.steps=50``, ``extract.batch_size=4``...). Every
stage's settings are resolved, and checked, before the first one runs. Each stage is timed and
recorded in ``WORK/demo_state.json``; a stage already recorded as done is skipped, so a re-run of
a finished demo redoes nothing (seconds), and each stage is itself resumable.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videobert.commands.dialect import Command, add_command
from videobert.config import check_keys, kwargs_of, load_config
from videobert.errors import VideoBertError
from videobert.utils.io import atomic_write_json, read_json

log = logging.getLogger(__name__)

STATE_NAME = "demo_state.json"
STAGE_FIELDS = ("synth", "extract", "fit_vocab", "gallery", "tokenize", "pretrain")


@dataclass
class DemoConfig:
    """Settings of ``videobert demo``.

    Attributes:
        n_videos: generated videos (None: 60; ``tiny``: 8).
        seed: seeds the corpus, the vocabulary and the split.
        backbone: feature backbone (default: the offline classical descriptor).
        weights: local weights for a torchvision backbone.
        levels, branching: hierarchical k-means shape (None: 2 x 12; ``tiny``: 2 x 4).
        tiny: a smoke run of every stage in a couple of minutes (few short videos, a tiny
            vocabulary, a tiny randomly initialised model).
        synth, extract, fit_vocab, gallery, tokenize, pretrain: settings of that stage's config
            (``SynthConfig``, ``ExtractConfig``, ``VocabConfig``, ``GalleryConfig``,
            ``TokenizeConfig``, ``PretrainConfig`` on top of its ``demo`` preset).
        tasks: task name -> settings of its config (e.g. ``{"caption": {"steps": 50}}``).
    """

    n_videos: int | None = None
    seed: int = 0
    backbone: str = "classical"
    weights: str | None = None
    levels: int | None = None
    branching: int | None = None
    tiny: bool = False
    synth: dict[str, Any] = field(default_factory=dict)
    extract: dict[str, Any] = field(default_factory=dict)
    fit_vocab: dict[str, Any] = field(default_factory=dict)
    gallery: dict[str, Any] = field(default_factory=dict)
    tokenize: dict[str, Any] = field(default_factory=dict)
    pretrain: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)


# The demo's own task settings: the report keeps the paper's raw reading beside the calibrated one.
DEMO_TASKS: dict[str, dict[str, Any]] = {
    "zero-shot": {"calibration": "prior"},
    # 2 CPU cores: a smaller encoder-decoder, a softmax over the training captions' pieces only.
    "caption": {"output_vocab": "train", "d_model": 128, "steps": 300, "train_batch_size": 32, "max_clips": 16},
}

# ``tiny``: settings per stage on top of the demo's.
TINY: dict[str, dict[str, Any]] = {
    "synth": {"max_steps_per_video": 3, "subset_split": 0.75},
    "fit_vocab": {"niter": 10},
    "gallery": {"top_n": 8, "per_word": 2},
    "pretrain": {
        "init": "random", "model": {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64},
        "max_steps": 20, "batch_size": 8, "warmup_steps": 2, "eval_every": 10, "eval_batches": 2,
        "checkpoint_every": 10, "log_every": 5,
    },
}  # fmt: skip
TINY_TASKS: dict[str, dict[str, Any]] = {
    "classify": {"folds": 2},
    "retrieve": {"max_segments": 16, "epochs": 1},
    "caption": {"steps": 30},
}


@dataclass
class Stage:
    """One demo stage: its name, resolved config and what runs it."""

    name: str
    config: Any
    run: Callable[[], Any]


def _merged(*layers: Mapping[str, Any]) -> dict[str, Any]:
    from videobert.config import deep_update

    out: dict[str, Any] = {}
    for layer in layers:
        deep_update(out, dict(layer))
    return out


def demo_stages(cfg: DemoConfig, work: Path) -> list[Stage]:
    """Every stage of the demo with its resolved, checked config, in order."""
    from videobert.data.corpus import TokenizeConfig, build_corpus
    from videobert.datasets.synthetic import SynthConfig, synthesize
    from videobert.features.extract import ExtractConfig, extract
    from videobert.report import build_report
    from videobert.tasks import get_task, run_task, task_names
    from videobert.train.config import load_pretrain_config
    from videobert.train.pretrain import pretrain
    from videobert.vocab.assign import VocabConfig, fit_vocab
    from videobert.vocab.gallery import GalleryConfig, build_gallery

    tiny = TINY if cfg.tiny else {}
    src = work / "source"
    videos, ann = src / "videos", src / "annotations.json"
    own = {
        "synth": {"n_videos": cfg.n_videos or (8 if cfg.tiny else 60), "seed": cfg.seed},
        "extract": {"backbone": cfg.backbone, "weights": cfg.weights},
        "fit_vocab": {
            "backbone": cfg.backbone, "seed": cfg.seed, "levels": cfg.levels or 2,
            "branching": cfg.branching or (4 if cfg.tiny else 12),
        },
        "tokenize": {"seed": cfg.seed},
    }  # fmt: skip
    layers = {
        name: _merged(own.get(name, {}), tiny.get(name, {}), getattr(cfg, name)) for name in STAGE_FIELDS
    }
    synth_cfg = load_config(SynthConfig, base=layers["synth"], prefix="synth.")
    extract_cfg = load_config(ExtractConfig, base=layers["extract"], prefix="extract.")
    vocab_cfg = load_config(VocabConfig, base=layers["fit_vocab"], prefix="fit_vocab.")
    gallery_cfg = load_config(GalleryConfig, base=layers["gallery"], prefix="gallery.")
    tokenize_cfg = load_config(TokenizeConfig, base=layers["tokenize"], prefix="tokenize.")
    pretrain_cfg = load_pretrain_config(preset="demo", values=_dotted(layers["pretrain"]))
    stages = [
        Stage("synth", synth_cfg, lambda: synthesize(src, **kwargs_of(synth_cfg))),
        Stage("extract", extract_cfg, lambda: extract(videos, work, **kwargs_of(extract_cfg))),
        Stage("fit-vocab", vocab_cfg, lambda: fit_vocab(work, **kwargs_of(vocab_cfg))),
        Stage("gallery", gallery_cfg, lambda: build_gallery(work, **kwargs_of(gallery_cfg))),
        Stage(
            "tokenize",
            tokenize_cfg,
            lambda: build_corpus(work, transcripts_dir=videos, annotations=ann, **kwargs_of(tokenize_cfg)),
        ),
        Stage("pretrain", pretrain_cfg, lambda: pretrain(work, pretrain_cfg)),
    ]
    names = task_names()
    check_keys(cfg.tasks, names, "DemoConfig.tasks (task names)", prefix="tasks.")
    for name in names:
        layer = _merged(
            DEMO_TASKS.get(name, {}), TINY_TASKS.get(name, {}) if cfg.tiny else {}, cfg.tasks.get(name, {})
        )
        task_cfg = load_config(get_task(name).config_class, base=layer, prefix=f"tasks.{name}.")
        stages.append(Stage(name, task_cfg, lambda n=name, c=task_cfg: run_task(n, work, c, annotations=ann)))
    stages.append(Stage("export", None, lambda: _export(work)))
    stages.append(Stage("report", None, lambda: build_report(work, title="VideoBERT demo on the built-in corpus")))
    return stages


def _export(work: Path) -> Path:
    """``WORK/export``: the demo's model as a Hugging Face directory (a half-written one is redone)."""
    import shutil

    from videobert.export import export

    out = work / "export"
    if out.exists():
        shutil.rmtree(out)
    return export(work, out)


def _dotted(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (mappings flattened, other values kept)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            out.update(_dotted(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


#: optional packages (videobert.utils.extras) a demo stage needs
STAGE_EXTRAS: dict[str, str] = {"fit-vocab": "faiss", "caption": "pycocoevalcap"}


def _check_extras(stage_names: list[str]) -> None:
    """One line naming the install commands when a stage still to run lacks its optional package."""
    from videobert.utils.extras import message, missing

    absent = [m for name, m in STAGE_EXTRAS.items() if name in stage_names and missing([m])]
    if absent:
        raise VideoBertError("demo: " + "; ".join(message(m) for m in absent))


def run_demo(cfg: DemoConfig, work: str | Path = "demo-work") -> Path:
    """Run (or resume) every demo stage in ``work``; returns the report's path."""
    from tqdm.auto import tqdm

    work = Path(work)
    stages = demo_stages(cfg, work)  # every config checked before anything runs
    state_path = work / STATE_NAME
    state = read_json(state_path) if state_path.is_file() else {"stages": {}}
    _check_extras([s.name for s in stages if state["stages"].get(s.name, {}).get("status") != "done"])
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    report_ran = False
    bar = tqdm(stages, desc="demo", unit="stage")
    for stage in bar:
        bar.set_postfix_str(stage.name)
        done = state["stages"].get(stage.name, {})
        if done.get("status") == "done" and (
            stage.name != "report" or (work / "reports" / "report.html").is_file()
        ):
            log.info("demo: %s already done (%.1f s), skipped", stage.name, done.get("seconds", 0.0))
            continue
        log.info("demo: stage %s", stage.name)
        t0 = time.perf_counter()
        try:
            stage.run()
        except BaseException as exc:
            state["stages"][stage.name] = {
                "status": f"failed ({type(exc).__name__})",
                "seconds": time.perf_counter() - t0,
            }
            atomic_write_json(state_path, state)
            if isinstance(exc, VideoBertError):
                raise VideoBertError(f"demo stage {stage.name}: {exc} (fix it and re-run to resume)") from exc
            raise
        seconds = round(time.perf_counter() - t0, 2)
        state["stages"][stage.name] = {"status": "done", "seconds": seconds}
        atomic_write_json(state_path, state)
        report_ran = report_ran or stage.name == "report"
        log.info("demo: %s done in %.1f s", stage.name, seconds)
    if report_ran:
        stages[-1].run()  # once more, with the report stage's own timing in its table
    total = sum(float(s.get("seconds", 0)) for s in state["stages"].values())
    log.info("demo finished: stage time %.1f s in all (this call %.1f s); open %s", total,
             time.perf_counter() - t_all, work / "reports" / "report.html")  # fmt: skip
    return work / "reports" / "report.html"


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "work", nargs="?", default="demo-work", metavar="WORK", help="work directory (default: demo-work)"
    )


def _stage_config_classes() -> dict[str, type]:
    from videobert.data.corpus import TokenizeConfig
    from videobert.datasets.synthetic import SynthConfig
    from videobert.features.extract import ExtractConfig
    from videobert.train.config import PretrainConfig
    from videobert.vocab.assign import VocabConfig
    from videobert.vocab.gallery import GalleryConfig

    return {
        "pretrain": PretrainConfig, "synth": SynthConfig, "extract": ExtractConfig, "fit_vocab": VocabConfig,
        "gallery": GalleryConfig, "tokenize": TokenizeConfig,
    }  # fmt: skip


def _load(
    args: argparse.Namespace, path: str | None, overrides: list[str], values: dict[str, Any]
) -> DemoConfig:
    """The demo's config, every stage's settings resolved and checked (so ``--print-config`` and a
    typo fail before anything runs); a stage's key given without its stage is named with it."""
    from dataclasses import fields

    from videobert.config import ConfigError, parse_override

    own = {f.name for f in fields(DemoConfig)}
    for item in overrides:
        top = parse_override(item)[0].split(".")[0]
        if top in own:
            continue
        for stage, cls in _stage_config_classes().items():
            if top in {f.name for f in fields(cls)}:
                raise ConfigError(
                    f"unknown config key {top!r} for DemoConfig (did you mean '{stage}.{top}'?)"
                )
    cfg = load_config(DemoConfig, path, overrides, values)
    demo_stages(cfg, Path(args.work))
    return cfg


def _run(args: argparse.Namespace, cfg: DemoConfig) -> int:
    run_demo(cfg, args.work)
    return 0


FLAGS = ("n_videos:--videos", "seed", "backbone", "weights", "levels", "branching", "tiny")
HELP = "run every stage on the built-in corpus and write an HTML report"
COMMAND = Command("demo", HELP, _run, DemoConfig, __doc__, _arguments, FLAGS, _load)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    add_command(sub, COMMAND)
