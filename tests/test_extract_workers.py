"""Extraction's decoding workers (processes, threads, inline: the same bytes; processes really are
other processes) and the device each torchrun rank extracts on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from videogen import write_video

from videobert.errors import VideoBertError
from videobert.features import registry
from videobert.features.extract import extract, extract_device, load_features
from videobert.features.registry import Backbone, BackboneSpec
from videobert.utils.manifest import Manifest


def _frames(n: int, seed: int, h: int = 72, w: int = 96) -> np.ndarray:
    """(n, h, w, 3) uint8: a coloured square moving over a grey background."""
    rng = np.random.default_rng(seed)
    colour, (vx, vy) = rng.integers(0, 256, 3), rng.uniform(-2, 2, 2)
    out = np.full((n, h, w, 3), 100, dtype=np.uint8)
    for i in range(n):
        cx, cy = int(w / 2 + vx * i) % w, int(h / 2 + vy * i) % h
        out[i, max(cy - 8, 0) : cy + 8, max(cx - 8, 0) : cx + 8] = colour
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for i in range(5):  # 3.5-4.5 s at 20 fps: 2-3 clips each
        write_video(folder / f"v{i}.mp4", _frames(70 + 10 * (i % 3), seed=i), fps=20)
    write_video(folder / "tiny.mp4", _frames(4, seed=7), fps=20)  # one padded clip
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(1500))
    return folder


def _feature_bytes(work: Path, backbone: str = "classical") -> dict[str, bytes]:
    root = work / "features" / backbone
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.npy"))}


def _records(work: Path, backbone: str = "classical") -> dict[str, tuple]:
    latest = Manifest(work).latest(f"extract/{backbone}")
    return {v: (r["status"], r.get("n_clips"), r.get("error"), r.get("duration")) for v, r in latest.items()}


def test_worker_processes_give_the_in_process_features(videos, tmp_path):
    kw = dict(backbone="classical", batch_size=2, progress=False)
    inline = extract(videos, tmp_path / "inline", num_workers=0, **kw)
    procs = extract(videos, tmp_path / "procs", num_workers=2, worker_type="process", **kw)
    threads = extract(videos, tmp_path / "threads", num_workers=2, worker_type="thread", **kw)
    ref = _feature_bytes(tmp_path / "inline")
    assert len(ref) == 2 * 6  # features + clip times of the 6 usable videos
    assert _feature_bytes(tmp_path / "procs") == ref
    assert _feature_bytes(tmp_path / "threads") == ref
    for s in (procs, threads):
        assert (s["done"], s["n_clips"], set(s["skipped"])) == (
            inline["done"],
            inline["n_clips"],
            {"corrupt"},
        )
        assert s["device"] == "cpu"
    assert _records(tmp_path / "procs") == _records(tmp_path / "inline") == _records(tmp_path / "threads")
    # batches of 2 clips: a 3-clip video comes back in two batches and is still one array, in order
    feats, times = load_features(tmp_path / "procs", "classical", "v1")
    assert feats.shape[0] == 3 and np.all(np.diff(times[:, 0]) > 0)
    with pytest.raises(VideoBertError, match="worker_type"):
        extract(videos, tmp_path / "bad", worker_type="fibres", **kw)


class _PidBackbone(Backbone):
    """Features that say which process prepared them: the pid's base-1000 digits (exact in float16)."""

    def prepare(self, clips: np.ndarray) -> torch.Tensor:
        pid = os.getpid()
        digits = [(pid // 10**6) % 1000, (pid // 1000) % 1000, pid % 1000]
        return torch.tensor([digits] * clips.shape[0], dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()


def _pid_factory(spec, device, crop, resize) -> Backbone:  # noqa: ANN001
    return _PidBackbone(spec, None, "none", torch.device("cpu"), crop, resize)


def test_decoding_runs_in_other_processes(videos, tmp_path, monkeypatch):
    spec = BackboneSpec(
        name="pid-probe", dim=3, kind="classical", frames_per_clip=1, resize_size=(32, 32), crop_size=(32, 32),
        mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), decode_size=(32, 32), extra={"factory": _pid_factory},
    )  # fmt: skip
    registry.available_backbones()  # the built-in ones first
    monkeypatch.setitem(registry._BACKBONES._items, "pid-probe", spec)

    def pids(work: Path) -> set[int]:
        rows = np.concatenate([np.load(p) for p in (work / "features" / "pid-probe").glob("*.npy")])
        return {int(a) * 10**6 + int(b) * 1000 + int(c) for a, b, c in rows.astype(np.int64)}

    extract(videos, tmp_path / "w2", backbone="pid-probe", num_workers=2, progress=False)
    workers = pids(tmp_path / "w2")
    assert len(workers) == 2 and os.getpid() not in workers
    extract(videos, tmp_path / "w0", backbone="pid-probe", num_workers=0, progress=False)
    assert pids(tmp_path / "w0") == {os.getpid()}


def test_each_torchrun_rank_extracts_on_its_own_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")
    if not torch.cuda.is_available():  # the real answer here: no GPU, the CPU unless CUDA is demanded
        assert extract_device(None) == torch.device("cpu")
        with pytest.raises(VideoBertError, match="no CUDA GPU"):
            extract_device("cuda")
    # a node with 4 visible GPUs (torch's own view of the machine replaced; our code unchanged)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert extract_device(None) == torch.device("cuda", 3)
    assert extract_device("cuda") == torch.device("cuda", 3)
    assert extract_device("auto") == torch.device("cuda", 3)
    assert extract_device("cuda:1") == torch.device("cuda", 1)
    assert extract_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert extract_device(None) == torch.device("cuda", 0)
    # one GPU per process (CUDA_VISIBLE_DEVICES, SLURM --gpus-per-task=1): that one, whatever the rank
    monkeypatch.setenv("LOCAL_RANK", "3")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert extract_device(None) == torch.device("cuda", 0)
    # more ranks on the node than GPUs: one line saying so
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(VideoBertError, match=r"LOCAL_RANK=3 but this process sees 2 CUDA devices"):
        extract_device(None)
