"""Test helper: write real video files with PyAV (import from any test: ``from videogen import ...``).

Stable API::

    write_video(path, frames, fps, codec="libx264", pix_fmt=None, rotation=0, pts=None, time_base=None)
    pattern_frames(n, height, width, seed=0) -> (n, H, W, 3) uint8   # distinct, easily told apart
    frame_index_of(frame, n) -> int                                   # which pattern frame it is

The container comes from the file suffix (.mp4 .mkv .webm .avi .mov ...).
"""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

#: Default pixel format per codec (lossless where the codec allows it: ffv1/libx264rgb keep RGB exactly).
DEFAULT_PIX_FMT = {
    "libx264": "yuv420p",
    "libx264rgb": "rgb24",
    "ffv1": "bgr0",
    "libvpx-vp9": "yuv420p",
    "mjpeg": "yuvj420p",
    "mpeg4": "yuv420p",
    "gif": "rgb8",
}


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    rotation: int = 0,
    pts: list[int] | np.ndarray | None = None,
    time_base: Fraction | None = None,
    rotate_tag: bool = False,
    options: dict[str, str] | None = None,
) -> None:
    """Encode RGB uint8 ``frames`` ``(T, H, W, 3)`` to ``path`` at ``fps`` frames/s.

    Args:
        codec: ``libx264`` (lossy unless ``libx264rgb``, which is written with qp=0: lossless),
            ``ffv1`` (lossless), ``libvpx-vp9``, ``mjpeg``...
        pix_fmt: encoder pixel format (default from :data:`DEFAULT_PIX_FMT`).
        rotation: degrees clockwise a player must turn the stored frames to display them
            (0/90/180/270), written as a display matrix (or a ``rotate`` tag with ``rotate_tag``).
        pts: optional per-frame presentation timestamps in ``time_base`` units (variable frame rate;
            use a Matroska/WebM file: the MP4 muxer rejects these packets).
        time_base: stream time base for ``pts`` (default ``1/1000`` when ``pts`` is given).
        rotate_tag: write ``rotation`` as an old-style ``rotate`` metadata tag instead.
        options: extra encoder options (e.g. ``{"g": "1"}`` for intra-only ffv1), added to the defaults.
    """
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape}")
    _, height, width, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    container = av.open(os.fspath(path), mode="w")
    try:
        stream = container.add_stream(codec, rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = pix_fmt or DEFAULT_PIX_FMT.get(codec, "yuv420p")
        opts: dict[str, str] = {}
        if codec in ("libx264", "libx264rgb"):
            opts = {"preset": "ultrafast"}
            if codec == "libx264rgb":
                opts["qp"] = "0"
        elif codec == "libvpx-vp9":
            opts = {"deadline": "realtime", "cpu-used": "8"}
        opts.update(options or {})
        stream.options = opts
        if pts is not None:
            stream.time_base = time_base or Fraction(1, 1000)
            stream.codec_context.time_base = stream.time_base
        if rotation % 360:
            if rotate_tag:
                stream.metadata["rotate"] = str(rotation % 360)
            else:
                # PyAV's helper takes counter-clockwise degrees; clockwise display = -ccw
                stream.set_display_rotation(-(rotation % 360))
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if pts is not None:
                frame.pts = int(pts[i])
                frame.time_base = stream.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()


def pattern_frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """``n`` distinct RGB frames ``(n, H, W, 3)`` uint8 that survive lossy codecs.

    Top half: frame ``i``'s index in binary as 8 black/white vertical stripes (bit 0 leftmost);
    bottom half: red level spread over ``[0, 255]`` by index, a green gradient, blue ``255 - red``.
    :func:`frame_index_of` reads the index back (stripes when the frame is at least 16 px wide).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = (xx * 3 + yy * 2).astype(np.int32)  # (H, W)
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    levels = _levels(n)
    top = max(1, height // 2)
    stripe = (np.arange(width) * 8) // max(width, 1)  # (W,) stripe number 0..7 of each column
    for i in range(n):
        out[i, ..., 0] = levels[i]
        out[i, ..., 1] = (base + rng.integers(0, 8)) % 256 // 2
        out[i, ..., 2] = 255 - levels[i]
        bits = ((i % 256) >> stripe) & 1  # (W,)
        out[i, :top] = (bits * 255).astype(np.uint8)[None, :, None]
    return out


def _levels(n: int) -> np.ndarray:
    """Evenly spread red levels in [0, 255] for ``n`` frames."""
    if n <= 1:
        return np.array([128] * max(n, 1))
    return np.round(np.linspace(0, 255, n)).astype(np.int32)


def frame_index_of(frame: np.ndarray, n: int) -> int:
    """Which of :func:`pattern_frames`' ``n`` frames ``frame`` ``(H, W, 3)`` is (any size, upright)."""
    height, width = frame.shape[:2]
    if width >= 16 and height >= 4:
        top = frame[: max(1, height // 4)].astype(np.float32).mean(axis=(0, 2))  # (W,) top quarter
        index = 0
        for bit in range(8):
            lo, hi = bit * width / 8, (bit + 1) * width / 8
            a = int(np.ceil(lo + (hi - lo) / 4))  # the middle half of the stripe, at least one column
            b = max(a + 1, int(np.floor(hi - (hi - lo) / 4)))
            if top[a:b].mean() > 127:
                index |= 1 << bit
        if index < n:
            return index
    red = float(frame[height // 2 :, :, 0].mean())
    return int(np.argmin(np.abs(_levels(n) - red)))


def write_video_with_audio(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray,
    sample_rate: int = 16000,
    codec: str = "libx264",
    audio_codec: str | None = None,
    audio_start: float = 0.0,
) -> None:
    """Encode RGB uint8 ``frames`` ``(T, H, W, 3)`` and mono float ``audio`` ``(n,)`` in [-1, 1]
    at ``sample_rate`` Hz into one file (``audio_codec`` default: aac for .mp4/.mov, libvorbis or
    flac elsewhere: the container's usual one); ``audio_start``: seconds of the first sample."""
    frames = np.asarray(frames, dtype=np.uint8)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    _, height, width, _ = frames.shape
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    acodec = audio_codec or ("aac" if suffix in ("mp4", "mov", "m4v") else "flac")
    container = av.open(os.fspath(path), mode="w")
    try:
        vs = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height = width, height
        vs.pix_fmt = DEFAULT_PIX_FMT.get(codec, "yuv420p")
        if codec in ("libx264", "libx264rgb"):
            vs.options = {"preset": "ultrafast"}
        aus = container.add_stream(acodec, rate=sample_rate, layout="mono")
        fmt = "fltp" if acodec == "aac" else ("s16" if acodec == "flac" else "fltp")
        aus.format = fmt
        step = aus.codec_context.frame_size or 1024
        first = int(round(audio_start * sample_rate))
        for i, img in enumerate(frames):
            vframe = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            vframe.pts = i  # the video starts at 0 s
            vframe.time_base = Fraction(1).limit_denominator(1) / vs.codec_context.framerate
            for packet in vs.encode(vframe):
                container.mux(packet)
        for k in range(0, len(audio), step):
            chunk = audio[k : k + step]
            if len(chunk) < step and acodec == "aac":
                chunk = np.pad(chunk, (0, step - len(chunk)))
            data = (np.clip(chunk, -1, 1) * 32767).astype(np.int16) if fmt == "s16" else chunk
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = first + k
            frame.time_base = Fraction(1, sample_rate)
            for packet in aus.encode(frame):
                container.mux(packet)
        for stream in (vs, aus):
            for packet in stream.encode():
                container.mux(packet)
    finally:
        container.close()
