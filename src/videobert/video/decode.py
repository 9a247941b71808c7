"""Video decoding with PyAV: probe a file, stream RGB frames on a constant-rate time grid.

Everything here streams: a video is never held in memory as a whole, only the frame being
converted (plus a few frames inside FFmpeg's decoder).

Time grid
    :func:`iter_frames` resamples any input (constant or variable frame rate) onto the grid
    ``t_k = k / fps`` (seconds from the start of the video stream) for ``t_k < end``, where ``end`` is
    the presentation time of the last decoded frame plus its duration. Each grid point gets the latest
    decoded frame whose timestamp is ``<= t_k`` (grid points before the first frame get the first
    frame). A file written with ``N`` frames at ``fps`` therefore decodes to exactly those ``N`` frames.

Rotation
    Display-matrix side data (what phones write; read through ``VideoFrame.rotation``) or, failing
    that, a ``rotate`` stream tag (degrees clockwise) is honoured: frames come out upright and
    :class:`VideoInfo` reports the display size. Mirror flips in the display matrix are ignored, and so
    is a non-square sample aspect ratio (frames keep their stored pixel grid).

Bad input
    Every failure raises :class:`videobert.errors.VideoDecodeError` with a clear reason ("zero-byte
    file", "not a media file / invalid data (...)", "no video stream (audio only)", "no decodable
    video frames", "decoding failed at 3.2 s: ..."); no raw ``av`` error escapes. Damaged files that
    still partly decode are decoded as far as possible, with a warning, and raise only with
    ``strict=True``:

    - a packet the decoder rejects is skipped (the frame before it fills the gap on the grid) and
      counted: ``skipped 1 undecodable packet(s) (first: decoding failed at 3.2 s: ...)``;
    - a demuxer error ends the stream there: ``decoding failed at 3.2 s: ...``;
    - a stream ending well before its declared duration (cut-off file; a demuxer that lost sync):
      ``truncated: decoded 3.2 s of 10.0 s``. The declared duration is the video stream's, else the
      container's, which can include a longer audio track: then this warning is a false alarm.

    Without ``strict`` an error is raised only when no frame decodes at all.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import av.error
import numpy as np

from videobert.errors import InputFileError, VideoDecodeError
from videobert.workdir import IdRule, file_video_id

log = logging.getLogger(__name__)

#: File extensions (lower case, with dot) that :func:`list_videos` treats as videos.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    f".{e}" for e in "mp4 webm mkv avi mov m4v mpg mpeg ts mts m2ts 3gp 3g2 flv wmv ogv gif".split()
)

#: Slack (seconds) when comparing frame timestamps with grid times (float rounding of pts * time_base).
_EPS = 1e-4

#: A decoded stream that ends this much (seconds, and at least 2 source frames) before the declared
#: duration is reported as truncated.
_TRUNCATION_SLACK = 0.5

Size = int | tuple[int, int] | None

# Errors PyAV raises for bad data; all are turned into VideoDecodeError.
_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, EOFError)


@dataclass
class DecodeReport:
    """What decoding one video found, filled in by :func:`iter_frames` as it goes.

    Attributes:
        declared: the duration the file declares (s; video stream's, else the container's; 0: none).
        decoded: how far frames decoded (s): the last frame's time plus its duration.
        warnings: one line per problem that did not stop decoding ("truncated: decoded 3.2 s of
            10.0 s ...", "skipped 2 undecodable packet(s) ...", "decoding failed at 3.2 s: ...").
    """

    declared: float = 0.0
    decoded: float = 0.0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video file (container header plus the first frame).

    Attributes:
        path: the file, as given.
        duration: seconds (video stream's duration, else the container's, else frames / fps).
        fps: average frame rate of the video stream (frames per second).
        n_frames: frame count (the container's, or ``round(duration * fps)`` when it has none).
        width, height: display size in pixels, after rotation.
        rotation: degrees clockwise to turn the stored frame to display it: 0, 90, 180 or 270.
        codec: decoder name (``h264``, ``vp9``, ``ffv1``, ``mjpeg`` ...).
        container: FFmpeg demuxer name (``mov,mp4,m4a,3gp,3g2,mj2``, ``matroska,webm`` ...).
    """

    path: str
    duration: float
    fps: float
    n_frames: int
    width: int
    height: int
    rotation: int
    codec: str
    container: str


# ----------------------------------------------------------------------------- helpers


def _reason(exc: BaseException) -> str:
    """A short human reason for a PyAV/FFmpeg exception."""
    text = getattr(exc, "strerror", None) or str(exc)
    if isinstance(exc, av.error.InvalidDataError):
        return f"invalid data ({text})"
    return f"{type(exc).__name__}: {text}"


def open_media(
    path: str | os.PathLike[str], error: type[InputFileError] = VideoDecodeError, hint: str = "; truncated or not a video?"
) -> av.container.InputContainer:
    """Open ``path`` for reading with PyAV, turning every failure into ``error(path, reason)``
    (missing, a directory, zero bytes, not a media file, another PyAV error)."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise error(p, "file not found")
    if os.path.isdir(p):
        raise error(p, "is a directory, not a video file")
    if os.path.getsize(p) == 0:
        raise error(p, "zero-byte file")
    try:
        return av.open(p, mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        text = getattr(exc, "strerror", None) or str(exc)
        raise error(p, f"not a media file / invalid data ({text}){hint}") from exc
    except (*_AV_ERRORS, ValueError, OSError) as exc:
        raise error(p, f"cannot open: {_reason(exc)}") from exc


_open = open_media


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    """The first video stream (ignoring cover-art pictures), or a :class:`VideoDecodeError`."""
    streams = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        if "audio" in kinds:
            reason = "no video stream (audio only)"
        elif kinds:
            reason = f"no video stream (only {', '.join(kinds)})"
        else:
            reason = "no video stream (no streams at all)"
        raise VideoDecodeError(path, reason)
    stream = streams[0]
    # slice threads only: frame threading delays frames (and errors) by several packets, which would
    # blame the wrong packet for a decoding error; parallelism comes from decoding videos side by side
    stream.thread_type = "SLICE"
    return stream


def _tag_rotation(stream: av.video.stream.VideoStream) -> int:
    """Clockwise degrees from a ``rotate`` stream tag (any case), 0 when absent or unreadable."""
    for key, value in (stream.metadata or {}).items():
        if key.lower() == "rotate":
            try:
                return int(round(float(value) / 90.0)) * 90 % 360
            except ValueError:
                return 0
    return 0


def _frame_rotation(frame: av.VideoFrame, tag_rotation: int) -> int:
    """Clockwise display rotation of a decoded frame (display matrix first, then the tag)."""
    try:
        ccw = frame.rotation  # counter-clockwise degrees in [-180, 180], 0 when no display matrix
    except Exception:  # pragma: no cover - defensive: malformed side data
        ccw = 0
    if ccw:
        return int(round(-ccw / 90.0)) * 90 % 360
    return tag_rotation


def _stream_t0(stream: av.video.stream.VideoStream) -> float | None:
    """Stream start time in seconds, or None when unknown."""
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return None


def _declared_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """Duration (s) from the stream header, else the container header; 0.0 when neither knows."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        start = container.start_time if container.start_time is not None else 0
        t0 = _stream_t0(stream)
        dur = float(container.duration) / av.time_base
        # the container's span may start before the video stream (audio first)
        if t0 is not None:
            dur -= max(0.0, t0 - float(start) / av.time_base)
        return max(0.0, dur)
    return 0.0


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    """Average frame rate (frames/s) of the stream, 0.0 when unknown."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return 0.0


class _PacketErrors:
    """Undecodable packets skipped while decoding: count, first time (s) and first reason."""

    def __init__(self) -> None:
        self.count = 0
        self.first_t: float | None = None
        self.first_reason = ""


def _decode_skipping(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    errors: _PacketErrors,
    strict: bool,
    path: str,
    t0: float,
) -> Iterator[av.VideoFrame]:
    """Decoded frames, packet by packet; a packet the decoder rejects is skipped and counted.

    Demuxer errors (the container itself is broken) propagate as PyAV errors. With ``strict`` the
    first rejected packet raises :class:`VideoDecodeError`.
    """
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            t = (
                float(packet.pts * packet.time_base) - t0
                if packet.pts is not None and packet.time_base
                else -1.0
            )
            reason = f"decoding failed at {max(t, 0.0):.1f} s: {_reason(exc)}"
            if strict:
                raise VideoDecodeError(path, reason) from exc
            errors.count += 1
            if errors.first_t is None:
                errors.first_t, errors.first_reason = t, reason
            log.debug("%s: skipping an undecodable packet: %s", path, reason)
            continue
        yield from frames


def target_size(width: int, height: int, size: Size) -> tuple[int, int]:
    """Output ``(height, width)`` in pixels for a display size and a ``size`` request.

    ``None`` keeps the size; an int is the short side (long side scaled to keep the aspect ratio,
    rounded, at least 1); a ``(h, w)`` tuple is exact.
    """
    if size is None:
        return height, width
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        if height <= width:
            return size, max(1, round(width * size / height))
        return max(1, round(height * size / width)), size
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size}")
    return h, w


def n_grid_frames(duration: float, fps: float) -> int:
    """Number of grid times ``k / fps`` with ``k / fps < duration`` (frames at ``fps`` in ``duration`` s)."""
    if duration <= 0 or fps <= 0:
        return 0
    return max(0, math.ceil(duration * fps - 1e-6))


class _Converter:
    """Turns decoded frames into upright RGB uint8 arrays of the requested display size."""

    def __init__(self, size: Size, tag_rotation: int) -> None:
        self.size = size
        self.tag_rotation = tag_rotation

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        """``frame`` -> RGB uint8 ``(H, W, 3)`` in display orientation."""
        rot = _frame_rotation(frame, self.tag_rotation)
        w, h = frame.width, frame.height
        if rot in (90, 270):
            w, h = h, w  # display size
        th, tw = target_size(w, h, self.size)
        # scale in stored orientation, then rotate: stored (sh, sw) = display (th, tw) transposed for 90/270
        sh, sw = (tw, th) if rot in (90, 270) else (th, tw)
        # reformat() reuses one swscale context per frame size; to_ndarray(format=...) is ~8x slower
        arr = frame.reformat(
            width=sw, height=sh, format="rgb24", interpolation="AREA"
        ).to_ndarray()  # (sh, sw, 3)
        if rot:
            # np.rot90 turns counter-clockwise for positive k; clockwise by `rot` is k = -rot / 90
            arr = np.ascontiguousarray(np.rot90(arr, k=-(rot // 90)))  # (sh, sw, 3) -> (th, tw, 3)
        return arr


# ----------------------------------------------------------------------------- public API


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's header and its first frame.

    Decoding the first frame checks that the file really decodes and reads the rotation (display
    matrix side data). Raises :class:`VideoDecodeError` for zero-byte, non-media, audio-only or
    undecodable files.
    """
    p = os.fspath(path)
    with _open(p) as container:
        stream = _video_stream(container, p)
        tag_rot = _tag_rotation(stream)
        try:
            first = next(_decode_skipping(container, stream, _PacketErrors(), False, p, 0.0), None)
        except _AV_ERRORS as exc:
            raise VideoDecodeError(p, f"decoding failed at 0.0 s: {_reason(exc)}") from exc
        if first is None:
            raise VideoDecodeError(p, "no decodable video frames")
        rotation = _frame_rotation(first, tag_rot)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        duration = _declared_duration(container, stream)
        fps = _stream_fps(stream)
        n_frames = int(stream.frames or 0)
        if duration <= 0 and n_frames > 0 and fps > 0:
            duration = n_frames / fps
        if fps <= 0 and n_frames > 0 and duration > 0:
            fps = n_frames / duration
        if n_frames <= 0:
            n_frames = round(duration * fps)
        return VideoInfo(
            path=p,
            duration=float(duration),
            fps=float(fps),
            n_frames=int(n_frames),
            width=int(width),
            height=int(height),
            rotation=int(rotation),
            codec=stream.codec_context.name,
            container=container.format.name,
        )


def iter_frames(
    path: str | os.PathLike[str],
    fps: float = 20.0,
    size: Size = None,
    *,
    strict: bool = False,
    report: DecodeReport | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream ``(t, frame)`` pairs on the grid ``t_k = k / fps`` (see the module docstring).

    Args:
        path: a video file PyAV can decode.
        fps: output frame rate (frames per second).
        size: ``None`` keeps the display size, an int sets the short side (aspect kept), ``(h, w)`` is exact.
        strict: raise :class:`VideoDecodeError` on a mid-stream decoding error or a truncated stream,
            instead of yielding what decodes and logging a warning.
        report: filled with the declared and decoded durations and every warning (for the manifest).

    Yields:
        ``t`` (float seconds, ``k / fps``) and an RGB uint8 array ``(H, W, 3)``.

    Raises:
        VideoDecodeError: the file cannot be opened, has no video stream, or no frame decodes.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    p = os.fspath(path)
    with _open(p) as container:
        stream = _video_stream(container, p)
        convert = _Converter(size, _tag_rotation(stream))
        src_fps = _stream_fps(stream)
        declared = _declared_duration(container, stream)
        t0 = _stream_t0(stream)
        report = report if report is not None else DecodeReport()
        report.declared = float(declared)

        k = 0  # next grid index
        prev: av.VideoFrame | None = None  # latest decoded frame
        prev_t = 0.0  # its time (s, from the stream start)
        prev_arr: np.ndarray | None = None  # its conversion, once needed
        prev_used = False  # whether prev_arr was already yielded (then yield copies)
        last_dur = 1.0 / src_fps if src_fps > 0 else 1.0 / fps
        error: str | None = None
        skipped = _PacketErrors()

        def emit(frame_arr: np.ndarray, used: bool) -> np.ndarray:
            return frame_arr.copy() if used else frame_arr

        try:
            for frame in _decode_skipping(container, stream, skipped, strict, p, t0 or 0.0):
                if frame.pts is not None and frame.time_base is not None:
                    t_abs = float(frame.pts * frame.time_base)
                    if t0 is None:
                        t0 = t_abs
                    t = t_abs - t0
                else:  # no timestamp: assume the average rate
                    t = prev_t + last_dur if prev is not None else 0.0
                if prev is not None:
                    t = max(t, prev_t)  # tolerate non-monotonic timestamps
                    if t > prev_t:
                        last_dur = t - prev_t
                if frame.duration and frame.time_base is not None:
                    last_dur = float(frame.duration * frame.time_base)
                # grid points strictly before this frame belong to the previous frame
                while k / fps < t - _EPS:
                    if prev is None:
                        break  # before the first frame: the first frame will serve them
                    if prev_arr is None:
                        prev_arr = convert(prev)
                    yield k / fps, emit(prev_arr, prev_used)
                    prev_used = True
                    k += 1
                prev, prev_t, prev_arr, prev_used = frame, t, None, False
        except _AV_ERRORS as exc:
            where = prev_t + last_dur if prev is not None else 0.0
            error = f"decoding failed at {where:.1f} s: {_reason(exc)}"
            if prev is None or strict:
                raise VideoDecodeError(p, error) from exc
            log.warning("%s: %s; keeping the %.1f s that decoded", p, error, where)
            report.warnings.append(f"{error}; kept the {where:.1f} s that decoded")

        if prev is None:
            if skipped.count:
                raise VideoDecodeError(p, f"no decodable video frames ({skipped.first_reason})")
            raise VideoDecodeError(p, "no decodable video frames")
        if skipped.count:
            msg = f"skipped {skipped.count} undecodable packet(s) (first: {skipped.first_reason}); earlier frames fill the gaps"
            log.warning("%s: %s", p, msg)
            report.warnings.append(msg)
        end = prev_t + last_dur
        report.decoded = float(end)
        if error is None and declared > 0:
            slack = max(_TRUNCATION_SLACK, 2.0 * last_dur)
            if end < declared - slack:
                msg = f"truncated: decoded {end:.1f} s of {declared:.1f} s (file cut short or corrupt)"
                if strict:
                    raise VideoDecodeError(p, msg)
                log.warning("%s: %s", p, msg)
                report.warnings.append(msg)
        while k / fps < end - _EPS:
            if prev_arr is None:
                prev_arr = convert(prev)
            yield k / fps, emit(prev_arr, prev_used)
            prev_used = True
            k += 1


def read_frames_at(path: str | os.PathLike[str], times: Sequence[float], size: Size = None) -> np.ndarray:
    """Frames shown at the given times (seconds from the stream start), e.g. for galleries.

    For each time, the latest frame whose timestamp is ``<= t`` (the first frame for earlier times,
    the last frame for later ones). Times are visited in sorted order: a seek to the key frame before a
    time when it lies more than a few seconds ahead, then decoding forward.

    Returns:
        RGB uint8 ``(N, H, W, 3)`` in the order of ``times`` (all frames share one size, so with
        ``size=None`` the first frame's display size is used for all).
    """
    p = os.fspath(path)
    times_arr = np.asarray(list(times), dtype=np.float64)  # (N,)
    if times_arr.ndim != 1:
        raise ValueError("times must be a 1-D sequence of seconds")
    order = np.argsort(times_arr, kind="stable")
    out: list[np.ndarray | None] = [None] * len(times_arr)
    if len(times_arr) == 0:
        info = probe(p)
        h, w = target_size(info.width, info.height, size)
        return np.zeros((0, h, w, 3), dtype=np.uint8)

    box = [_open(p)]  # the open container (replaced when a seek fails and we restart from the top)
    try:
        stream = _video_stream(box[0], p)
        tag_rot = _tag_rotation(stream)
        tb = stream.time_base
        t0 = _stream_t0(stream) or 0.0
        fixed: tuple[int, int] | None = None  # output (H, W), fixed by the first frame
        convert = _Converter(size, tag_rot)

        def decode_from(seek_t: float | None) -> Iterator[tuple[float, av.VideoFrame]]:
            """(time, frame) after a seek to the key frame before ``seek_t`` (None: no seek)."""
            nonlocal stream
            if seek_t is not None:
                try:
                    box[0].seek(
                        int((t0 + max(0.0, seek_t)) / tb), stream=stream, backward=True, any_frame=False
                    )
                except _AV_ERRORS as exc:  # not seekable: reopen and decode from the start
                    log.debug("%s: seek failed (%s); decoding from the start", p, exc)
                    box[0].close()
                    box[0] = _open(p)
                    stream = _video_stream(box[0], p)
            last_t = -math.inf
            for frame in box[0].decode(stream):
                t = float(frame.pts * frame.time_base) - t0 if frame.pts is not None else last_t
                last_t = max(t, last_t)
                yield last_t, frame

        try:
            gen = decode_from(None)
            cur: tuple[float, av.VideoFrame] | None = None  # latest frame with time <= target
            nxt: tuple[float, av.VideoFrame] | None = next(gen, None)  # first frame with time > target
            if nxt is None:
                raise VideoDecodeError(p, "no decodable video frames")
            for idx in order:
                t = float(times_arr[idx])
                ahead = nxt is not None and t - nxt[0] > 3.0
                behind = cur is not None and t < cur[0] - _EPS
                if ahead or behind:
                    back = 0.0
                    while True:  # seek, and back off while the key frame lands after t
                        gen = decode_from(max(0.0, t - back))
                        cur, nxt = None, next(gen, None)
                        if nxt is None or nxt[0] <= t + _EPS or t - back <= 0:
                            break
                        back = max(1.0, back * 2)
                while nxt is not None and nxt[0] <= t + _EPS:
                    cur, nxt = nxt, next(gen, None)
                chosen = cur if cur is not None else nxt
                assert chosen is not None
                arr = convert(chosen[1])
                if fixed is None:  # later frames (even after a mid-stream size change) match the first
                    fixed = (arr.shape[0], arr.shape[1])
                    convert = _Converter(fixed, tag_rot)
                out[idx] = arr
        except _AV_ERRORS as exc:
            raise VideoDecodeError(p, f"decoding failed while reading frames: {_reason(exc)}") from exc
    finally:
        box[0].close()
    return np.stack(out)  # type: ignore[arg-type]  # N x (H, W, 3) -> (N, H, W, 3)


def list_videos(folder: str | os.PathLike[str]) -> list[Path]:
    """Video files under ``folder`` (recursive, by extension, case-insensitive), sorted by path.

    Hidden files and folders (name starting with ``.``) are skipped; a link to nothing is reported
    (a warning naming it) and left out.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError(root, "not a folder")
    found = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or p.suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        if p.is_file():
            found.append(p)
        elif p.is_symlink() and not p.exists():
            log.warning("%s: a link to a file that does not exist; skipped", p)
    return sorted(found, key=lambda q: q.relative_to(root).as_posix())


def video_id_for(path: str | os.PathLike[str], root: str | os.PathLike[str], ids: IdRule = "stem") -> str:
    """The video id of ``path`` found under ``root``: its stem (default) or its relative path
    (``ids="path"``: ``sub/b.webm`` -> ``sub__b``); see :func:`videobert.workdir.file_video_id`."""
    return file_video_id(path, root, ids)


def index_videos(folder: str | os.PathLike[str], ids: IdRule = "stem") -> dict[str, Path]:
    """``video_id -> path`` for the videos under ``folder``, in sorted order (ids: ``video_id_for``).

    Raises:
        InputFileError: two files map to the same id (``a.mp4`` and ``a.webm``, or one YouTube id in
            two recipe folders); names both.
    """
    found: dict[str, Path] = {}
    for p in list_videos(folder):
        vid = video_id_for(p, folder, ids)
        if vid in found:
            hint = "; or use ids=path to name videos by their folders too" if ids == "stem" else ""
            raise InputFileError(p, f"video id {vid!r} is also the id of {found[vid]}; rename or remove one{hint}")
        found[vid] = p
    return found


def scan_folder(folder: str | os.PathLike[str]) -> tuple[list[VideoInfo], list[tuple[Path, str]]]:
    """Probe every video under ``folder``; bad files are logged and reported, the rest finish.

    Returns:
        ``(ok, skipped)``: :class:`VideoInfo` of each good file (sorted by path), and
        ``(path, reason)`` for each file that raised :class:`VideoDecodeError`.
    """
    ok: list[VideoInfo] = []
    skipped: list[tuple[Path, str]] = []
    for p in list_videos(folder):
        try:
            ok.append(probe(p))
        except VideoDecodeError as exc:
            log.warning("skipping %s: %s", p, exc.reason)
            skipped.append((p, exc.reason))
    return ok, skipped


__all__ = [
    "VIDEO_EXTENSIONS",
    "DecodeReport",
    "VideoInfo",
    "index_videos",
    "iter_frames",
    "list_videos",
    "n_grid_frames",
    "probe",
    "read_frames_at",
    "scan_folder",
    "target_size",
    "video_id_for",
]
