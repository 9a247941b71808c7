"""One CLI dialect: every sub-command takes --config, --print-config and key=value anywhere; user
errors are one line naming the key, file or device, with a did-you-mean where one helps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from videobert.cli import build_parser, main, parse_args
from videobert.commands.dialect import split_overrides

# The positionals each sub-command needs ({tmp} is a scratch folder).
POSITIONALS = {
    "synth": ["{tmp}/out"],
    "probe": ["{tmp}"],
    "extract": ["{tmp}", "--work", "{tmp}/w"],
    "import-features": ["{tmp}", "--work", "{tmp}/w"],
    "demo": ["{tmp}/demo"],
    "export": ["{tmp}/work", "{tmp}/out"],
}


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    return list(sub.choices)


def test_every_command_prints_its_config_and_reads_it_back(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    names = _commands()
    assert {"synth", "extract", "fit-vocab", "tokenize", "pretrain", "zero-shot", "caption", "report", "demo"} <= set(names)
    for name in names:
        pos = [p.format(tmp=tmp_path) for p in POSITIONALS.get(name, ["{tmp}/work"])]
        assert main(["-q", name, *pos, "--print-config"]) == 0, name
        printed = capsys.readouterr().out
        assert isinstance(yaml.safe_load(printed), dict), name
        cfg_file = tmp_path / f"{name}.yaml"
        cfg_file.write_text(printed)
        assert main(["-q", name, *pos, "--config", str(cfg_file), "--print-config"]) == 0, name
        assert capsys.readouterr().out == printed, name


def test_key_value_overrides_anywhere_and_flags_alike(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # the three command lines
    for argv, key, value in [
        (["caption", "W", "--annotations", "A", "beam=3"], "beam", 3),
        (["zero-shot", "W", "calibration=prior", "--annotations", "A"], "calibration", "prior"),
        (["extract", "VIDEOS", "--work", "W", "batch_size=4"], "batch_size", 4),
    ]:
        assert main(["-q", *argv, "--print-config"]) == 0
        assert yaml.safe_load(capsys.readouterr().out)[key] == value
    # a flag and its key say the same; a later --set wins over the flag
    assert main(["-q", "fit-vocab", "W", "--levels", "3", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["levels"] == 3
    assert main(["-q", "fit-vocab", "W", "--levels", "3", "--set", "levels=2", "branching=5", "--print-config"]) == 0
    assert (lambda c: (c["levels"], c["branching"]))(yaml.safe_load(capsys.readouterr().out)) == (2, 5)
    # nested keys: pretrain's model and collate sections, extract's clip grid
    assert main(["-q", "pretrain", "W", "--preset", "demo", "model.num_hidden_layers=1", "collate.mask_prob=0.2",
                 "lr=3e-4", "--print-config"]) == 0  # fmt: skip
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["num_hidden_layers"] == 1 and cfg["model"]["alignment_pooling"] == "mean"  # preset kept
    assert cfg["collate"]["mask_prob"] == 0.2 and cfg["lr"] == pytest.approx(3e-4)
    assert main(["-q", "extract", "V", "--work", "W", "--fps", "10", "clips.frames=15", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["clips"] == {
        "fps": 10.0, "frames": 15, "stride": None, "partial": "pad", "min_partial": 0.5
    }  # fmt: skip
    # synth's recipe-step cap is no longer called --max-steps (pretrain's optimiser steps are)
    assert main(["-q", "synth", str(tmp_path), "--steps-per-video", "2", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["max_steps_per_video"] == 2


def test_split_overrides_leaves_option_values_and_marked_paths() -> None:
    parser = build_parser()
    argv = ["-q", "tokenize", "W", "--annotations", "a=b.json", "seed=3", "./x=y", "--", "val_fraction=0.2"]
    rest, overrides = split_overrides(parser, argv)
    assert overrides == ["seed=3"]
    assert rest == ["-q", "tokenize", "W", "--annotations", "a=b.json", "./x=y", "--", "val_fraction=0.2"]
    args = parse_args(["tokenize", "W", "seed=3", "--transcripts", "T", "sentences.min_words=2"])
    assert args.overrides == ["seed=3", "sentences.min_words=2"] and args.transcripts == "T"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pretrain", "{work}", "model.num_hiden_layers=2"], "unknown config key 'model.num_hiden_layers' for the model config (VideoBertConfig) (did you mean 'num_hidden_layers'?)"),
        (["pretrain", "{work}", "collate.mask_prb=0.2"], "unknown config key 'collate.mask_prb' for CollateConfig (did you mean 'mask_prob'?)"),
        (["pretrain", "{work}", "--config", "{tmp}/missing.yaml"], "missing.yaml: cannot read config file (No such file or directory)"),
        (["caption", "{work}", "bem=3"], "unknown config key 'bem' for CaptionConfig (did you mean 'beam'?)"),
        (["fit-vocab", "{work}", "--levels", "0"], "VocabConfig: levels must be >= 1, got 0"),
        (["tokenize", "{work}", "--min-words", "9", "--max-words", "3"], "need 1 <= min_words <= max_words, got 9 and 3"),
        (["extract", "{tmp}", "--work", "{work}", "--fps", "0"], "ClipSpec.fps must be positive, got 0.0"),
        (["report", "{tmp}/typo-dir"], "typo-dir: no such work directory"),
        (["report", "{work}"], "no stage output to report"),
        (["demo", "{tmp}/d", "max_steps=5"], "(did you mean 'pretrain.max_steps'?)"),
        (["demo", "{tmp}/d", "tasks.captoin.steps=5"], "(did you mean 'caption'?)"),
    ],
)
def test_user_errors_are_one_line(argv: list[str], message: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    work = tmp_path / "work"
    work.mkdir()
    caplog.set_level("ERROR", logger="videobert")
    assert main([a.format(work=work, tmp=tmp_path) for a in argv]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors


def test_no_traceback_reaches_the_user(tmp_path: Path) -> None:
    """As a user runs it: exit status 1 and one line on stderr, for a device this machine lacks too."""
    import torch

    work = tmp_path / "work"
    work.mkdir()
    cases = [["pretrain", str(work), "model.num_hiden_layers=2"], ["report", str(tmp_path / "typo-dir")]]
    if not torch.cuda.is_available():
        cases.append(["pretrain", str(work), "--device", "cuda"])
    for argv in cases:
        proc = subprocess.run([sys.executable, "-m", "videobert.cli", *argv], capture_output=True, text=True, timeout=120)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 1, proc.stderr
        assert len(lines) == 1 and "Traceback" not in proc.stderr and "ERROR" in lines[0], proc.stderr
        if "--device" in argv:
            assert "no CUDA GPU is visible" in lines[0] and "--device cpu" in lines[0]


def _doc_snippet(heading: str) -> str:
    """The first ```python block under ``## heading`` of docs/ARCHITECTURE.md."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_task_and_backbone_are_plugins(task_world: Path, tmp_path: Path) -> None:
    """docs/ARCHITECTURE.md's "Adding a task" / "Adding a backbone" code, as VIDEOBERT_PLUGINS modules
    (in a fresh process, as a user runs it): the task becomes a sub-command with a report, the
    backbone an extract --backbone."""
    import json
    import os

    import numpy as np
    from videogen import pattern_frames, write_video

    (tmp_path / "vb_doc_task.py").write_text(_doc_snippet("Adding a task"))
    (tmp_path / "vb_doc_backbone.py").write_text(_doc_snippet("Adding a backbone"))
    env = {**os.environ, "VIDEOBERT_PLUGINS": "vb_doc_task, vb_doc_backbone", "PYTHONPATH": str(tmp_path)}

    def videobert(*argv: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "videobert.cli", "-q", *argv], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]

    videobert("sentence-match", str(task_world), "max_length=32")
    rep = json.loads((task_world / "reports" / "sentence-match.json").read_text())
    assert rep["n"] == 45 and rep["baseline"] == {"accuracy": 0.5} and rep["config"]["max_length"] == 32
    assert 0.0 <= rep["metrics"]["accuracy"] <= 1.0 and rep["baseline_name"] == "chance"
    video = tmp_path / "clip.mp4"
    write_video(video, pattern_frames(60, 48, 64), fps=20)
    work = tmp_path / "w"
    videobert("extract", str(video), "--work", str(work), "--backbone", "r3d_18", "--random-weights", "--input-size", "32")
    feats = np.load(work / "features" / "r3d_18" / "clip.npy")
    assert feats.shape == (2, 512) and np.isfinite(feats).all()  # 60 frames at 20 fps: two 1.5 s clips


def test_tasks_take_a_device_and_refuse_cuda_without_a_gpu(tmp_path, caplog) -> None:
    """Every task has ``--device``; asking for CUDA where there is none is one line, exit 1."""
    import torch

    from videobert.tasks import get_task, task_names

    for name in task_names():
        assert get_task(name).config_class().device is None, name
    if torch.cuda.is_available():
        return
    work = tmp_path / "work"
    (work / "checkpoints" / "step-1").mkdir(parents=True)
    (work / "checkpoints" / "step-1" / "config.json").write_text("{}")
    (tmp_path / "annotations.json").write_text('{"database": {}}')
    caplog.set_level("ERROR", logger="videobert")
    assert main(["classify", str(work), "--device", "cuda", "--annotations", str(tmp_path / "annotations.json")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "no CUDA GPU is visible" in errors[0] and "\n" not in errors[0], errors
