"""Resumable, sharded clip-feature extraction: videos -> ``WORK/features/<backbone>/``.

For each video: decode at the backbone's size on the pipeline's clip grid (``ClipSpec``, default
20 fps x 30 frames = 1.5 s per clip), run the backbone on batches of clips, and write

* ``features/<backbone>/clip_times/<video_id>.npy``: float64 (n_clips, 2), clip [start, end) in seconds;
* ``features/<backbone>/<video_id>.npy``: float16 (n_clips, D), one feature row per clip
  (written last: its existence means the video is finished);
* one ``manifest.jsonl`` record (stage ``extract/<backbone>``), ``ok`` or ``skipped`` with the reason;
  an ``ok`` record carries the declared ``duration`` and the ``decoded_duration``, and a damaged
  video that still decoded in part (truncated, undecodable packets, a demuxer error mid-stream)
  is ``ok`` with ``warnings`` saying what was wrong (``videobert probe WORK`` lists them);

all atomically, so a killed job resumes where it stopped and produces the same bytes. Decoding and
preprocessing run in ``num_workers`` producer threads (PyAV and torch release the GIL), overlapped
with the forward pass in the calling thread (``torch.inference_mode``; bf16 autocast on CUDA).
Work is split by video: shard ``i`` of ``n`` takes every n-th video of the sorted id list (from
``shard=(i, n)``, or torchrun's ``RANK`` / ``WORLD_SIZE``), with no other coordination.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from videobert.errors import InputFileError, VideoBertError
from videobert.utils.io import atomic_save_npy, atomic_write_json, read_json
from videobert.utils.runtime import env_int
from videobert.video.clips import ClipSpec
from videobert.workdir import IdRule, WorkDir, file_video_id, usable_video_id

if TYPE_CHECKING:  # the registry imports torchvision: only when extracting
    from videobert.features.registry import Backbone

log = logging.getLogger(__name__)


@dataclass
class ExtractConfig:
    """Settings of ``videobert extract`` (the keyword arguments of :func:`extract`).

    Attributes:
        backbone: a registered backbone name.
        weights: None (torchvision's default weights), an enum member name, or a state_dict path.
        random_weights: seeded random weights (tests only).
        batch_size: clips per forward pass.
        shard: ``"i/n"``: this process's share of the videos (default: RANK / WORLD_SIZE).
        device: cpu, cuda or cuda:N (default: cuda when available).
        num_workers: decoding threads (0: inline).
        clips: the clip grid (fps, frames, stride, partial, min_partial).
        input_size: override the network input size (pixels).
        ids: how a file names its video: ``stem`` (its name less the extension, wherever it lies:
            the datasets' YouTube ids) or ``path`` (``sub/dir/name`` -> ``sub__dir__name``).
        progress: show a progress bar.
    """

    backbone: str = "s3d"
    weights: str | None = None
    random_weights: bool = False
    batch_size: int = 8
    shard: str | None = None
    device: str | None = None
    num_workers: int = 2
    clips: ClipSpec = field(default_factory=ClipSpec)
    input_size: int | None = None
    ids: IdRule = "stem"
    progress: bool = True


def stage_name(backbone: str) -> str:
    """The manifest stage of a backbone's extraction: ``extract/<backbone>``."""
    return f"extract/{backbone}"


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"i/n"`` or ``(i, n)`` -> ``(i, n)``; None -> torchrun's ``(RANK, WORLD_SIZE)``, else ``(0, 1)``."""
    if shard is None:
        rank, world = env_int("RANK", 0), env_int("WORLD_SIZE", 1)
    elif isinstance(shard, str):
        try:
            a, b = shard.split("/")
            rank, world = int(a), int(b)
        except ValueError:
            raise VideoBertError(f"--shard {shard!r}: expected i/n, e.g. 0/4") from None
    else:
        rank, world = int(shard[0]), int(shard[1])
    if world < 1 or not 0 <= rank < world:
        raise VideoBertError(f"shard {rank}/{world}: need 0 <= i < n")
    return rank, world


def collect_videos(
    videos: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], ids: IdRule = "stem"
) -> dict[str, Path]:
    """``video_id -> path``, sorted by id, from a folder (recursive) or a list of files (ids:
    :func:`videobert.workdir.file_video_id`; listed files are named by their stems).

    A file whose id cannot name a file in WORK (``check_video_id``) is left out with a warning.

    Raises:
        InputFileError: a missing input, or two files with the same video id (names both).
    """
    from videobert.video.decode import index_videos

    if isinstance(videos, str | os.PathLike):
        p = Path(videos)
        if p.is_dir():
            return dict(sorted((v, f) for v, f in index_videos(p, ids).items() if usable_video_id(v, f)))
        videos = [p]
    ids: dict[str, Path] = {}
    for v in videos:
        path = Path(v)
        if not path.exists():
            raise InputFileError(path, "no such file")
        vid = file_video_id(path)
        if not usable_video_id(vid, path):
            continue
        if vid in ids:
            raise InputFileError(path, f"video id {vid!r} is also the id of {ids[vid]}; rename one of them")
        ids[vid] = path
    return dict(sorted(ids.items()))


@dataclass
class _Item:
    kind: str  # "batch" | "end" | "error"
    video_id: str
    data: Any = None
    times: Any = None


def _produce_video(
    video_id: str, path: Path, backbone: Backbone, clip_spec: Any, batch_size: int
) -> Iterator[_Item]:
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
                yield _Item("batch", video_id, backbone.prepare(np.stack(frames)), times)
                frames, times = [], []
        if frames:
            yield _Item("batch", video_id, backbone.prepare(np.stack(frames)), times)
        end = {"duration": float(info.duration), "fps": float(info.fps), "decoded_duration": round(report.decoded, 3)}
        if report.warnings:  # damaged but usable: recorded "ok" with what was wrong
            end["warnings"] = list(report.warnings)
        yield _Item("end", video_id, end)
    except Exception as exc:  # a bad video is recorded and skipped; the run goes on
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, VideoBertError):
            log.warning("%s: unexpected error while decoding", path, exc_info=True)
        yield _Item("error", video_id, reason)


class _Producers:
    """``num_workers`` threads decoding whole videos into a bounded queue (0: inline, no threads)."""

    def __init__(
        self,
        todo: list[tuple[str, Path]],
        backbone: Backbone,
        clip_spec: Any,
        batch_size: int,
        num_workers: int,
    ) -> None:
        self.todo = todo
        self.args = (backbone, clip_spec, batch_size)
        self.num_workers = num_workers
        self.stop = threading.Event()
        self.queue: queue.Queue[_Item | None] = queue.Queue(maxsize=max(2, 2 * num_workers))
        self.tasks: queue.Queue[tuple[str, Path]] = queue.Queue()
        for t in todo:
            self.tasks.put(t)
        self.threads = [
            threading.Thread(target=self._work, daemon=True, name=f"extract-{i}") for i in range(num_workers)
        ]

    def _put(self, item: _Item | None) -> bool:
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
                for item in _produce_video(vid, path, *self.args):
                    if not self._put(item):
                        return
        finally:
            self._put(None)

    def __iter__(self) -> Iterator[_Item]:
        if self.num_workers == 0:
            for vid, path in self.todo:
                yield from _produce_video(vid, path, *self.args)
            return
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


def extract(
    videos: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    work: str | os.PathLike[str],
    backbone: str = "s3d",
    weights: str | os.PathLike[str] | None = None,
    random_weights: bool = False,
    batch_size: int = 8,
    shard: str | tuple[int, int] | None = None,
    device: str | None = None,
    num_workers: int = 2,
    clips: ClipSpec | None = None,
    input_size: int | tuple[int, int] | None = None,
    ids: IdRule = "stem",
    progress: bool = True,
) -> dict[str, Any]:
    """Extract one feature row per clip for every video of this shard (see the module docstring).

    Args:
        videos: a folder (searched recursively) or a list of video files.
        work: the work directory.
        backbone: a registered backbone name (``videobert.features.registry.available_backbones``).
        weights: None / ``"DEFAULT"`` (torchvision's weights), an enum member name, or a state_dict path.
        random_weights: seeded random weights; only for tests, never a fallback.
        batch_size: clips per forward pass (batches never mix videos, so results do not depend on
            scheduling).
        shard: ``(i, n)`` or ``"i/n"``; None reads ``RANK`` / ``WORLD_SIZE``.
        device: ``"cpu"`` / ``"cuda"``; None picks CUDA when available.
        num_workers: decoding threads (0 decodes inline).
        clips: the clip grid, a ``videobert.video.clips.ClipSpec`` (default 20 fps x 30 frames).
        input_size: override the backbone's input size in pixels (tests, small inputs).
        ids: ``"stem"`` (a file's name less its extension is its id) or ``"path"`` (its path below
            the folder, ``/`` -> ``__``); two files with one id are an error naming both.
        progress: show a tqdm bar.

    Returns:
        Summary dict: ``backbone``, ``shard``, ``n_videos`` (in this shard), ``done``,
        ``already_done``, ``skipped`` (``{video_id: reason}``), ``n_clips``, ``seconds``,
        ``clips_per_s``, ``out_dir``.
    """
    from videobert.features.registry import get_spec

    get_spec(backbone)  # an unknown name is an error before any video is looked at
    rank, world = parse_shard(shard)
    clip_spec = clips if clips is not None else ClipSpec()
    all_videos = collect_videos(videos, ids)
    mine = list(all_videos.items())[rank::world]
    wd = WorkDir.of(work)
    if wd.root.exists():
        wd.require()  # a file named as the work directory is an error; an older layout is upgraded
    out_dir = wd.features(backbone)
    manifest = wd.manifest
    stage = stage_name(backbone)

    def finished(vid: str) -> bool:
        return wd.feature_file(backbone, vid).exists() and wd.feature_times_file(backbone, vid).exists()

    todo = [(vid, p) for vid, p in mine if not finished(vid)]
    summary: dict[str, Any] = {
        "backbone": backbone,
        "shard": [rank, world],
        "n_videos": len(mine),
        "already_done": len(mine) - len(todo),
        "done": 0,
        "skipped": {},
        "n_clips": 0,
        "seconds": 0.0,
        "clips_per_s": 0.0,
        "out_dir": str(out_dir),
    }
    log.info(
        "extract %s: shard %d/%d, %d videos, %d already done, %d to do",
        backbone,
        rank,
        world,
        len(mine),
        summary["already_done"],
        len(todo),
    )
    if not todo:
        return summary

    from videobert.features.registry import build_backbone

    bb = build_backbone(
        backbone, weights=weights, random_weights=random_weights, device=device, crop_size=input_size
    )
    stride = getattr(clip_spec, "stride", None) or clip_spec.frames
    info = bb.info()
    info.update(
        fps=float(clip_spec.fps),
        clip_frames=int(clip_spec.frames),
        stride_frames=int(stride),
        partial=getattr(clip_spec, "partial", None),
        decode_size=bb.decode_size,
    )
    info = json.loads(json.dumps(info))  # as it reads back from JSON (tuples -> lists)
    info_path = out_dir / "info.json"
    if info_path.exists():
        try:
            old = read_json(info_path)
        except (OSError, ValueError) as exc:
            raise InputFileError(info_path, f"cannot read the feature settings ({exc}); delete it to start over") from exc
        diff = sorted(k for k in set(old) | set(info) if old.get(k) != info.get(k))
        if diff and wd.feature_ids(backbone):  # one features folder holds one set of settings
            raise VideoBertError(
                f"{out_dir}: existing features were made with other settings ({', '.join(diff)}: "
                f"{[old.get(k) for k in diff]} vs {[info.get(k) for k in diff]}); use another --work "
                "or delete that folder"
            )
    atomic_write_json(info_path, info)

    paths = dict(todo)
    pending: dict[str, tuple[list[np.ndarray], list[tuple[float, float]]]] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), unit="video", desc=f"extract {backbone}", disable=not progress)
    try:
        for item in _Producers(todo, bb, clip_spec, max(1, batch_size), max(0, num_workers)):
            vid = item.video_id
            if item.kind == "batch":
                feats = bb.forward(item.data).numpy()  # (b, D) float32
                buf = pending.setdefault(vid, ([], []))
                buf[0].append(feats)
                buf[1].extend(item.times)
                summary["n_clips"] += feats.shape[0]
                continue
            feats_list, times_list = pending.pop(vid, ([], []))
            record: dict[str, Any] = {"stage": stage, "video_id": vid, "path": str(paths[vid]), "error": None}
            if item.kind == "end" and feats_list:
                feats = np.concatenate(feats_list).astype(np.float16)  # (n_clips, D)
                times = np.asarray(times_list, dtype=np.float64).reshape(-1, 2)  # (n_clips, 2)
                atomic_save_npy(wd.feature_times_file(backbone, vid), times)
                atomic_save_npy(wd.feature_file(backbone, vid), feats)
                record.update(status="ok", n_clips=int(feats.shape[0]), dim=int(feats.shape[1]), **item.data)
                summary["done"] += 1
            else:
                reason = item.data if item.kind == "error" else "no complete clip (video too short)"
                if item.kind == "end":
                    record.update(item.data)
                record.update(status="skipped", error=reason)
                summary["skipped"][vid] = reason
                log.warning("skipped %s (%s): %s", vid, paths[vid], reason)
            manifest.append(record)
            bar.update(1)
            elapsed = time.perf_counter() - t0
            bar.set_postfix(clips_per_s=f"{summary['n_clips'] / max(elapsed, 1e-9):.1f}")
    finally:
        bar.close()
    summary["seconds"] = time.perf_counter() - t0
    summary["clips_per_s"] = summary["n_clips"] / max(summary["seconds"], 1e-9)
    if summary["done"] == 0 and summary["already_done"] == 0:
        first = "; ".join(f"{v}: {r}" for v, r in list(summary["skipped"].items())[:3])
        raise VideoBertError(f"extract: none of the {len(todo)} video(s) could be used ({first}; see {manifest.path})")
    log.info(
        "extract %s: %d done, %d skipped, %d clips in %.1f s (%.1f clips/s) -> %s",
        backbone,
        summary["done"],
        len(summary["skipped"]),
        summary["n_clips"],
        summary["seconds"],
        summary["clips_per_s"],
        out_dir,
    )
    return summary


def load_features(
    work: str | os.PathLike[str], backbone: str, video_id: str
) -> tuple[np.ndarray, np.ndarray]:
    """A finished video's features, float16 (n_clips, D), and clip times, float64 (n_clips, 2)."""
    from videobert.errors import StageMissingError

    wd = WorkDir.of(work)
    f, t = wd.feature_file(backbone, video_id), wd.feature_times_file(backbone, video_id)
    if not f.exists() or not t.exists():
        raise StageMissingError(
            f"{f}: no features for {video_id!r}; run `videobert extract --backbone {backbone}`"
        )
    return np.load(f, allow_pickle=False), np.load(t, allow_pickle=False)
