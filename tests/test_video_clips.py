"""videobert.video.clips: clip policy (times) and clips streamed from real lossless files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from videogen import frame_index_of, pattern_frames, write_video

from videobert.video import Clip, ClipSpec, clip_starts, clip_times, iter_clips, n_grid_frames, probe


def test_clip_spec_defaults_match_paper() -> None:
    spec = ClipSpec()
    assert (spec.fps, spec.frames, spec.stride, spec.partial) == (20.0, 30, None, "pad")
    assert spec.duration == pytest.approx(1.5)
    assert spec.step == 30
    with pytest.raises(ValueError):
        ClipSpec(partial="keep")
    with pytest.raises(ValueError):
        ClipSpec(frames=0)
    with pytest.raises(ValueError):
        ClipSpec(stride=0)


def test_clip_times_policy() -> None:
    spec = ClipSpec()  # 20 fps x 30
    # 100 frames: 3 full clips, then 10 real frames < 15 -> dropped
    np.testing.assert_allclose(clip_times(100, spec), [[0, 1.5], [1.5, 3.0], [3.0, 4.5]])
    # 75 frames: trailing 15 frames >= 0.5 * 30 -> kept, end = start + 15 / 20
    np.testing.assert_allclose(clip_times(75, spec), [[0, 1.5], [1.5, 3.0], [3.0, 3.75]])
    # "drop" never keeps partial clips
    drop = ClipSpec(partial="drop")
    assert clip_times(75, drop).shape == (2, 2)
    assert clip_times(10, drop).shape == (0, 2)
    # shorter than one clip: one padded clip, even below min_partial
    np.testing.assert_allclose(clip_times(4, spec), [[0, 0.2]])
    assert clip_times(0, spec).shape == (0, 2)
    # exact multiple: no partial
    assert clip_times(90, spec).shape == (3, 2)
    # overlapping stride: starts every 10 frames; one partial after the last full clip
    over = ClipSpec(fps=10, frames=4, stride=2)
    assert clip_starts(9, over) == [(0, 4), (2, 4), (4, 4), (6, 3)]
    # gaps (stride > frames)
    gap = ClipSpec(fps=10, frames=2, stride=5, min_partial=1.0)
    assert clip_starts(11, gap) == [(0, 2), (5, 2)]
    assert clip_times(7, ClipSpec(fps=10, frames=4, min_partial=0.0)).tolist() == [[0.0, 0.4], [0.4, 0.7]]


@pytest.fixture(scope="module")
def lossless(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """2.3 s at 20 fps (46 frames) of 24x32 frames, ffv1 (lossless)."""
    frames = pattern_frames(46, 24, 32)
    p = tmp_path_factory.mktemp("clips") / "v.mkv"
    write_video(p, frames, 20, codec="ffv1")
    return p, frames


def test_iter_clips_exact_frames_and_times(lossless: tuple[Path, np.ndarray]) -> None:
    path, frames = lossless
    spec = ClipSpec(fps=20, frames=10)  # 46 frames -> 4 full + 6 real (>= 5) padded
    clips = list(iter_clips(path, spec))
    assert [c.index for c in clips] == [0, 1, 2, 3, 4]
    assert all(isinstance(c, Clip) and c.frames.shape == (10, 24, 32, 3) for c in clips)
    for c in clips[:4]:
        assert c.n_real == 10
        np.testing.assert_array_equal(c.frames, frames[c.index * 10 : c.index * 10 + 10])
    last = clips[4]
    assert last.n_real == 6
    np.testing.assert_array_equal(last.frames[:6], frames[40:46])
    np.testing.assert_array_equal(last.frames[6:], np.repeat(frames[45:46], 4, axis=0))
    got = np.array([[c.start, c.end] for c in clips])
    n = n_grid_frames(probe(path).duration, spec.fps)
    assert n == 46
    np.testing.assert_allclose(got, clip_times(n, spec), atol=1e-9)
    np.testing.assert_allclose(got[:, 0], np.arange(5) * 0.5, atol=1 / 20)  # within one frame
    np.testing.assert_allclose(got[-1, 1], 2.3, atol=1 / 20)


def test_iter_clips_resamples_and_overlaps(lossless: tuple[Path, np.ndarray]) -> None:
    path, _ = lossless
    spec = ClipSpec(fps=10, frames=6, stride=3)  # 23 grid frames at 10 fps = source frames 0, 2, 4...
    clips = list(iter_clips(path, spec, size=(12, 16)))
    starts = clip_starts(23, spec)
    assert [(round(c.start * 10), c.n_real) for c in clips] == starts
    for c in clips:
        assert c.frames.shape == (6, 12, 16, 3)
    first = [frame_index_of(f, 46) for f in clips[1].frames]
    assert first == [6, 8, 10, 12, 14, 16]
    np.testing.assert_allclose([[c.start, c.end] for c in clips], clip_times(23, spec))


def test_iter_clips_drop_policy(lossless: tuple[Path, np.ndarray]) -> None:
    path, _ = lossless
    clips = list(iter_clips(path, ClipSpec(fps=20, frames=10, partial="drop")))
    assert len(clips) == 4 and all(c.n_real == 10 for c in clips)


def test_video_shorter_than_one_clip(tmp_path: Path) -> None:
    frames = pattern_frames(7, 16, 16)
    p = tmp_path / "short.mkv"
    write_video(p, frames, 20, codec="ffv1")
    clips = list(iter_clips(p, ClipSpec()))  # 7 of 30 frames
    assert len(clips) == 1
    c = clips[0]
    assert (c.index, c.n_real, c.start) == (0, 7, 0.0)
    assert c.end == pytest.approx(7 / 20)
    assert c.frames.shape == (30, 16, 16, 3)
    np.testing.assert_array_equal(c.frames[:7], frames)
    np.testing.assert_array_equal(c.frames[7:], np.repeat(frames[6:7], 23, axis=0))
    assert list(iter_clips(p, ClipSpec(partial="drop"))) == []


def test_clips_from_odd_fps_source(tmp_path: Path) -> None:
    """A 29.97 fps source cut at 20 fps: clip times stay on the 20 fps grid, within one frame of duration."""
    frames = pattern_frames(60, 16, 16)  # ~2.002 s
    p = tmp_path / "ntsc.mkv"
    write_video(p, frames, 30000 / 1001, codec="ffv1")
    info = probe(p)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    clips = list(iter_clips(p, ClipSpec(fps=20, frames=10)))
    n = sum(c.n_real for c in clips)
    assert abs(n / 20 - 60 / (30000 / 1001)) <= 1 / 20
    np.testing.assert_allclose([c.start for c in clips], np.arange(len(clips)) * 0.5)
