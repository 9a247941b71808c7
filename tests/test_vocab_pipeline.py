"""fit-vocab / assign_all / gallery over a real work directory (features made with numpy, videos with PyAV)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from videogen import write_video

from videobert.cli import main
from videobert.errors import StageMissingError, VideoBertError
from videobert.utils.io import atomic_save_npy, atomic_write_json
from videobert.utils.manifest import Manifest
from videobert.vocab import assign_all, build_gallery, fit_vocab, load_word_thumbnails
from videobert.workdir import WorkDir

N_BLOBS = 4
DIM = 16
# one solid colour per blob: a clip of blob b shows COLOURS[b], so the gallery can be checked by colour
COLOURS = np.array([[230, 20, 20], [20, 200, 30], [30, 40, 220], [240, 230, 20]], dtype=np.uint8)
CLIP_S = 0.5
FPS = 8


def _make_work(root: Path, n_videos: int = 4, clips: int = 12, backbone: str = "toy", seed: int = 0) -> dict[str, np.ndarray]:
    """Videos whose clips each show one blob's colour, features near that blob's centre, manifest records.

    Returns ``video_id -> blob label per clip``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_BLOBS, DIM)) * 5
    feat = root / "work" / "features" / backbone
    feat.mkdir(parents=True, exist_ok=True)
    atomic_write_json(feat / "info.json", {"backbone": backbone, "dim": DIM, "fps": FPS})
    manifest = Manifest(root / "work")
    labels = {}
    for v in range(n_videos):
        vid = f"video{v}"
        y = rng.integers(0, N_BLOBS, clips)
        y[:N_BLOBS] = np.arange(N_BLOBS)  # every blob in every video
        x = (centres[y] + 0.2 * rng.normal(size=(clips, DIM))).astype(np.float16)
        times = np.stack([np.arange(clips) * CLIP_S, (np.arange(clips) + 1) * CLIP_S], 1)  # (n_clips, 2)
        per_clip = int(CLIP_S * FPS)
        frames = np.repeat(COLOURS[y], per_clip, axis=0)[:, None, None, :]  # (clips*per_clip, 1, 1, 3)
        frames = np.broadcast_to(frames, (clips * per_clip, 24, 32, 3))  # (T, H, W, 3)
        src = root / "videos" / f"{vid}.mkv"
        src.parent.mkdir(parents=True, exist_ok=True)
        write_video(src, frames, FPS, codec="ffv1")
        atomic_save_npy(feat / f"{vid}.npy", x)
        atomic_save_npy(WorkDir(root / "work").feature_times_file(backbone, vid), times)
        manifest.append({"stage": f"extract/{backbone}", "video_id": vid, "path": str(src), "status": "ok", "n_clips": clips})
        labels[vid] = y
    manifest.append({"stage": f"extract/{backbone}", "video_id": "broken", "path": "x.mp4", "status": "skipped", "error": "bad"})
    return labels


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    labels = _make_work(tmp_path)
    return tmp_path / "work", labels


def test_fit_vocab_writes_vocab_tokens_stats(work) -> None:
    w, labels = work
    stats = fit_vocab(w, levels=2, branching=3, max_samples=40, seed=0)
    cfg = json.loads((w / "vocab" / "config.json").read_text())
    assert cfg["levels"] == 2 and cfg["branching"] == 3 and cfg["n_words"] == 9 and cfg["dim"] == DIM
    assert cfg["backbone"] == "toy" and cfg["seed"] == 0 and cfg["n_fit_samples"] == 40 and cfg["normalize"] is True
    assert (w / "vocab" / "centroids.safetensors").exists()
    tokens = {}
    for vid, y in labels.items():
        ids = np.load(w / "tokens" / f"{vid}.npy")
        assert ids.dtype == np.int32 and ids.shape == y.shape and ids.min() >= 0 and ids.max() < 9
        np.testing.assert_array_equal(
            np.load(WorkDir(w).token_times_file(vid)), np.load(WorkDir(w).feature_times_file("toy", vid))
        )
        tokens[vid] = ids
    all_ids = np.concatenate(list(tokens.values()))
    all_y = np.concatenate(list(labels.values()))
    for b in range(N_BLOBS):  # each blob's clips share words no other blob uses
        assert not set(all_ids[all_y == b].tolist()) & set(all_ids[all_y != b].tolist())
    saved = json.loads((w / "vocab" / "stats.json").read_text())
    counts = np.bincount(all_ids, minlength=9)
    assert saved["counts"] == counts.tolist() == stats["counts"]
    assert saved["n_tokens"] == 48 and saved["n_videos"] == 4
    assert saved["words_used"] == int((counts > 0).sum())
    p = counts[counts > 0] / 48
    assert saved["entropy_bits"] == pytest.approx(float(-(p * np.log2(p)).sum()))
    assert saved["largest_share"] == pytest.approx(counts.max() / 48)
    assert 0 <= saved["inertia"] < 0.05  # normalised features, tight blobs
    recs = Manifest(w).latest("tokens")
    assert sorted(recs) == sorted(labels) and all(r["status"] == "ok" for r in recs.values())
    assert "broken" not in recs  # skipped at extraction: not assigned


def test_assign_all_resumes_and_redoes_stale(work) -> None:
    w, labels = work
    fit_vocab(w, levels=2, branching=3, seed=0)
    mtimes = {vid: (w / "tokens" / f"{vid}.npy").stat().st_mtime_ns for vid in labels}
    n_records = len(Manifest(w).records("tokens"))
    stats = assign_all(w)
    assert {vid: (w / "tokens" / f"{vid}.npy").stat().st_mtime_ns for vid in labels} == mtimes
    assert len(Manifest(w).records("tokens")) == n_records  # nothing redone
    assert stats["n_tokens"] == 48
    # newer features for one video: only that one is redone
    f = w / "features" / "toy" / "video1.npy"
    later = time.time() + 5
    os.utime(f, (later, later))
    assign_all(w)
    assert (w / "tokens" / "video1.npy").stat().st_mtime_ns != mtimes["video1"]
    assert (w / "tokens" / "video0.npy").stat().st_mtime_ns == mtimes["video0"]
    assert len(Manifest(w).records("tokens")) == n_records + 1


def test_same_seed_same_tokens_and_flat_method(work) -> None:
    w, labels = work
    fit_vocab(w, levels=2, branching=3, seed=3)
    first = {vid: np.load(w / "tokens" / f"{vid}.npy") for vid in labels}
    c1 = (w / "vocab" / "centroids.safetensors").read_bytes()
    fit_vocab(w, levels=2, branching=3, seed=3, method="flat")
    assert (w / "vocab" / "centroids.safetensors").read_bytes() == c1
    for vid in labels:  # refit makes the old tokens stale; on clean blobs flat == tree
        np.testing.assert_array_equal(np.load(w / "tokens" / f"{vid}.npy"), first[vid])
    assert json.loads((w / "vocab" / "config.json").read_text())["method"] == "flat"


def test_bad_video_is_skipped_not_fatal(work) -> None:
    w, labels = work
    bad = np.load(w / "features" / "toy" / "video2.npy")
    bad[3] = np.nan
    atomic_save_npy(w / "features" / "toy" / "video2.npy", bad)
    stats = fit_vocab(w, levels=2, branching=3, seed=0)
    assert stats["n_videos"] == 3 and stats["n_tokens"] == 36
    rec = Manifest(w).latest("tokens")["video2"]
    assert rec["status"] == "skipped" and "NaN" in rec["error"] and "video2.npy" in rec["error"]
    assert not (w / "tokens" / "video2.npy").exists()


def test_backbone_choice(tmp_path: Path) -> None:
    _make_work(tmp_path, n_videos=1, backbone="a")
    _make_work(tmp_path, n_videos=1, backbone="b", seed=1)
    w = tmp_path / "work"
    with pytest.raises(VideoBertError, match="several backbones"):
        fit_vocab(w, levels=1, branching=3)
    with pytest.raises(StageMissingError):
        fit_vocab(w, backbone="nope", levels=1, branching=3)
    fit_vocab(w, backbone="b", levels=1, branching=3)
    assert json.loads((w / "vocab" / "config.json").read_text())["backbone"] == "b"
    with pytest.raises(StageMissingError):
        fit_vocab(tmp_path / "empty", levels=1, branching=3)


def test_cli_and_gallery(work, caplog) -> None:
    w, labels = work
    assert main(["fit-vocab", str(w), "--levels", "2", "--branching", "3", "--max-samples", "30", "--seed", "1"]) == 0
    assert json.loads((w / "vocab" / "config.json").read_text())["n_fit_samples"] == 30
    # one video's source file disappears: its clips are left out of the gallery with a warning
    gone = Path(Manifest(w).latest("extract/toy")["video3"]["path"])
    gone.unlink()
    with caplog.at_level(logging.WARNING):
        assert main(["gallery", str(w), "--per-word", "3", "--thumb-size", "16", "--top-n", "50"]) == 0
    assert any("video3" in r.getMessage() for r in caplog.records)
    stats = json.loads((w / "vocab" / "stats.json").read_text())
    counts = np.array(stats["counts"])
    used = np.flatnonzero(counts)
    page = (w / "gallery" / "index.html").read_text()
    pos = [page.index(f'<tr><td>{wd}</td>') for wd in used]
    # rows in order of decreasing count
    assert [int(c) for c in counts[used[np.argsort(pos)]]] == sorted(counts[used].tolist(), reverse=True)
    thumbs = load_word_thumbnails(w)
    assert set(thumbs) == set(used.tolist())
    all_ids = np.concatenate([np.load(w / "tokens" / f"{v}.npy") for v in labels])
    all_y = np.concatenate(list(labels.values()))
    for wd in used:
        img = Image.open(w / "gallery" / "words" / f"{wd}.png")
        n_avail = sum(int((np.load(w / "tokens" / f"{v}.npy") == wd).sum()) for v in labels if v != "video3")
        n_show = min(3, n_avail)  # nearest clips among the videos still there
        assert img.size[0] == 2 + min(4, n_show) * 18  # columns of 16 px frames + 2 px padding
        blob = np.bincount(all_y[all_ids == wd]).argmax()
        t = thumbs[int(wd)]
        assert t.shape == (16, 16, 3) and t.dtype == np.uint8
        # letterboxed 32x24 -> 16x12 centred: the middle row is the blob's colour (lossless ffv1)
        np.testing.assert_allclose(t[8, 8].astype(int), COLOURS[blob].astype(int), atol=3)


def test_gallery_needs_vocab(tmp_path: Path) -> None:
    with pytest.raises(StageMissingError):
        build_gallery(tmp_path)
    with pytest.raises(StageMissingError):
        load_word_thumbnails(tmp_path)
