"""A video's sound track as 16 kHz mono float32, decoded with PyAV in bounded windows.

:func:`iter_audio_windows` streams the first audio stream of a file through ``av.AudioResampler``
(16 kHz, mono, float32 in [-1, 1]) and yields ``(offset_s, samples)`` windows of at most
``window_s`` seconds, so a one-hour video holds one window (300 s = 19 MB) rather than its whole
track (16 kHz float32 = 230 MB/hour). A window is cut at its quietest 20 ms inside the last
``search_s`` seconds (a pause between words), not at a fixed sample.

Times are on the video's clock: seconds from the start of the video stream, which is where the
clip grid of ``extract`` starts (``video/decode.py``); a sound track that starts later is counted
from where it starts, one that starts earlier loses its lead.

Bad input raises :class:`AudioDecodeError` (a :class:`videobert.errors.InputFileError`) naming the
file: "no audio stream", "not a media file / invalid data", "no decodable audio". A packet the
decoder rejects is skipped and counted (a warning); a demuxer error ends the track there.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator

import av
import av.error
import numpy as np

from videobert.errors import InputFileError
from videobert.video.decode import open_media

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Hz: what Whisper's feature extractor expects
_FRAME = SAMPLE_RATE // 50  # 20 ms: the unit windows are cut at
_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, EOFError, ValueError)


class AudioDecodeError(InputFileError):
    """A file whose sound track cannot be used (none, undecodable, or silent)."""


def _open(path: str) -> av.container.InputContainer:
    return open_media(path, AudioDecodeError, hint="")


def _clock_origin(container: av.container.InputContainer) -> float | None:
    """Start (s) of the first video stream, the origin of ``video/decode.py``'s clock: the stream's
    start time, else its first packet's; None for a file without video (its sound starts at 0)."""
    streams = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        return None
    s = streams[0]
    if s.start_time is not None and s.time_base is not None:
        return float(s.start_time * s.time_base)
    try:  # a second reader, so that the caller's demuxer stays at the start
        with av.open(container.name, mode="r", metadata_errors="ignore") as other:
            for packet in other.demux(other.streams[s.index]):
                if packet.pts is not None:
                    return float(packet.pts * packet.time_base)
    except (*_AV_ERRORS, OSError):
        pass
    return None


def iter_audio_blocks(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """float32 (n,) blocks of the first audio stream at 16 kHz mono, in order, on the video's clock
    (a leading gap before the first sound is zeros; sound before the video's start is dropped).

    Raises:
        AudioDecodeError: no audio stream, not a media file, or not one decodable audio frame.
    """
    p = os.fspath(path)
    container = _open(p)
    try:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise AudioDecodeError(p, f"no audio stream (streams: {', '.join(kinds)})")
        stream = container.streams.audio[0]
        origin = _clock_origin(container)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        n_out = 0
        bad = 0
        first_error = ""
        skip = 0  # samples still to drop (sound before the video's start)

        def emit(frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
            nonlocal n_out, skip
            for f in frames:
                x = f.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                if skip:
                    cut = min(skip, len(x))
                    x, skip = x[cut:], skip - cut
                if len(x):
                    n_out += len(x)
                    yield x

        started = False
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except _AV_ERRORS as exc:
                    bad += 1
                    first_error = first_error or f"at {float(packet.pts or 0) * float(stream.time_base or 0):.1f} s: {exc}"
                    continue
                for frame in frames:
                    if not started:
                        started = True
                        t = frame.time
                        lead = (t - origin) if (t is not None and origin is not None) else 0.0
                        if lead > 0 and math.isfinite(lead):
                            pad = np.zeros(int(round(lead * SAMPLE_RATE)), np.float32)
                            n_out += len(pad)
                            yield pad
                        elif lead < 0:
                            skip = int(round(-lead * SAMPLE_RATE))
                    try:
                        out = resampler.resample(frame)
                    except _AV_ERRORS as exc:
                        bad += 1
                        first_error = first_error or str(exc)
                        continue
                    yield from emit(out)
        except _AV_ERRORS as exc:  # a demuxer error ends the track
            log.warning("%s: audio decoding stopped after %.1f s: %s", p, n_out / SAMPLE_RATE, exc)
        if started:
            try:
                yield from emit(resampler.resample(None))
            except _AV_ERRORS:
                pass
        if bad:
            log.warning("%s: skipped %d undecodable audio packet(s) (first %s)", p, bad, first_error)
        if n_out == 0:
            why = f" ({bad} packet(s) failed, first {first_error})" if bad else ""
            raise AudioDecodeError(p, f"no decodable audio{why}")
    finally:
        container.close()


def _quietest_cut(x: np.ndarray, lo: int, hi: int) -> int:
    """A sample index in ``[lo, hi]`` inside the quietest 20 ms of that span: the end of the last
    frame within 6 dB of the quietest one (so windows stay long), ``hi`` when the span is too short."""
    lo = max(0, lo)
    n = (hi - lo) // _FRAME
    if n < 2:
        return hi
    frames = x[hi - n * _FRAME : hi].reshape(n, _FRAME)
    energy = np.einsum("ij,ij->i", frames, frames)  # (n,) per-frame energy
    quiet = np.flatnonzero(energy <= 4.0 * float(energy.min()) + 1e-12)
    return hi - n * _FRAME + int(quiet[-1]) * _FRAME + _FRAME // 2


def iter_audio_windows(
    path: str | os.PathLike[str], window_s: float = 300.0, search_s: float = 5.0
) -> Iterator[tuple[float, np.ndarray]]:
    """``(offset_s, samples float32 (n,))`` windows of at most ``window_s`` seconds covering the
    whole track in order; each is cut at its quietest 20 ms within its last ``search_s`` seconds.
    Holds at most one window plus one decoded block.

    Raises:
        AudioDecodeError: as :func:`iter_audio_blocks`.
    """
    size = max(_FRAME * 2, int(window_s * SAMPLE_RATE))
    search = min(size // 2, int(search_s * SAMPLE_RATE))
    buf: list[np.ndarray] = []
    held = 0
    offset = 0
    for block in iter_audio_blocks(path):
        buf.append(block)
        held += len(block)
        while held >= size:
            x = np.concatenate(buf)
            cut = _quietest_cut(x, size - search, size)
            yield offset / SAMPLE_RATE, x[:cut]
            offset += cut
            rest = x[cut:]
            buf, held = [rest], len(rest)
    if held:
        yield offset / SAMPLE_RATE, np.concatenate(buf)


def loudness_db(x: np.ndarray) -> float:
    """RMS level of ``x`` in dB relative to full scale (-inf for digital silence)."""
    if not len(x):
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


__all__ = ["SAMPLE_RATE", "AudioDecodeError", "iter_audio_blocks", "iter_audio_windows", "loudness_db"]
