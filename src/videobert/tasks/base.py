"""The shape every task has: a config dataclass, inputs loaded from a work directory, a ``run``
that returns a :class:`TaskReport`, and one registry.

A task is a :class:`Task` record registered once (``register_task``)::

    TASK = register_task(Task(
        name="forecast", help="next visual words vs the frequency baseline",
        config_class=ForecastConfig, run=forecast))

    def forecast(model, tokenizer, inputs: TaskInputs, cfg: ForecastConfig | None = None) -> TaskReport

``run`` is a plain function of the model, its tokenizer and :class:`TaskInputs` (what the
annotations' subsets hold, with their visual words): no file is read or written there, so it runs
the same on a checkpoint from a work directory, an exported model, or inputs built by hand.
:func:`run_task` is the work-directory path every CLI sub-command takes: load the checkpoint and
the inputs, seed, run, write ``reports/<task>.json`` and the report's images.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobert.data.annotations import (
    Database,
    Segment,
    Video,
    coverage,
    coverage_line,
    load_annotations,
    load_videos,
    normalize_subset,
    segments_of,
)
from videobert.errors import VideoBertError
from videobert.eval.intervals import Intervals
from videobert.utils.io import atomic_write_bytes, atomic_write_json
from videobert.utils.registry import Registry
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)

# Built-in task modules, in the order the CLI and the report list them.
BUILTIN_TASKS = ("zero_shot", "classify", "retrieve", "caption", "summarize", "forecast", "text_to_video")


@dataclass
class TaskConfig:
    """Settings every task has.

    Attributes:
        subset: annotation subset evaluated.
        train_subset: annotation subset a task trains on, or takes a reference or baseline from.
        batch_size: sequences per forward pass of the model.
        n_examples: examples kept (and drawn, where a task draws them) for the report.
        seed: seeds sampling, initialisation and batch order.
        device: where the model runs: cpu, cuda or cuda:N (None: CUDA when available); batches
            and fine-tuned heads follow the model.
    """

    subset: str = "validation"
    train_subset: str = "training"
    batch_size: int = 128
    n_examples: int = 6
    seed: int = 0
    device: str | None = None

    def __post_init__(self) -> None:
        from videobert.data.annotations import normalize_subset

        self.subset, self.train_subset = normalize_subset(self.subset), normalize_subset(self.train_subset)
        if self.batch_size < 1 or self.n_examples < 0:
            raise ValueError(f"batch_size must be >= 1 and n_examples >= 0, got {self.batch_size}, {self.n_examples}")


@dataclass
class TaskInputs:
    """What a task reads: the evaluated and the training subsets of one annotation file, with the
    visual words of their videos (``WORK/tokens``) and segments.

    Attributes:
        videos / train_videos: the subsets' videos that have visual words.
        segments / train_segments: their annotated segments (visual words of the clips each covers).
        annotations: the whole annotation database (vocabularies, labels of every subset).
        thumbs: visual word -> (H, W, 3) uint8 nearest frame (the gallery's), for drawn examples.
        narration: video id -> narration sentences (the tasks that read what is said).
        video_paths: video id -> source video file (for real frames in drawn examples).
        coverage: how many annotated videos have visual words, per subset, and the first missing
            (:func:`videobert.data.annotations.coverage`); written into the task's report.
    """

    videos: list[Video]
    train_videos: list[Video]
    segments: list[Segment]
    train_segments: list[Segment]
    annotations: Database = field(default_factory=dict)
    thumbs: dict[int, np.ndarray] = field(default_factory=dict)
    narration: dict[str, list[str]] = field(default_factory=dict)
    video_paths: dict[str, Path] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskReport:
    """What a task returns: its metrics beside a baseline from the same run, and what to show.

    Attributes:
        task: the task's name.
        metrics: metric name -> value.
        baseline: metric name -> the baseline's value of the same metric.
        baseline_name: what the baseline is (``"chance"``, ``"nearest-neighbour caption"``, ...).
        n: evaluation units (segments, videos, positions, queries).
        config: the settings used (``dataclasses.asdict`` of the task config).
        examples: a few small JSON-able dicts; ``"image"`` names an entry of ``images``.
        images: file name -> PNG bytes, written to ``reports/<task>/<name>``.
        figures: names of ``images`` shown as the task's figures (charts).
        details: further JSON-able results (per class, other systems, the raw scores...).
        intervals: 95% bootstrap intervals of the metrics, the baseline and their difference over
            the n units (:func:`videobert.eval.intervals.unit_intervals`).
    """

    task: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    baseline_name: str
    n: int
    config: dict[str, Any]
    examples: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    intervals: Intervals | None = None

    def image_ref(self, name: str) -> str:
        """The report-relative path of image ``name`` (``<task>/<name>``)."""
        return f"{self.task}/{name}"

    def to_json(self) -> dict[str, Any]:
        """The ``reports/<task>.json`` payload (docs/ARCHITECTURE.md, "Task reports")."""
        payload = {
            "task": self.task,
            "metrics": self.metrics,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "n": self.n,
            "config": self.config,
            "examples": [
                {**e, "image": self.image_ref(e["image"])} if e.get("image") else e for e in self.examples
            ],
            "figures": [self.image_ref(f) for f in self.figures],
            "intervals": self.intervals.to_json() if self.intervals is not None else None,
        }
        clash = set(self.details) & set(payload)
        if clash:
            raise VideoBertError(f"task {self.task}: details may not reuse the report keys {sorted(clash)}")
        return jsonable({**payload, **self.details})


@dataclass(frozen=True)
class Task:
    """A registered task.

    Attributes:
        name: the CLI sub-command and report name (``"zero-shot"``).
        help: one line for ``videobert --help``.
        config_class: its config dataclass (a :class:`TaskConfig`).
        run: ``(model, tokenizer, inputs, cfg) -> TaskReport``.
        load: ``(work, annotations file, cfg) -> TaskInputs``; default :func:`load_task_inputs`.
    """

    name: str
    help: str
    config_class: type
    run: Callable[..., TaskReport]
    load: Callable[[WorkDir, Path, Any], TaskInputs] | None = None

    @property
    def description(self) -> str:
        """Longer text for ``videobert NAME --help``: the docstring of ``run``'s module."""
        import sys

        module = sys.modules.get(getattr(self.run, "__module__", ""), None)
        return (getattr(module, "__doc__", None) or self.help).strip()

    def inputs(self, work: WorkDir, annotations: Path, cfg: Any) -> TaskInputs:
        """This task's inputs from ``work`` and the annotation file."""
        return (self.load or load_task_inputs)(work, annotations, cfg)


_TASKS: Registry[Task] = Registry("task", [f"videobert.tasks.{m}" for m in BUILTIN_TASKS])
register_task = _TASKS.register  # (task) -> task: the CLI offers it, run_task runs it
task_names = _TASKS.names  # () -> names: the built-in tasks in pipeline order, then others
get_task = _TASKS.get  # (name) -> Task; an unknown name suggests the closest


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


def load_task_inputs(work: WorkDir, annotations: str | os.PathLike[str], cfg: Any) -> TaskInputs:
    """The evaluated (``cfg.subset``) and training (``cfg.train_subset``) videos and segments of the
    annotation file with their visual words, the gallery's thumbnails (``{}`` without a gallery)."""
    from videobert.tasks.strips import load_thumbnails

    db = load_annotations(annotations)
    videos = load_videos(db, work, cfg.subset)
    train = load_videos(db, work, cfg.train_subset) if cfg.train_subset != cfg.subset else videos
    cov = coverage(db, work.token_ids())
    log.info("%s", coverage_line(cov, annotations))
    log.info("evaluated on %d %s video(s), trained on %d %s video(s)", len(videos), cfg.subset, len(train), cfg.train_subset)
    hint = f"({coverage_line(cov, 'annotations')}); are the video files named by their annotation ids?"
    if not videos:
        raise VideoBertError(f"{annotations}: no {normalize_subset(cfg.subset)} video of the annotations has visual words in {work.tokens} {hint}")
    if not train:
        log.warning("%s: no %s video has visual words %s", annotations, normalize_subset(cfg.train_subset), hint)
    return TaskInputs(
        videos=videos,
        train_videos=train,
        segments=segments_of(videos),
        train_segments=segments_of(train),
        annotations=db,
        thumbs=load_thumbnails(work),
        coverage=cov,
    )


# ----------------------------------------------------------------------------------------------
# running and writing
# ----------------------------------------------------------------------------------------------


def jsonable(obj: Any) -> Any:
    """Plain JSON types (numpy scalars/arrays -> Python, tuples -> lists, NaN/inf -> None, Path -> str)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_report(work: WorkDir | str | os.PathLike[str], report: TaskReport, **extra: Any) -> Path:
    """Write ``reports/<task>.json`` (with ``extra`` keys, e.g. the checkpoint) and the report's
    images under ``reports/<task>/``, atomically; returns the JSON's path."""
    work = WorkDir.of(work)
    for name, png in report.images.items():
        atomic_write_bytes(work.report_assets(report.task) / name, png)
    path = work.report_file(report.task)
    atomic_write_json(path, jsonable({**report.to_json(), **extra}))
    log.info("wrote %s", path)
    return path


def log_report(report: TaskReport) -> None:
    """Each metric beside its baseline, one line each, at INFO."""
    raw = report.details.get("uncalibrated") or {}
    rows = [(k, v) for k, v in report.metrics.items()] + [(f"{k} (uncalibrated)", v) for k, v in raw.items()]
    for name, value in rows:
        base = report.baseline.get(name.removesuffix(" (uncalibrated)"))
        tail = "" if base is None else f"   ({report.baseline_name} {base:.4f})"
        log.info("%s %-26s %.4f%s", report.task, name, value, tail)


def run_task(
    name: str,
    work: WorkDir | str | os.PathLike[str],
    cfg: Any = None,
    annotations: str | os.PathLike[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> tuple[TaskReport, Path]:
    """Run task ``name`` on a work directory: load its checkpoint (``checkpoint`` or the final one)
    and inputs, seed with ``cfg.seed``, run, write the report; returns it and the JSON's path."""
    from videobert.model.loading import load_model
    from videobert.utils.runtime import resolve_device, seed_everything

    task = get_task(name)
    work = WorkDir.of(work).require()
    cfg = cfg if cfg is not None else task.config_class()
    if not isinstance(cfg, task.config_class):
        raise VideoBertError(f"task {name}: config must be a {task.config_class.__name__}, got {type(cfg).__name__}")
    device = resolve_device(cfg.device)  # before anything is loaded: a missing GPU is the first error
    ann = work.annotations(annotations)
    seed_everything(int(cfg.seed))
    model, tokenizer, ckpt = load_model(work.resolve_checkpoint(checkpoint))
    model.to(device)
    inputs = task.inputs(work, ann, cfg)
    report = task.run(model, tokenizer, inputs, cfg)
    log_report(report)
    path = write_report(work, report, checkpoint=str(ckpt), annotations=str(ann), coverage=inputs.coverage)
    return report, path


__all__ = [
    "BUILTIN_TASKS",
    "Task",
    "TaskConfig",
    "TaskInputs",
    "TaskReport",
    "get_task",
    "jsonable",
    "load_task_inputs",
    "log_report",
    "register_task",
    "run_task",
    "task_names",
    "write_report",
]
