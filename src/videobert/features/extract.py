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
preprocessing (the backbone's ``prepare``: resize, crop, normalise; the whole descriptor for
``classical``) run ahead of the forward pass in ``num_workers`` worker processes (a
``torch.utils.data.DataLoader``: worker w of N decodes videos w, w + N, ... of the to-do list,
its batches come back in shared memory, in a fixed round-robin order, pinned when the backbone
is on CUDA), or threads with ``worker_type="thread"``, or inline with ``num_workers=0``; the
forward pass runs in the calling process (``torch.inference_mode``; bf16 autocast on CUDA). The
features do not depend on which: every batch is one video's clips, prepared by the same code.
Work is split by video: shard ``i`` of ``n`` takes every n-th video of the sorted id list (from
``shard=(i, n)``, or torchrun's ``RANK`` / ``WORLD_SIZE``), with no other coordination; the
device defaults to this process's ``LOCAL_RANK`` GPU (:func:`extract_device`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from videobert.errors import InputFileError, VideoBertError
from videobert.utils.io import atomic_save_npy, atomic_write_json, read_json
from videobert.utils.runtime import env_int
from videobert.video.clips import ClipSpec
from videobert.workdir import IdRule, WorkDir, file_video_id, usable_video_id

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
        device: cpu, cuda or cuda:N (default: under torchrun this process's ``LOCAL_RANK`` GPU,
            else cuda:0, when CUDA is available; else cpu).
        num_workers: decoding workers ahead of the forward pass (0: inline, in this process).
        worker_type: ``process`` (DataLoader worker processes, one torch thread each) or
            ``thread`` (threads of this process).
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
    worker_type: Literal["process", "thread"] = "process"
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


def extract_device(device: str | None = None) -> Any:
    """The torch device this process extracts on.

    ``cpu`` and ``cuda:N`` are taken as given; ``cuda`` or None (CUDA when available) mean this
    process's ``LOCAL_RANK`` GPU (torchrun starts one process per GPU), except where a process
    sees a single GPU (``CUDA_VISIBLE_DEVICES`` or SLURM's one GPU per task): that one.

    Raises:
        VideoBertError: CUDA asked for without one, or ``LOCAL_RANK`` beyond the visible GPUs.
    """
    import torch

    from videobert.utils.runtime import resolve_device

    local = env_int("LOCAL_RANK", 0)
    if (device is None or str(device).strip().lower() in ("auto", "cuda")) and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if local >= count:
            if count != 1:
                raise VideoBertError(
                    f"LOCAL_RANK={local} but this process sees {count} CUDA devices: start at most {count} "
                    f"processes per node (torchrun --nproc-per-node {count}) or pass device=cuda:N"
                )
            local = 0
    return resolve_device(device, local_rank=local)


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
    worker_type: Literal["process", "thread"] = "process",
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
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None picks CUDA when available; ``cuda``
            and None mean this process's ``LOCAL_RANK`` GPU (:func:`extract_device`).
        num_workers: decoding workers ahead of the forward pass (0 decodes inline).
        worker_type: ``"process"`` (DataLoader worker processes) or ``"thread"``
            (:mod:`videobert.features.decoding`); the features are the same.
        clips: the clip grid, a ``videobert.video.clips.ClipSpec`` (default 20 fps x 30 frames).
        input_size: override the backbone's input size in pixels (tests, small inputs).
        ids: ``"stem"`` (a file's name less its extension is its id) or ``"path"`` (its path below
            the folder, ``/`` -> ``__``); two files with one id are an error naming both.
        progress: show a tqdm bar.

    Returns:
        Summary dict: ``backbone``, ``device``, ``shard``, ``n_videos`` (in this shard), ``done``,
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
        "device": None,
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

    from videobert.features.decoding import prepared_batches
    from videobert.features.registry import build_backbone

    bb = build_backbone(
        backbone,
        weights=weights,
        random_weights=random_weights,
        device=extract_device(device),
        crop_size=input_size,
    )
    summary["device"] = str(bb.device)
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
        for item in prepared_batches(todo, bb, clip_spec, batch_size, num_workers, worker_type):
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
        "extract %s on %s: %d done, %d skipped, %d clips in %.1f s (%.1f clips/s) -> %s",
        backbone,
        summary["device"],
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
