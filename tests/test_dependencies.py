"""What a CUDA cluster installs: ranges (no exact torch pin) in the package metadata, faiss as one of
two extras, the caption scorers optional; a missing optional package is one line naming the command."""

from __future__ import annotations

import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement

from videobert.cli import main
from videobert.eval.captions import CaptionScorerError, score_captions
from videobert.features.importer import import_features

ROOT = Path(__file__).resolve().parents[1]
TESTED = {"torch": "2.14.1", "torchvision": "0.29.1"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _by_name(reqs: list[str]) -> dict[str, Requirement]:
    return {Requirement(r).name.lower(): Requirement(r) for r in reqs}


def _check_torch_ranges(reqs: dict[str, Requirement], where: str) -> None:
    for name, version in TESTED.items():
        spec = reqs[name].specifier
        assert not any(s.operator in ("==", "===") for s in spec), f"{where}: {name} pinned ({spec})"
        assert spec.contains(version), f"{where}: {name} {spec} leaves out the tested {version}"


def test_metadata_gives_ranges_and_optional_extras():
    project = _project()
    base = _by_name(project["dependencies"])
    _check_torch_ranges(base, "pyproject.toml")
    assert not {"faiss", "faiss-cpu", "faiss-gpu", "pycocoevalcap"} & set(base)
    extras = {k: _by_name(v) for k, v in project["optional-dependencies"].items()}
    assert set(extras["faiss-cpu"]) == {"faiss-cpu"} and set(extras["faiss-gpu"]) == {"faiss-gpu"}
    assert set(extras["caption"]) == {"pycocoevalcap"}
    assert {"faiss-cpu", "pycocoevalcap", "pytest"} <= set(extras["dev"]) and "faiss-gpu" not in extras["dev"]
    # the set-up script pins the tested versions for this machine, and says so in the README
    pins = [Requirement(line) for line in (ROOT / "scripts" / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]  # fmt: skip
    assert {r.name: str(r.specifier) for r in pins} == {k: f"=={v}" for k, v in TESTED.items()}
    assert "-c scripts/constraints.txt" in (ROOT / "scripts" / "setup.sh").read_text()
    readme = (ROOT / "README.md").read_text()
    assert all(f"{k} {v}" in readme for k, v in TESTED.items())
    # the torch this suite runs on lies in the ranges
    for name in TESTED:
        assert base[name].specifier.contains(metadata.version(name).split("+")[0])


def test_installed_metadata_has_no_torch_pin():
    try:
        dist = metadata.distribution("videobert")
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    except metadata.PackageNotFoundError:
        pytest.skip("videobert is not installed (run from the source tree)")
    if url.rstrip("/") != ROOT.as_uri():
        pytest.skip(f"the installed videobert is another checkout's ({url})")
    _check_torch_ranges(
        _by_name([r for r in dist.requires or [] if "extra ==" not in r]), "installed metadata"
    )


def _one_error(caplog: pytest.LogCaptureFixture) -> str:
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


def test_missing_caption_scorers_are_one_line(monkeypatch, caplog, task_world):
    monkeypatch.setitem(sys.modules, "pycocoevalcap", None)  # `import pycocoevalcap` now fails
    with pytest.raises(CaptionScorerError, match=r"pip install 'videobert\[caption\]'"):
        score_captions({1: ["a red star"]}, {1: "a red star"}, meteor=False, tokenizer="python")
    caplog.set_level("WARNING")
    assert main(["-q", "caption", str(task_world)]) == 1  # before any training
    line = _one_error(caplog)
    assert "pycocoevalcap" in line and "pip install 'videobert[caption]'" in line


def test_missing_faiss_is_one_line(monkeypatch, caplog, tmp_path):
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(arrays / f"v{i}.npy", rng.normal(size=(40, 8)).astype(np.float32))
    import_features(arrays, tmp_path / "w", name="rnd", progress=False)
    monkeypatch.setitem(sys.modules, "faiss", None)
    caplog.set_level("WARNING")
    assert main(["-q", "fit-vocab", str(tmp_path / "w"), "--backbone", "rnd"]) == 1
    line = _one_error(caplog)
    assert "fit-vocab" in line and "pip install 'videobert[faiss-cpu]'" in line and "faiss-gpu" in line
    # the demo says so before its first stage, for every package it lacks
    monkeypatch.setitem(sys.modules, "pycocoevalcap", None)
    caplog.clear()
    assert main(["-q", "demo", str(tmp_path / "demo"), "--tiny"]) == 1
    line = _one_error(caplog)
    assert "videobert[faiss-cpu]" in line and "videobert[caption]" in line
    assert not (tmp_path / "demo").exists()
