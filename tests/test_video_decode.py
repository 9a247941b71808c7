"""videobert.video.decode on real files written with PyAV: exact frames, codecs, fps grid, VFR, rotation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from videogen import frame_index_of, pattern_frames, write_video

from videobert.errors import InputFileError
from videobert.video import (
    index_videos,
    iter_frames,
    list_videos,
    n_grid_frames,
    probe,
    read_frames_at,
    scan_folder,
    target_size,
    video_id_for,
)

H, W = 45, 67  # odd on purpose


@pytest.fixture(scope="module")
def vids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A few small videos written once for the module."""
    d = tmp_path_factory.mktemp("videos")
    frames = pattern_frames(12, H, W)
    even = frames[:, :44, :66]  # yuv420p codecs need even sizes
    out = {
        "ffv1": d / "lossless.mkv",
        "x264rgb": d / "lossless_rgb.mp4",
        "h264": d / "h264.mp4",
        "vp9": d / "vp9.webm",
        "h264mkv": d / "h264.mkv",
        "mjpeg": d / "mjpeg.avi",
    }
    write_video(out["ffv1"], frames, 10, codec="ffv1")
    write_video(out["x264rgb"], frames, 10, codec="libx264rgb")
    write_video(out["h264"], even, 10, codec="libx264")
    write_video(out["vp9"], even, 10, codec="libvpx-vp9")
    write_video(out["h264mkv"], even, 10, codec="libx264")
    write_video(out["mjpeg"], even, 10, codec="mjpeg")
    return out


@pytest.mark.parametrize("name", ["ffv1", "x264rgb"])
def test_lossless_frames_roundtrip_exactly(vids: dict[str, Path], name: str) -> None:
    frames = pattern_frames(12, H, W)
    out = list(iter_frames(vids[name], fps=10))
    assert len(out) == 12
    got = np.stack([f for _, f in out])
    assert got.dtype == np.uint8 and got.shape == (12, H, W, 3)
    np.testing.assert_array_equal(got, frames)
    np.testing.assert_allclose([t for t, _ in out], np.arange(12) / 10)


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [
        ("h264", "h264", "mp4"),
        ("vp9", "vp9", "webm"),
        ("h264mkv", "h264", "matroska"),
        ("mjpeg", "mjpeg", "avi"),
    ],
)
def test_codecs_decode_with_right_frames(
    vids: dict[str, Path], name: str, codec: str, container: str
) -> None:
    info = probe(vids[name])
    assert info.codec == codec and container in info.container
    assert (info.width, info.height, info.rotation) == (66, 44, 0)
    assert info.fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(1.2, abs=0.051)
    assert info.n_frames == 12
    out = list(iter_frames(vids[name], fps=10))
    assert len(out) == 12
    assert [frame_index_of(f, 12) for _, f in out] == list(range(12))
    assert out[0][1].shape == (44, 66, 3)
    # lossy, but close to what was written
    ref = pattern_frames(12, H, W)[:, :44, :66].astype(np.float32)
    err = np.abs(np.stack([f for _, f in out]).astype(np.float32) - ref).mean()
    assert err < 6.0


def test_probe_lossless(vids: dict[str, Path]) -> None:
    info = probe(vids["ffv1"])
    assert (info.width, info.height, info.rotation, info.codec) == (W, H, 0, "ffv1")
    assert info.duration == pytest.approx(1.2)
    assert info.path == str(vids["ffv1"])


def test_resampling_to_other_fps(vids: dict[str, Path]) -> None:
    up = list(iter_frames(vids["ffv1"], fps=20))  # each source frame twice
    assert len(up) == 24
    np.testing.assert_allclose([t for t, _ in up], np.arange(24) / 20)
    assert [frame_index_of(f, 12) for _, f in up] == [k // 2 for k in range(24)]
    # repeated frames are independent arrays
    assert up[0][1] is not up[1][1]
    down = list(iter_frames(vids["ffv1"], fps=5))  # every other frame
    assert [frame_index_of(f, 12) for _, f in down] == [0, 2, 4, 6, 8, 10]
    odd = list(iter_frames(vids["ffv1"], fps=3))  # t = 0, 1/3, 2/3, 1: latest frame with pts <= t
    assert [frame_index_of(f, 12) for _, f in odd] == [0, 3, 6, 10]


def test_sizes(vids: dict[str, Path]) -> None:
    _, f = next(iter_frames(vids["ffv1"], fps=10, size=20))
    assert f.shape == (20, round(67 * 20 / 45), 3)
    _, f = next(iter_frames(vids["ffv1"], fps=10, size=(16, 24)))
    assert f.shape == (16, 24, 3)
    assert target_size(67, 45, 20) == (20, 30)
    assert target_size(45, 67, 20) == (30, 20)
    assert target_size(67, 45, None) == (45, 67)


def test_variable_frame_rate_comes_out_evenly_spaced(tmp_path: Path) -> None:
    frames = pattern_frames(6, 32, 48)
    pts_ms = [0, 100, 150, 500, 520, 900]  # irregular gaps; last frame lasts 100 ms (the nominal rate)
    p = tmp_path / "vfr.mkv"
    write_video(p, frames, 10, codec="ffv1", pts=pts_ms)
    out = list(iter_frames(p, fps=20))
    times = np.array([t for t, _ in out])
    np.testing.assert_allclose(times, np.arange(len(out)) / 20)
    assert len(out) == 20  # grid points t < 1.0 s
    got = [frame_index_of(f, 6) for _, f in out]
    # at each grid time, the latest source frame with pts <= t
    expected = [int(np.searchsorted(np.array(pts_ms) / 1000, t + 1e-9, side="right") - 1) for t in times]
    assert got == expected
    assert got[:12] == [0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 4]
    # frame 3 (pts 500 ms) is shown only at 0.50 s: frame 4 (520 ms) replaces it before 0.55 s
    assert got.count(3) == 1


@pytest.mark.parametrize("rotation", [90, 180, 270])
@pytest.mark.parametrize("tag", [False, True], ids=["display_matrix", "rotate_tag"])
def test_rotation_metadata_honoured(tmp_path: Path, rotation: int, tag: bool) -> None:
    frames = pattern_frames(3, 32, 48)
    p = tmp_path / f"rot{rotation}.mkv"
    write_video(p, frames, 10, codec="ffv1", rotation=rotation, rotate_tag=tag)
    info = probe(p)
    assert info.rotation == rotation
    assert (info.height, info.width) == ((48, 32) if rotation in (90, 270) else (32, 48))
    out = [f for _, f in iter_frames(p, fps=10)]
    for i, f in enumerate(out):
        np.testing.assert_array_equal(f, np.rot90(frames[i], k=-rotation // 90))  # clockwise
    # short side resize applies to the displayed (rotated) frame
    _, small = next(iter_frames(p, fps=10, size=16))
    assert small.shape == ((24, 16, 3) if rotation in (90, 270) else (16, 24, 3))


def test_rotation_in_mp4(tmp_path: Path) -> None:
    frames = pattern_frames(3, 32, 48)
    p = tmp_path / "phone.mp4"
    write_video(p, frames, 10, codec="libx264", rotation=90)
    info = probe(p)
    assert (info.rotation, info.width, info.height) == (90, 32, 48)
    _, f = next(iter_frames(p, fps=10))
    assert f.shape == (48, 32, 3)
    # clockwise: the stored top-left corner ends up top-right
    ref = np.rot90(frames[0], k=-1).astype(np.int32)
    assert np.abs(f.astype(np.int32) - ref).mean() < 6


def test_read_frames_at(tmp_path: Path) -> None:
    n = 120  # 12 s at 10 fps, all key frames: exercises seeking forward and backward
    frames = pattern_frames(n, 24, 32)
    p = tmp_path / "long.mkv"
    write_video(p, frames, 10, codec="ffv1")
    times = [11.05, 0.0, 5.0, 4.99, 0.35, -1.0, 30.0, 7.5]
    got = read_frames_at(p, times)
    assert got.shape == (len(times), 24, 32, 3) and got.dtype == np.uint8
    expected = [110, 0, 50, 49, 3, 0, 119, 75]
    assert [frame_index_of(f, n) for f in got] == expected
    np.testing.assert_array_equal(got[2], frames[50])
    assert read_frames_at(p, [1.0], size=(8, 8)).shape == (1, 8, 8, 3)
    assert read_frames_at(p, []).shape == (0, 24, 32, 3)


def test_read_frames_at_h264_long_gop(tmp_path: Path) -> None:
    frames = pattern_frames(100, 32, 48)
    p = tmp_path / "gop.mp4"
    write_video(p, frames, 20, codec="libx264")
    got = read_frames_at(p, [4.5, 0.5, 2.0])
    assert [frame_index_of(f, 100) for f in got] == [90, 10, 40]


def test_list_videos_ids_and_scan(tmp_path: Path) -> None:
    frames = pattern_frames(3, 16, 16)
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    write_video(tmp_path / "b.mkv", frames, 10, codec="ffv1")
    write_video(tmp_path / "A.MKV", frames, 10, codec="ffv1")
    write_video(tmp_path / "sub" / "c.mkv", frames, 10, codec="ffv1")
    write_video(tmp_path / ".hidden" / "d.mkv", frames, 10, codec="ffv1")
    (tmp_path / "notes.txt").write_text("not a video")
    (tmp_path / "b.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    found = list_videos(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["A.MKV", "b.mkv", "sub/c.mkv"]
    assert [video_id_for(p, tmp_path) for p in found] == ["A", "b", "c"]  # stems: the datasets' ids
    assert [video_id_for(p, tmp_path, "path") for p in found] == ["A", "b", "sub__c"]
    assert video_id_for("/elsewhere/x.y.mp4", tmp_path, "path") == "x.y"
    assert list(index_videos(tmp_path)) == ["A", "b", "c"]
    assert list(index_videos(tmp_path, "path")) == ["A", "b", "sub__c"]
    (tmp_path / "other").mkdir()
    write_video(tmp_path / "other" / "c.mp4", frames, 10)
    with pytest.raises(InputFileError, match=r"c\.mkv.*ids=path"):  # one stem in two folders names both
        index_videos(tmp_path)
    assert list(index_videos(tmp_path, "path")) == ["A", "b", "other__c", "sub__c"]
    (tmp_path / "other" / "c.mp4").unlink()
    ok, skipped = scan_folder(tmp_path)
    assert [Path(i.path).name for i in ok] == ["A.MKV", "b.mkv", "c.mkv"] and skipped == []
    write_video(tmp_path / "b.webm", frames, 10, codec="libvpx-vp9")
    with pytest.raises(InputFileError, match="b.mkv"):
        index_videos(tmp_path)
    with pytest.raises(InputFileError):
        list_videos(tmp_path / "notes.txt")


def test_n_grid_frames() -> None:
    assert n_grid_frames(1.2, 10) == 12
    assert n_grid_frames(1.21, 10) == 13
    assert n_grid_frames(5.0, 20) == 100
    assert n_grid_frames(0.0, 20) == 0
    assert n_grid_frames(1 / 3, 3) == 1


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt", "container"),
    [(".gif", "gif", "rgb8", "gif"), (".ts", "libx264", None, "mpegts"), (".mov", "mpeg4", None, "mov")],
)
def test_more_containers(
    tmp_path: Path, suffix: str, codec: str, pix_fmt: str | None, container: str
) -> None:
    """GIF, MPEG-TS (stream starts at a non-zero time) and MOV/MPEG-4 part 2."""
    frames = pattern_frames(20, 32, 48)
    p = tmp_path / f"v{suffix}"
    write_video(p, frames, 10, codec=codec, pix_fmt=pix_fmt)
    info = probe(p)
    assert container in info.container and (info.width, info.height) == (48, 32)
    assert info.duration == pytest.approx(2.0, abs=0.11)
    out = list(iter_frames(p, fps=10))
    assert [frame_index_of(f, 20) for _, f in out] == list(range(20))
    assert out[0][0] == 0.0  # times are relative to the stream start
    assert [frame_index_of(f, 20) for f in read_frames_at(p, [1.5, 0.2, 0.9])] == [15, 2, 9]
