"""benchmarks/scaling.py at a tiny scale: every stage in its own process at 1x and 2x, the JSON
and the table of ratios (the full 1x / 4x / 16x run is a benchmark, not a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"
STAGES = ["synth", "extract", "fit-vocab", "tokenize", "pretrain"]


@pytest.mark.slow
def test_scaling_script_runs_every_stage_at_each_scale(tmp_path):
    work = tmp_path / "scaling"
    argv = [sys.executable, str(SCRIPT), "--work", str(work), "--base", "2", "--scales", "1", "2"]
    argv += ["--steps", "2", "--tiny"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((work / "scaling.json").read_text())
    assert report["videos"] == {"1": 2, "2": 4} and report["steps"] == 2
    for k in ("1", "2"):
        assert list(report["results"][k]) == STAGES
        for r in report["results"][k].values():
            # a stage's own process: its time inside the process, and a real Python + torch's memory
            assert 0 < r["stage_seconds"] <= r["seconds"]
            assert 100 < r["peak_rss_mib"] < 8000 and 50 < r["peak_tree_mib"] < 8000
    for stage in STAGES:
        r = report["ratios"]["2"][stage]
        a, b = report["results"]["1"][stage], report["results"]["2"][stage]
        assert r["time"] == pytest.approx(b["stage_seconds"] / a["stage_seconds"])
        assert r["time_per_video"] == pytest.approx(r["time"] / 2)
        assert r["peak_rss"] == pytest.approx(b["peak_rss_mib"] / a["peak_rss_mib"])
    # each scale's stages ran on that scale's corpus, through pretraining
    for k, n in (("1", 2), ("2", 4)):
        folder = work / f"x{k}"
        assert len(list((folder / "features" / "classical").glob("*.npy"))) == n
        assert (folder / "corpus" / "train.parquet").is_file()
        assert (folder / "checkpoints" / "step-2" / "model.safetensors").is_file()
    assert "ratio to 1x" in done.stdout and "fit-vocab" in done.stdout
