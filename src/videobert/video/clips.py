"""Fixed-length clips over the constant-rate frame grid of :func:`videobert.video.decode.iter_frames`.

The paper samples 20 fps and cuts 30-frame (1.5 s) clips. Clip ``i`` starts at grid frame
``s_i = i * stride`` and covers frames ``[s_i, s_i + frames)``; its time span is
``[s_i / fps, (s_i + n_real) / fps)``.

Last partial clip policy (``n`` = frames on the grid, see :func:`clip_starts`):

- ``"drop"``: only full clips.
- ``"pad"``: after the full clips, the next start ``s < n`` (if any) gives one partial clip of
  ``n - s`` real frames, kept when ``n - s >= min_partial * frames`` and padded to ``frames`` by
  repeating its last frame. A video shorter than one clip always yields that one padded clip
  (unless it has 0 frames). Later partial starts (possible with overlapping strides) are not used:
  their frames are inside the kept one.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from videobert.video.decode import DecodeReport, Size, iter_frames


@dataclass(frozen=True)
class ClipSpec:
    """How to cut clips.

    Attributes:
        fps: frame rate (frames/s) of the grid the clips are cut from.
        frames: frames per clip.
        stride: frames between clip starts; ``None`` = ``frames`` (non-overlapping).
        partial: last partial clip policy, ``"pad"`` or ``"drop"`` (module docstring).
        min_partial: with ``"pad"``, the fraction of ``frames`` a trailing partial clip needs to be kept.
    """

    fps: float = 20.0
    frames: int = 30
    stride: int | None = None
    partial: Literal["pad", "drop"] = "pad"
    min_partial: float = 0.5

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"ClipSpec.fps must be positive, got {self.fps}")
        if self.frames < 1:
            raise ValueError(f"ClipSpec.frames must be >= 1, got {self.frames}")
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"ClipSpec.stride must be >= 1 or None, got {self.stride}")
        if self.partial not in ("pad", "drop"):
            raise ValueError(f"ClipSpec.partial must be 'pad' or 'drop', got {self.partial!r}")
        if not 0.0 <= self.min_partial <= 1.0:
            raise ValueError(f"ClipSpec.min_partial must be in [0, 1], got {self.min_partial}")

    @property
    def duration(self) -> float:
        """Clip length in seconds (``frames / fps``)."""
        return self.frames / self.fps

    @property
    def step(self) -> int:
        """Frames between clip starts (``stride`` or ``frames``)."""
        return self.stride if self.stride is not None else self.frames


@dataclass
class Clip:
    """One clip.

    Attributes:
        index: clip number in the video (0-based).
        start: start time in seconds (``first grid frame / fps``).
        end: ``start + n_real / fps`` (seconds, exclusive).
        frames: RGB uint8 ``(frames, H, W, 3)``, padded with the last real frame when ``n_real < frames``.
        n_real: frames before padding.
    """

    index: int
    start: float
    end: float
    frames: np.ndarray
    n_real: int


def clip_starts(n_frames_at_fps: int, spec: ClipSpec) -> list[tuple[int, int]]:
    """``(start_frame, n_real)`` per clip for a video of ``n_frames_at_fps`` grid frames.

    The single source of the clip policy: :func:`iter_clips` and :func:`clip_times` both use it.
    """
    n, length, step = int(n_frames_at_fps), spec.frames, spec.step
    if n <= 0:
        return []
    out = [(s, length) for s in range(0, n - length + 1, step)]
    if spec.partial == "pad":
        s = len(out) * step  # the first start after the full clips
        if s < n:
            real = n - s
            if not out or real >= spec.min_partial * length:
                out.append((s, real))
    return out


def clip_times(n_frames_at_fps: int, spec: ClipSpec) -> np.ndarray:
    """Clip ``[start, end)`` times in seconds, float64 ``(n_clips, 2)``, same policy as :func:`iter_clips`."""
    starts = clip_starts(n_frames_at_fps, spec)
    out = np.zeros((len(starts), 2), dtype=np.float64)
    for i, (s, real) in enumerate(starts):
        out[i, 0] = s / spec.fps
        out[i, 1] = (s + real) / spec.fps
    return out


def iter_clips(
    path: str | os.PathLike[str],
    spec: ClipSpec = ClipSpec(),  # noqa: B008 - frozen dataclass, safe as a default
    size: Size = None,
    *,
    strict: bool = False,
    report: DecodeReport | None = None,
) -> Iterator[Clip]:
    """Stream the clips of a video (memory: one clip's frames plus one frame).

    Args:
        path: a video file.
        spec: clip length, stride, fps and partial policy.
        size: frame size (see :func:`videobert.video.decode.iter_frames`).
        strict: passed to :func:`iter_frames` (raise on truncated / partly corrupt files).
        report: passed to :func:`iter_frames`: filled with durations and decoding warnings.

    Yields:
        :class:`Clip` objects in time order; ``clip.frames`` is ``(spec.frames, H, W, 3)`` uint8.

    Raises:
        videobert.errors.VideoDecodeError: the file cannot be decoded at all.
    """
    length, step = spec.frames, spec.step
    window: deque[np.ndarray] = deque(maxlen=length)  # the latest `length` grid frames
    n = 0  # grid frames seen
    index = 0  # next clip
    for _t, frame in iter_frames(path, fps=spec.fps, size=size, strict=strict, report=report):
        window.append(frame)
        n += 1
        start = index * step
        if n == start + length:  # the frame completing clip `index`
            clip = np.stack(window)  # length x (H, W, 3) -> (length, H, W, 3)
            yield Clip(
                index=index,
                start=start / spec.fps,
                end=(start + length) / spec.fps,
                frames=clip,
                n_real=length,
            )
            index += 1
    # the trailing partial clip, decided by the shared policy
    starts = clip_starts(n, spec)
    if len(starts) > index:
        start, real = starts[index]
        kept = list(window)[-(n - start) :]  # frames [start, n); n - start < length, so all in the window
        clip = np.empty((length, *kept[0].shape), dtype=np.uint8)  # (length, H, W, 3)
        clip[:real] = np.stack(kept[:real])  # real x (H, W, 3) -> (real, H, W, 3)
        clip[real:] = kept[real - 1]
        yield Clip(
            index=index, start=start / spec.fps, end=(start + real) / spec.fps, frames=clip, n_real=real
        )


__all__ = ["Clip", "ClipSpec", "clip_starts", "clip_times", "iter_clips"]
