"""The one rule that pairs a time span with clips, used by the corpus and by every task.

A clip belongs to a span ``[start, end)`` (seconds) when the clip's midpoint lies in it; a span that
covers no clip midpoint gets the one clip whose midpoint is nearest the span's midpoint (ties: the
earlier clip).
"""

from __future__ import annotations

import numpy as np

from videobert.errors import VideoBertError


def align_sentence(start: float, end: float, clip_times: np.ndarray) -> tuple[int, int]:
    """Clips of a span ``[start, end)`` s: ``(first, last_exclusive)`` indices into ``clip_times``.

    Args:
        clip_times: float64 (n_clips, 2) clip ``[start, end)`` seconds, sorted by start.

    Raises:
        VideoBertError: the video has no clips.
    """
    times = np.asarray(clip_times, dtype=np.float64).reshape(-1, 2)  # (n, 2) -> (n, 2)
    n = len(times)
    if n == 0:
        raise VideoBertError("align_sentence: the video has no clips")
    mids = times.mean(axis=1)  # (n,)
    first = int(np.searchsorted(mids, start, side="left"))
    last = int(np.searchsorted(mids, end, side="left"))
    if last > first:
        return first, last
    centre = 0.5 * (start + end)
    nearest = int(np.argmin(np.abs(mids - centre)))
    return nearest, nearest + 1


__all__ = ["align_sentence"]
