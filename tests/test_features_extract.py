"""Extraction job: files and manifest, bad videos, re-runs, shards, SIGKILL + resume, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from videogen import write_video

from videobert.cli import main as cli_main
from videobert.errors import InputFileError, VideoBertError
from videobert.features.backbones.classical import DIM
from videobert.features.extract import collect_videos, extract, load_features, parse_shard
from videobert.features.registry import build_backbone
from videobert.utils.manifest import Manifest
from videobert.video.clips import ClipSpec, iter_clips


def _moving_square(n: int, seed: int, h: int = 72, w: int = 96) -> np.ndarray:
    """(n, h, w, 3) uint8: a coloured square moving on a grey background."""
    rng = np.random.default_rng(seed)
    colour = rng.integers(0, 256, 3)
    vx, vy = rng.uniform(-2, 2, 2)
    frames = np.full((n, h, w, 3), 100, dtype=np.uint8)
    for i in range(n):
        cx, cy = int(w / 2 + vx * i) % w, int(h / 2 + vy * i) % h
        frames[i, max(cy - 8, 0) : cy + 8, max(cx - 8, 0) : cx + 8] = colour
    return frames


def _make_videos(folder: Path, n: int, frames: int = 70) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"v{i:02d}.mp4"
        write_video(p, _moving_square(frames, seed=i), fps=20)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    _make_videos(folder, 3, frames=70)  # 3.5 s at 20 fps: 2 full clips (a 0.5 s tail is < min_partial)
    (folder / "sub").mkdir()
    write_video(folder / "sub" / "nested.mkv", _moving_square(40, seed=9), fps=25, codec="ffv1")
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    write_video(folder / "tiny.mp4", _moving_square(4, seed=5), fps=20)  # 0.2 s: one padded clip
    (folder / "empty.mp4").write_bytes(b"")
    return folder


def test_extract_files_manifest_and_rerun(videos, tmp_path):
    work = tmp_path / "work"
    summary = extract(videos, work, backbone="classical", batch_size=2, num_workers=2, progress=False)
    assert summary["n_videos"] == 7
    assert summary["done"] == 5
    assert set(summary["skipped"]) == {"corrupt", "empty"}
    assert summary["n_clips"] == 2 * 3 + 1 + 1
    out = work / "features" / "classical"
    feats, times = load_features(work, "classical", "v00")
    assert feats.dtype == np.float16 and feats.shape == (2, DIM)
    assert (
        np.isfinite(feats).all() and np.abs(np.linalg.norm(feats.astype(np.float32), axis=1) - 1).max() < 1e-2
    )
    assert times.dtype == np.float64
    np.testing.assert_allclose(times, [[0, 1.5], [1.5, 3.0]], atol=1e-6)
    nested, _ = load_features(work, "classical", "nested")
    assert nested.shape == (1, DIM)  # 1.6 s at 25 fps -> one 1.5 s clip, 0.1 s tail dropped
    np.testing.assert_allclose(load_features(work, "classical", "tiny")[1], [[0.0, 0.2]], atol=1e-6)
    info = json.loads((out / "info.json").read_text())
    assert info["backbone"] == "classical" and info["dim"] == DIM
    assert info["fps"] == 20.0 and info["clip_frames"] == 30 and info["stride_frames"] == 30
    latest = Manifest(work).latest("extract/classical")
    assert latest["v01"]["status"] == "ok" and latest["v01"]["n_clips"] == 2
    assert latest["v01"]["duration"] == pytest.approx(3.5, abs=0.06)
    assert latest["corrupt"]["status"] == "skipped" and latest["corrupt"]["error"]

    # features equal the backbone applied to the decoded clips directly
    bb = build_backbone("classical")
    clips = np.stack([c.frames for c in iter_clips(videos / "v02.mp4", ClipSpec(), size=bb.decode_size)])
    direct = bb.embed(clips).astype(np.float16)
    np.testing.assert_array_equal(load_features(work, "classical", "v02")[0], direct)

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    again = extract(videos, work, backbone="classical", progress=False)
    assert again["already_done"] == 5 and again["done"] == 0 and again["n_clips"] == 0
    assert set(again["skipped"]) == {"corrupt", "empty"}  # bad files are retried, and fail again
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")} == before
    # other settings into the same folder would mix features: refused, naming the difference
    with pytest.raises(VideoBertError, match="clip_frames"):
        extract(videos, work, backbone="classical", clips=ClipSpec(frames=20), progress=False)


def test_shards_split_videos(videos, tmp_path, monkeypatch):
    work = tmp_path / "work"
    s0 = extract(videos, work, backbone="classical", shard="0/2", progress=False, num_workers=0)
    s1 = extract(videos, work, backbone="classical", shard=(1, 2), progress=False, num_workers=1)
    assert (s0["n_videos"], s1["n_videos"]) == (4, 3)
    assert s0["already_done"] == s1["already_done"] == 0
    ids = sorted(collect_videos(videos))
    recs = Manifest(work).records("extract/classical")
    assert [r["video_id"] for r in recs[:4]] == ids[0::2]
    assert [r["video_id"] for r in recs[4:]] == ids[1::2]
    assert len(list((work / "features" / "classical" / "clip_times").glob("*.npy"))) == 5
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert parse_shard(None) == (1, 3)
    with pytest.raises(Exception, match="0 <= i < n"):
        parse_shard("3/3")


def test_video_list_and_duplicate_ids(tmp_path):
    a = tmp_path / "a" / "x.mp4"
    b = tmp_path / "b" / "x.mp4"
    for p in (a, b):
        p.parent.mkdir()
        write_video(p, _moving_square(31, seed=1), fps=20)
    assert list(collect_videos([a])) == ["x"]
    with pytest.raises(InputFileError, match="also the id of"):
        collect_videos([a, b])
    s = extract([a], tmp_path / "w", backbone="classical", progress=False)
    assert s["done"] == 1


_CHILD = """
import sys
from videobert.features.backbones.classical import DIM
from videobert.features.extract import extract
extract(sys.argv[1], sys.argv[2], backbone="classical", batch_size=1, num_workers=1, progress=False)
"""


def test_sigkill_then_rerun_is_byte_identical(tmp_path):
    folder = tmp_path / "vids"
    _make_videos(folder, 6, frames=80)
    ref_work = tmp_path / "ref"
    extract(folder, ref_work, backbone="classical", batch_size=1, num_workers=1, progress=False)

    work = tmp_path / "killed"
    out = work / "features" / "classical"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(work)], env=env)
    n_done = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        n_done = (
            len(list(out.glob("v*.npy"))) if out.exists() else 0
        )
        if n_done >= 1:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = list(out.glob("v*.npy"))
    assert 1 <= len(finished) < 6, "the kill should land mid-run"

    summary = extract(folder, work, backbone="classical", batch_size=1, num_workers=1, progress=False)
    assert summary["already_done"] == len(finished)
    assert summary["done"] == 6 - len(finished)
    ref = ref_work / "features" / "classical"
    ref_files = sorted(str(p.relative_to(ref)) for p in ref.rglob("*.npy"))
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.npy")) == ref_files and len(ref_files) == 12
    for name in ref_files:
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name


def test_cli_extract(videos, tmp_path):
    work = tmp_path / "w"
    rc = cli_main(
        [
            "-q",
            "extract",
            str(videos / "v00.mp4"),
            str(videos / "v01.mp4"),
            "--backbone",
            "classical",
            "--work",
            str(work),
            "--no-progress",
            "--clip-frames",
            "20",
        ]
    )
    assert rc == 0
    feats, times = load_features(work, "classical", "v01")
    assert feats.shape == (4, DIM)  # 3.5 s in 1.0 s clips: 3 full + a 0.5 s partial
    np.testing.assert_allclose(times[1], [1.0, 2.0])
    # an unknown backbone: one error line with the closest name, before any video is opened
    assert cli_main(["-q", "extract", str(videos), "--backbone", "clasical", "--work", str(work)]) == 1
    assert (
        cli_main(
            ["-q", "extract", str(tmp_path / "missing.mp4"), "--backbone", "classical", "--work", str(work)]
        )
        == 1
    )
