"""Atomic writes, the manifest, and dataclass configs with YAML + dotted overrides."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from videobert.config import ConfigError, load_config
from videobert.utils.io import atomic_open, atomic_save_npy, atomic_write_json
from videobert.utils.manifest import Manifest


def test_atomic_open_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write(b"new partial")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temp file left


def test_atomic_save_npy_is_byte_identical(tmp_path):
    a = np.arange(12, dtype=np.float16).reshape(3, 4)
    atomic_save_npy(tmp_path / "a.npy", a)
    atomic_save_npy(tmp_path / "b.npy", a.copy())
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), a)


def test_atomic_write_json_sorted(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1, 2], "b": 1}
    assert (tmp_path / "x.json").read_text().index('"a"') < (tmp_path / "x.json").read_text().index('"b"')


def test_manifest_latest_wins_and_torn_line_ignored(tmp_path):
    m = Manifest(tmp_path)
    m.append({"stage": "extract/x", "video_id": "v1", "status": "skipped", "error": "bad"})
    m.append({"stage": "extract/x", "video_id": "v1", "status": "ok", "error": None})
    m.append({"stage": "tokens", "video_id": "v2", "status": "ok"})
    with open(m.path, "a", encoding="utf-8") as fh:
        fh.write('{"stage": "extract/x", "video_id": "v3", "sta')  # a write cut by SIGKILL
    latest = m.latest("extract/x")
    assert set(latest) == {"v1"}
    assert latest["v1"]["status"] == "ok"
    assert len(m.records()) == 3


@dataclasses.dataclass
class _Optim:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)


@dataclasses.dataclass
class _Cfg:
    steps: int = 10
    name: str = "a"
    init: str | None = None
    optim: _Optim = dataclasses.field(default_factory=_Optim)


def test_load_config_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 20\noptim:\n  lr: 3.0e-4\n")
    cfg = load_config(_Cfg, path, ["optim.betas=[0.8, 0.9]", "name=b", "init=null"])
    assert load_config(_Cfg, None, ["optim.lr=3e-4"]).optim.lr == pytest.approx(3e-4)  # YAML 1.1 string
    assert cfg.steps == 20 and cfg.name == "b" and cfg.init is None
    assert cfg.optim.lr == pytest.approx(3e-4) and cfg.optim.betas == (0.8, 0.9)
    assert isinstance(cfg.optim, _Optim)


def test_load_config_rejects_unknown_and_wrong_types(tmp_path):
    with pytest.raises(ConfigError, match="optim.nope"):
        load_config(_Cfg, None, ["optim.nope=1"])
    with pytest.raises(ConfigError, match="steps"):
        load_config(_Cfg, None, ["steps=many"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(_Cfg, None, ["steps"])


def test_cli_without_command_prints_help(capsys):
    from videobert.cli import main

    assert main([]) == 2
    assert "usage: videobert" in capsys.readouterr().out


def test_cli_offers_the_other_commands_when_a_dependency_is_missing(monkeypatch, capsys):
    import importlib

    from videobert import cli

    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name == "videobert.commands.probe":
            raise ModuleNotFoundError("No module named 'av'", name="av")
        if name == "videobert.commands.report":
            raise ModuleNotFoundError("No module named 'videobert.oops'", name="videobert.oops")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(cli.importlib, "import_module", fake)
    with pytest.raises(ModuleNotFoundError, match="videobert.oops"):  # our own bug is not hidden
        cli.build_parser()
    monkeypatch.setattr(cli, "COMMAND_MODULES", tuple(m for m in cli.COMMAND_MODULES if m != "report"))
    parser = cli.build_parser()
    assert "probe (needs av)" in parser.epilog
    # pretrain stays available, probe is gone
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["pretrain", "--help"])
    assert exc.value.code == 0 and "videobert pretrain" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["probe", "x.mp4"])
