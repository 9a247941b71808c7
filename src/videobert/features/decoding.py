"""Decoding ahead of the forward pass: videos -> prepared batches, inline, in threads or in processes.

:func:`prepared_batches` yields, for each video of a to-do list, ``batch`` items (the backbone's
``prepare`` of up to ``batch_size`` consecutive clips, with their clip times) and then one ``end``
item (durations, damage warnings) or an ``error`` item (why the video cannot be used). Items of one
video come in clip order; items of different videos may interleave (the caller groups them by
video id). Three ways, the same items:

* ``num_workers=0``: inline, in the calling thread;
* ``worker_type="process"`` (the default): a ``torch.utils.data.DataLoader`` over
  :class:`VideoBatches`, ``num_workers`` worker processes (fork on Linux; the dataset pickles for
  spawn), worker w decoding videos w, w + N, ... of the list with one torch thread. Batches come
  back through shared memory in the DataLoader's fixed round-robin order (so runs are
  reproducible), pinned when the backbone is on CUDA. Python-level decoding work (PyAV frame
  handling, the classical descriptor) runs in parallel, which threads cannot give;
* ``worker_type="thread"``: ``num_workers`` threads of this process and a bounded queue (the
  order of videos then depends on scheduling).

A worker never holds the network: it gets a copy of the backbone without its module.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from videobert.errors import VideoBertError

if TYPE_CHECKING:
    from videobert.features.registry import Backbone

log = logging.getLogger(__name__)

WorkerType = Literal["process", "thread"]


@dataclass
class Item:
    """One decoded item: ``kind`` ``batch`` (``data``: the prepared tensor, ``times``: [(start, end)]
    per clip, seconds), ``end`` (``data``: the manifest extras) or ``error`` (``data``: the reason)."""

    kind: str
    video_id: str
    data: Any = None
    times: Any = None


def produce_video(
    video_id: str, path: Path, backbone: Backbone, clip_spec: Any, batch_size: int
) -> Iterator[Item]:
    """Decode one video into prepared batches; ends with an ``end`` or ``error`` item."""
    from videobert.video.clips import iter_clips
    from videobert.video.decode import DecodeReport, probe

    try:
        info = probe(path)
        frames: list[np.ndarray] = []
        times: list[tuple[float, float]] = []
        report = DecodeReport()
        for clip in iter_clips(path, clip_spec, size=backbone.decode_size, report=report):
            frames.append(clip.frames)
            times.append((clip.start, clip.end))
            if len(frames) == batch_size:
                yield Item("batch", video_id, backbone.prepare(np.stack(frames)), times)
                frames, times = [], []
        if frames:
            yield Item("batch", video_id, backbone.prepare(np.stack(frames)), times)
        end = {
            "duration": float(info.duration),
            "fps": float(info.fps),
            "decoded_duration": round(report.decoded, 3),
        }
        if report.warnings:  # damaged but usable: recorded "ok" with what was wrong
            end["warnings"] = list(report.warnings)
        yield Item("end", video_id, end)
    except Exception as exc:  # a bad video is recorded and skipped; the run goes on
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, VideoBertError):
            log.warning("%s: unexpected error while decoding", path, exc_info=True)
        yield Item("error", video_id, reason)


class VideoBatches(IterableDataset):
    """The to-do list as a DataLoader dataset: worker w of N yields the items of videos ``todo[w::N]``
    as ``(kind, video_id, data, times)`` tuples (tuples and dicts are what the DataLoader pins)."""

    def __init__(self, todo: list[tuple[str, Path]], prep: Backbone, clip_spec: Any, batch_size: int) -> None:
        self.todo, self.prep, self.clip_spec, self.batch_size = todo, prep, clip_spec, batch_size

    def __iter__(self) -> Iterator[tuple[str, str, Any, Any]]:
        info = get_worker_info()
        wid, n = (0, 1) if info is None else (info.id, info.num_workers)
        for vid, path in self.todo[wid::n]:
            for item in produce_video(vid, path, self.prep, self.clip_spec, self.batch_size):
                yield item.kind, item.video_id, item.data, item.times


def without_network(backbone: Backbone) -> Backbone:
    """A shallow copy of ``backbone`` whose ``module`` is None: what a decoding worker needs."""
    prep = copy.copy(backbone)
    prep.module = None
    return prep


def _from_processes(
    todo: list[tuple[str, Path]], backbone: Backbone, clip_spec: Any, batch_size: int, num_workers: int
) -> Iterator[Item]:
    loader = DataLoader(
        VideoBatches(todo, without_network(backbone), clip_spec, batch_size),
        batch_size=None,  # items are already batches, of one video's clips each
        num_workers=min(num_workers, len(todo)),
        pin_memory=backbone.device.type == "cuda" and torch.cuda.is_available(),
        prefetch_factor=2,
    )
    try:
        for kind, vid, data, times in loader:
            yield Item(kind, vid, data, times)
    except RuntimeError as exc:  # a worker killed (e.g. a crash inside a decoder)
        if "DataLoader worker" not in str(exc):
            raise
        raise VideoBertError(
            f"extract: a decoding worker process died ({str(exc).splitlines()[0]}); finished videos are "
            "kept: run the same command again to resume; a bus error means /dev/shm cannot hold "
            "2 x num_workers batches (raise it, lower batch_size, or use worker_type=thread)"
        ) from exc


class _Threads:
    """``num_workers`` threads decoding whole videos into a bounded queue."""

    def __init__(
        self,
        todo: list[tuple[str, Path]],
        backbone: Backbone,
        clip_spec: Any,
        batch_size: int,
        num_workers: int,
    ) -> None:
        self.args = (backbone, clip_spec, batch_size)
        self.stop = threading.Event()
        self.queue: queue.Queue[Item | None] = queue.Queue(maxsize=max(2, 2 * num_workers))
        self.tasks: queue.Queue[tuple[str, Path]] = queue.Queue()
        for t in todo:
            self.tasks.put(t)
        self.threads = [
            threading.Thread(target=self._work, daemon=True, name=f"extract-{i}") for i in range(num_workers)
        ]

    def _put(self, item: Item | None) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    vid, path = self.tasks.get_nowait()
                except queue.Empty:
                    return
                for item in produce_video(vid, path, *self.args):
                    if not self._put(item):
                        return
        finally:
            self._put(None)

    def __iter__(self) -> Iterator[Item]:
        for t in self.threads:
            t.start()
        finished = 0
        try:
            while finished < len(self.threads):
                item = self.queue.get()
                if item is None:
                    finished += 1
                    continue
                yield item
        finally:
            self.stop.set()
            for t in self.threads:
                t.join(timeout=5)


def prepared_batches(
    todo: list[tuple[str, Path]],
    backbone: Backbone,
    clip_spec: Any,
    batch_size: int,
    num_workers: int = 2,
    worker_type: WorkerType = "process",
) -> Iterator[Item]:
    """Every video's items (see the module docstring), decoded inline, in threads or in processes.

    Raises:
        VideoBertError: an unknown ``worker_type``, or a worker process that died.
    """
    if worker_type not in ("process", "thread"):
        raise VideoBertError(f"worker_type must be 'process' or 'thread', got {worker_type!r}")
    batch_size = max(1, int(batch_size))
    if num_workers <= 0 or not todo:
        for vid, path in todo:
            yield from produce_video(vid, path, backbone, clip_spec, batch_size)
    elif worker_type == "process":
        yield from _from_processes(todo, backbone, clip_spec, batch_size, num_workers)
    else:
        yield from _Threads(todo, backbone, clip_spec, batch_size, num_workers)
