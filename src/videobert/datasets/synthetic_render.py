"""Pixels for the built-in corpus: numpy rendering of a :class:`VideoPlan` and PyAV encoding.

A frame is a light, lightly textured background with mild per-frame noise and, during a step, one
anti-aliased shape (2x2 supersampled inside its bounding box only) moved, rotated, scaled or
flickered as the step's verb says. The shape is shaded lighter on its local left than on its local
right, so that rotation is visible even for circles and rings. Between steps the table is empty.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from videobert.datasets.synthetic import BACKGROUNDS, CODECS, COLOURS, Step, VideoPlan
from videobert.utils.io import atomic_write_with

#: Object radius at scale 1, as a fraction of the frame height.
BASE_RADIUS = 0.15
#: Per-frame grey noise, standard deviation in 8-bit levels (drawn from a bank of 16 noise frames).
NOISE_SIGMA = 1.5
_NOISE_BANK = 16


def _star(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Five-pointed star with straight edges: outer radius 1.05, inner 0.45, a point straight up."""
    outer, inner = 1.05, 0.45
    half = math.pi / 5  # angle from a point to the next valley
    r = np.hypot(x, y)
    theta = np.arctan2(-y, x) - math.pi / 2  # 0 at "up"
    phi = np.abs(np.mod(theta + half, 2 * half) - half)  # angle from the nearest point, [0, half]
    nx, ny = -inner * math.sin(half), inner * math.cos(half) - outer  # normal of the tip-valley edge
    edge = (nx * outer) / (nx * np.cos(phi) + ny * np.sin(phi))  # edge radius at angle phi
    return r <= edge


def _heart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    hx, hy = x * 1.25, -y * 1.25 + 0.15
    return (hx * hx + hy * hy - 1) ** 3 - hx * hx * hy**3 <= 0


def _triangle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = x / 1.15, (y - 0.12) / 1.15
    return (y <= 0.5) & (0.866 * x - 0.5 * y <= 0.5) & (-0.866 * x - 0.5 * y <= 0.5)


#: Shape name -> inside test on local coordinates (x right, y down, object radius 1).
SHAPE_TESTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": lambda x, y: x * x + y * y <= 0.95**2,
    "square": lambda x, y: np.maximum(np.abs(x), np.abs(y)) <= 0.8,
    "triangle": _triangle,
    "star": _star,
    "cross": lambda x, y: (
        ((np.abs(x) <= 0.3) & (np.abs(y) <= 0.95)) | ((np.abs(y) <= 0.3) & (np.abs(x) <= 0.95))
    ),
    "ring": lambda x, y: (x * x + y * y <= 1.0) & (x * x + y * y >= 0.55**2),
    "heart": _heart,
    "diamond": lambda x, y: np.abs(x) / 0.8 + np.abs(y) <= 1.05,
}


def _smooth(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def object_state(step: Step, t: float) -> tuple[bool, float, float, float, float]:
    """The object at time ``t`` (s) within ``step``: (visible, x, y, scale, angle).

    ``x``, ``y`` are fractions of the frame width / height, ``scale`` multiplies the base radius,
    ``angle`` is in radians (counter-clockwise on screen).
    """
    dt = t - step.start
    u = dt / max(step.end - step.start, 1e-6)
    x, y, scale, angle, visible = step.x0, step.y0, step.scale0, 0.0, True
    v = step.verb
    if v == "slide":
        x = step.x0 + (step.x1 - step.x0) * _smooth(u)
    elif v == "lift":
        y = step.y0 + (step.y1 - step.y0) * _smooth(u)
    elif v == "drop":
        y = step.y0 + (step.y1 - step.y0) * min(1.0, (u / 0.7) ** 2)
    elif v == "spin":
        angle = step.direction * 2 * math.pi * step.turns * min(max(u, 0.0), 1.0)
    elif v in ("grow", "shrink"):
        scale = step.scale0 + (step.scale1 - step.scale0) * _smooth(u)
    elif v == "shake":
        w = 2 * math.pi * step.freq * dt
        x += 0.07 * math.sin(w)
        y += 0.025 * math.sin(1.7 * w + 1.0)
        angle = 0.15 * math.sin(1.3 * w)
    elif v == "blink":
        visible = int(math.floor(2 * step.freq * dt)) % 2 == 0
    return visible, x, y, scale, angle


def _backgrounds(plan: VideoPlan, width: int, height: int) -> np.ndarray:
    """A bank of noisy background frames, uint8 (K, H, W, 3), K = 16."""
    rng = np.random.default_rng(plan.texture_seed)
    base = np.array(BACKGROUNDS[plan.background], dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)  # (H, W) each
    tex = np.zeros((height, width), np.float32)
    for _ in range(3):  # a few soft stripes, like a wooden board
        a = rng.uniform(0, math.pi)
        f = rng.uniform(0.02, 0.12)
        tex += rng.uniform(2.0, 5.0) * np.sin(f * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 6.3))
    img = base[None, None, :] + tex[:, :, None]  # (H, W, 3)
    # grey noise, the same in R, G and B: (K, H, W, 1)
    noise = rng.normal(0.0, NOISE_SIGMA, size=(_NOISE_BANK, height, width, 1)).astype(np.float32)
    return np.clip(img[None] + noise, 0, 255).astype(np.uint8)  # (K, H, W, 3)


def _draw(frame: np.ndarray, step: Step, t: float) -> tuple[int, int, int, int] | None:
    """Draw ``step``'s object at time ``t`` into ``frame`` (H, W, 3) uint8, in place.

    Returns the changed box ``(y0, y1, x0, x1)`` in pixels, with even corners (for 4:2:0 chroma),
    or None when nothing was drawn.
    """
    visible, fx, fy, scale, angle = object_state(step, t)
    if not visible:
        return None
    height, width = frame.shape[:2]
    radius = BASE_RADIUS * height * scale  # pixels
    cx, cy = fx * width, fy * height
    half = radius * 1.3 + 1
    x0, x1 = max(int(cx - half) // 2 * 2, 0), min(int(math.ceil(cx + half) + 1) // 2 * 2, width)
    y0, y1 = max(int(cy - half) // 2 * 2, 0), min(int(math.ceil(cy + half) + 1) // 2 * 2, height)
    if x1 <= x0 or y1 <= y0:
        return None
    w, h = x1 - x0, y1 - y0
    xs = x0 + (np.arange(2 * w, dtype=np.float32) + 0.5) / 2 - cx  # (2w,) sample x offsets, px
    ys = y0 + (np.arange(2 * h, dtype=np.float32) + 0.5) / 2 - cy  # (2h,)
    dx, dy = xs[None, :], ys[:, None]  # (1, 2w), (2h, 1)
    c, s = math.cos(angle), math.sin(angle)
    # Screen angle is counter-clockwise with y down: rotate offsets by -angle into local coordinates.
    lx = (c * dx - s * dy) / radius  # (2h, 2w)
    ly = (s * dx + c * dy) / radius  # (2h, 2w)
    inside = SHAPE_TESTS[step.noun](lx, ly).astype(np.float32)  # (2h, 2w)
    # 2x2 supersampling: (2h, 2w) -> (h, w) coverage
    alpha = (inside[0::2, 0::2] + inside[1::2, 0::2] + inside[0::2, 1::2] + inside[1::2, 1::2]) * 0.25
    if not alpha.any():
        return None
    shade = 1.0 - 0.35 * np.clip((lx[::2, ::2] + 1) / 2, 0.0, 1.0)  # (h, w): darker on the local right
    colour = np.array(COLOURS[step.colour], dtype=np.float32)
    region = frame[y0:y1, x0:x1].astype(np.float32)  # (h, w, 3)
    a = alpha[:, :, None]  # (h, w) -> (h, w, 1)
    out = region * (1 - a) + (shade[:, :, None] * colour[None, None, :]) * a  # (h, w, 3)
    frame[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return y0, y1, x0, x1


def n_frames(plan: VideoPlan, fps: float) -> int:
    """Number of frames of the video: ``round(duration * fps)``."""
    return int(round(plan.duration * fps))


def render_frames(
    plan: VideoPlan, width: int = 128, height: int = 96, fps: float = 20.0
) -> Iterator[np.ndarray]:
    """Yield the video's frames, each uint8 (H, W, 3) RGB, frame ``k`` showing time ``k / fps`` s.

    Yielded arrays are reused buffers: copy one to keep it.
    """
    for frame, _bank_index, _box in _render(plan, width, height, fps, _backgrounds(plan, width, height)):
        yield frame


def _render(
    plan: VideoPlan, width: int, height: int, fps: float, bank: np.ndarray
) -> Iterator[tuple[np.ndarray, int, tuple[int, int, int, int] | None]]:
    """Yield (frame (H, W, 3) uint8, index of its background in ``bank``, changed box or None)."""
    pick = np.random.default_rng(plan.texture_seed + 1).integers(0, len(bank), size=n_frames(plan, fps))
    frame = np.empty((height, width, 3), np.uint8)
    steps = plan.steps
    j = 0
    for k in range(len(pick)):
        t = k / fps
        np.copyto(frame, bank[pick[k]])
        while j < len(steps) and t >= steps[j].end:
            j += 1
        box = _draw(frame, steps[j], t) if j < len(steps) and t >= steps[j].start else None
        yield frame, int(pick[k]), box


def _i420_frames(plan: VideoPlan, width: int, height: int, fps: float) -> Iterator[np.ndarray]:
    """The video as I420 buffers uint8 (H * 3 // 2, W); only the drawn box is converted per frame."""
    bank = _backgrounds(plan, width, height)
    bank_yuv = [rgb_to_i420(b) for b in bank]
    q = height * width // 4
    for frame, bank_index, box in _render(plan, width, height, fps, bank):
        out = bank_yuv[bank_index].copy()
        if box is not None:
            y0, y1, x0, x1 = box
            part = rgb_to_i420(frame[y0:y1, x0:x1])  # (h*3/2, w)
            h, w = y1 - y0, x1 - x0
            out[y0:y1, x0:x1] = part[:h]
            chroma = out[height:].reshape(-1)  # (H/2, W) -> (H*W/2,)
            cb = chroma[:q].reshape(height // 2, width // 2)  # (H*W/4,) -> (H/2, W/2)
            cr = chroma[q:].reshape(height // 2, width // 2)  # (H*W/4,) -> (H/2, W/2)
            pc = part[h:].reshape(-1)  # (h/2, w) -> (h*w/2,)
            # the box's Cb and Cr planes: (h*w/4,) -> (h/2, w/2) each
            cb[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pc[: h * w // 4].reshape(h // 2, w // 2)
            cr[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pc[h * w // 4 :].reshape(h // 2, w // 2)
        yield out


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3), H and W even -> I420 buffer uint8 (H * 3 // 2, W): Y, then Cb, then Cr planes.

    BT.601 limited range, chroma from the mean of each 2x2 block (the layout
    ``VideoFrame.from_ndarray(..., format="yuv420p")`` takes).
    """
    h, w, _ = rgb.shape
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]  # (H, W) each
    out = np.empty((h * 3 // 2, w), np.uint8)
    out[:h] = np.clip(0.256788 * r + 0.504129 * g + 0.0979059 * b + 16.5, 0, 255)
    # 2x2 block sums: (H, W) -> (H/2, W/2)
    rs = r[0::2, 0::2] + r[1::2, 0::2] + r[0::2, 1::2] + r[1::2, 1::2]
    gs = g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2]
    bs = b[0::2, 0::2] + b[1::2, 0::2] + b[0::2, 1::2] + b[1::2, 1::2]
    cb = np.clip(-0.0370575 * rs - 0.0727478 * gs + 0.109804 * bs + 128.5, 0, 255)  # (H/2, W/2), /4 folded in
    cr = np.clip(0.109804 * rs - 0.0919471 * gs - 0.0178569 * bs + 128.5, 0, 255)  # (H/2, W/2)
    chroma = out[h:].reshape(-1)  # (H/2, W) -> (H*W/2,) view of the Cb and Cr planes
    chroma[: h * w // 4] = cb.reshape(-1)  # (H/2, W/2) -> (H*W/4,)
    chroma[h * w // 4 :] = cr.reshape(-1)  # (H/2, W/2) -> (H*W/4,)
    return out


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def encode_video(
    path: str | os.PathLike[str],
    plan: VideoPlan,
    width: int = 128,
    height: int = 96,
    fps: float = 20.0,
    codec: str = "h264",
) -> Path:
    """Render ``plan`` and encode it to ``path`` atomically (temp file in the same folder, then rename).

    ``codec`` is a key of ``CODECS``: h264 (libx264, yuv420p, preset ultrafast, crf 23), vp9, mjpeg,
    ffv1 (lossless RGB).
    Encoders run single-threaded so the same plan gives the same bytes.
    """
    encoder, _suffix, pix_fmt = CODECS[codec]
    rate = _rate(fps)
    options = {
        "libx264": {"preset": "ultrafast", "crf": "23", "threads": "1"},
        "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0", "threads": "1"},
        "mjpeg": {},
        "ffv1": {"threads": "1"},
    }[encoder]

    def write(tmp: Path) -> None:
        with av.open(str(tmp), "w", format=_container_format(Path(path).suffix)) as container:
            stream = container.add_stream(encoder, rate=rate, options=options)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            stream.codec_context.thread_count = 1
            time_base = 1 / rate
            if pix_fmt == "yuv420p":
                frames = (
                    av.VideoFrame.from_ndarray(a, format="yuv420p")
                    for a in _i420_frames(plan, width, height, fps)
                )
            else:
                frames = (
                    av.VideoFrame.from_ndarray(a, format="rgb24")
                    for a in render_frames(plan, width, height, fps)
                )
            for k, frame in enumerate(frames):
                frame.pts = k
                frame.time_base = time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))

    atomic_write_with(path, write)
    return Path(path)


def _container_format(suffix: str) -> str:
    return {".mp4": "mp4", ".webm": "webm", ".avi": "avi", ".mkv": "matroska"}[suffix]
