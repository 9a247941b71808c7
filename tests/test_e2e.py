"""End to end: ``videobert demo --tiny`` runs every stage on generated videos, resumes, writes
files the group can read, and its report renders in headless Chromium with every image loaded."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from videobert.cli import main
from videobert.report.browser import find_chromium, render_report
from videobert.workdir import WorkDir

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

STAGES = ("synth", "extract", "fit-vocab", "gallery", "tokenize", "pretrain", "zero-shot", "classify",
          "retrieve", "caption", "summarize", "forecast", "text-to-video", "export", "report")
TASK_REPORTS = ("zero-shot", "classify", "retrieve", "caption", "summarize", "forecast", "text-to-video")


@pytest.fixture(scope="module")
def demo_work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("demo") / "work"
    old = os.umask(0o022)  # a lab's shared-storage setting: results readable by group and others
    try:
        assert main(["demo", str(work), "--tiny"]) == 0
    finally:
        os.umask(old)
    return work


def test_every_file_keeps_the_umask(demo_work: Path):
    """Nothing the pipeline writes is private (mkstemp's 0600): group and others can read it all."""
    private = [
        str(p.relative_to(demo_work))
        for p in demo_work.rglob("*")
        if not p.is_symlink() and (p.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH)) != (stat.S_IRGRP | stat.S_IROTH)
    ]
    assert private == []
    assert sum(1 for p in demo_work.rglob("*") if p.is_file()) > 100


def test_every_stage_ran_and_wrote_its_outputs(demo_work: Path):
    state = json.loads((demo_work / "demo_state.json").read_text())
    assert [s for s in STAGES if state["stages"].get(s, {}).get("status") != "done"] == []
    src = demo_work / "source"
    videos = sorted((src / "videos").glob("*.mp4"))
    assert len(videos) == 8 and all(v.with_suffix(".srt").exists() for v in videos)
    ids = {v.stem for v in videos}
    assert set(WorkDir(demo_work).feature_ids("classical")) == ids
    for vid in ids:
        tokens = np.load(demo_work / "tokens" / f"{vid}.npy")
        times = np.load(demo_work / "tokens" / "clip_times" / f"{vid}.npy")
        assert tokens.dtype == np.int32 and tokens.shape[0] == times.shape[0] > 0
        assert tokens.min() >= 0 and tokens.max() < 16  # --tiny: 2 levels x 4 = 16 words
    assert (demo_work / "corpus" / "train.parquet").exists() and (demo_work / "corpus" / "val.parquet").exists()
    final = (demo_work / "checkpoints" / "final.txt").read_text().strip()
    assert (demo_work / "checkpoints" / final / "model.safetensors").exists()
    assert (demo_work / "export" / "processor_config.json").exists() and (demo_work / "export" / "README.md").exists()
    for task in TASK_REPORTS:
        result = json.loads((demo_work / "reports" / f"{task}.json").read_text())
        assert result["metrics"], task
        assert set(result["baseline"]) & set(result["metrics"]), task  # every task reports its baseline
        assert result["baseline_name"] and result["n"] > 0, task
        iv = result["intervals"]  # every metric on the test units has an interval, and it holds the metric
        assert iv["n"] > 0 and set(iv["metrics"]) <= set(result["metrics"]), task
        for name, (lo, hi) in iv["metrics"].items():
            assert lo - 1e-9 <= result["metrics"][name] <= hi + 1e-9, (task, name, lo, hi)
        assert set(iv["above_baseline"]) <= set(iv["metrics"]), task


def test_rerun_skips_every_stage(demo_work: Path, caplog):
    before = (demo_work / "demo_state.json").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in (demo_work / "reports").glob("*.json")}
    caplog.set_level("INFO", logger="videobert.commands.demo")
    assert main(["demo", str(demo_work), "--tiny"]) == 0
    assert (demo_work / "demo_state.json").read_text() == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    skipped = [r.getMessage() for r in caplog.records if "already done" in r.getMessage()]
    assert len(skipped) == len(STAGES)  # every stage, the report too


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (.ci/run installs it)")
def test_report_renders_with_all_images_and_metric_tables(demo_work: Path):
    page = render_report(demo_work / "reports" / "report.html", screenshot=ARTIFACTS / "report_e2e.png")
    assert page["images_total"] >= 10  # curves, gallery, strips, confusion matrix, ...
    assert page["images_ok"] == page["images_total"]
    assert page["tables"].count("metrics") == len(TASK_REPORTS)
    for task in TASK_REPORTS:
        assert f"id=\"task-{task}\"" in page["dom"]
    assert (ARTIFACTS / "report_e2e.png").stat().st_size > 10_000
