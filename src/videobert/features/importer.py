"""Clip features a user already has -> the features contract (``videobert import-features``).

Released feature sets (HowTo100M's ``features/<video_id>.npy``: float (n, D), one row per fixed
time step) are brought into ``WORK/features/<name>/`` exactly as ``extract`` lays them out, so
``fit-vocab``, ``tokenize`` and pretraining run on them without decoding a video:

* ``features/<name>/<video_id>.npy``: float16 (n_clips, D), written last (existence = finished);
* ``features/<name>/clip_times/<video_id>.npy``: float64 (n_clips, 2), clip [start, end) seconds;
* ``features/<name>/info.json``: ``{"backbone": name, "dim", "imported": true, "step", "window",
  "offset", "source": [input folders], "times": [times folders]}``;
* one ``manifest.jsonl`` record per video, stage ``extract/<name>``: ``ok`` (``n_clips``, ``dim``,
  ``dropped_rows``, ``times``: ``grid`` or the times file, ``array``: the input file, ``path``: the
  source video when ``videos=DIR`` names one, else null) or ``skipped`` with a one-line reason.

Inputs: ``<id>.npy`` (any float dtype) or ``<id>.npz`` (the array named ``key``, or its only
array), found recursively; a video's id is its file stem (:func:`videobert.workdir.file_video_id`;
``ids="path"`` for ids made of the folders too). Names ending in ``.times.npy`` are clip-time
files, never features. Two arrays with one id are an error naming both files.

Clip times: row ``k`` covers ``[offset + k * step, offset + k * step + window)`` seconds, unless a
times file gives them: ``<id>.times.npy`` beside the array, or ``<id>.npy`` / ``<id>.times.npy``
under ``times=DIR`` (then every video needs one); float (n, 2), finite, ``end > start``, starts
strictly increasing.

Checks (a failing video is recorded as skipped and the others go on): the array is 2-D float with
at least one row and column; D is the features folder's (or, in a new folder, the most common D of
the inputs: a file with another D is skipped naming it); rows holding NaN or inf are dropped with
their times (counted as ``dropped_rows`` and warned about: the other clips keep their true
times), and a video with no finite row is skipped; values beyond float16's range (the contract's
storage) skip the video, asking to rescale. Finished videos are skipped on a re-run; an existing,
non-empty features folder made with other settings (another step, window, offset or D, or by
``extract``) is refused, as ``extract`` refuses.
"""

from __future__ import annotations

import logging
import math
import os
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from videobert.errors import InputFileError, VideoBertError
from videobert.features.extract import collect_videos, stage_name
from videobert.utils.io import atomic_save_npy, atomic_write_json, read_json
from videobert.workdir import (
    IdRule,
    InvalidVideoIdError,
    WorkDir,
    check_video_id,
    file_video_id,
    usable_video_id,
)

log = logging.getLogger(__name__)

ARRAY_SUFFIXES = (".npy", ".npz")
TIMES_SUFFIX = ".times.npy"
#: info.json keys that say where arrays came from; a later import may add folders
PROVENANCE_KEYS = ("source", "times")
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504


@dataclass
class ImportConfig:
    """Settings of ``videobert import-features`` (the keyword arguments of :func:`import_features`).

    Attributes:
        name: the feature set's name: its folder WORK/features/<name> and fit-vocab's --backbone.
        step: seconds between the starts of consecutive rows (the release's rate, e.g. 1.0).
        window: seconds each row covers.
        offset: start of row 0, in seconds.
        times: a folder of per-video clip times (<id>.npy or <id>.times.npy, float (n, 2) seconds)
            used instead of the step grid.
        key: the array's name in .npz files (default: the file's only array).
        videos: a folder of the source videos (recursive, same ids), recorded in the manifest so
            the gallery and tokenize (transcripts beside the videos) find them.
        ids: ``stem`` (a file's name less its extension is its id) or ``path`` (its folders too).
        progress: show a progress bar.
    """

    name: str | None = None
    step: float = 1.0
    window: float = 1.0
    offset: float = 0.0
    times: str | None = None
    key: str | None = None
    videos: str | None = None
    ids: IdRule = "stem"
    progress: bool = True

    def __post_init__(self) -> None:
        for field_name in ("step", "window"):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{field_name} must be a positive number of seconds, got {value}")
        if not (math.isfinite(self.offset) and self.offset >= 0):
            raise ValueError(f"offset must be >= 0 seconds, got {self.offset}")


def _is_times_file(p: Path) -> bool:
    return p.name.lower().endswith(TIMES_SUFFIX)


def _array_id(path: Path, root: Path | None, ids: IdRule) -> str:
    """The id of an array or times file: :func:`file_video_id` less a ``.times`` before ``.npy``."""
    if _is_times_file(path):
        path = path.with_name(path.name[: -len(TIMES_SUFFIX)] + ".npy")
    return file_video_id(path, root, ids)


def _index(files: list[Path], root: Path | None, ids: IdRule, what: str) -> dict[str, Path]:
    """``id -> file``, sorted; two files with one id are an error naming both."""
    found: dict[str, Path] = {}
    for p in files:
        vid = _array_id(p, root, ids)
        if not usable_video_id(vid, p):
            continue
        if vid in found:
            hint = "; or use ids=path to name them by their folders too" if ids == "stem" else ""
            raise InputFileError(p, f"{what} id {vid!r} is also the id of {found[vid]}; rename or remove one{hint}")
        found[vid] = p
    return dict(sorted(found.items()))


def _list_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``folder`` (recursive) ending in one of ``suffixes`` (case-insensitive), hidden
    ones left out, sorted by path."""
    if not folder.is_dir():
        raise InputFileError(folder, "not a folder")
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not p.name.lower().endswith(suffixes):
            continue
        if p.is_file():
            out.append(p)
    return sorted(out, key=lambda q: q.relative_to(folder).as_posix())


def collect_arrays(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], ids: IdRule = "stem"
) -> dict[str, Path]:
    """``video_id -> array file`` (``.npy`` / ``.npz``, not ``*.times.npy``), sorted by id, from a
    folder (recursive) or a list of files and folders.

    Raises:
        InputFileError: a missing input, a listed file that is not .npy/.npz, or two arrays with
            one id (names both).
    """
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    files: list[tuple[Path, Path | None]] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files += [(f, p) for f in _list_files(p, ARRAY_SUFFIXES) if not _is_times_file(f)]
        elif not p.exists():
            raise InputFileError(p, "no such file or folder")
        elif not p.name.lower().endswith(ARRAY_SUFFIXES) or _is_times_file(p):
            raise InputFileError(p, "not a feature array (expected <id>.npy or <id>.npz)")
        else:
            files.append((p, None))
    found: dict[str, Path] = {}
    for root in dict.fromkeys(r for _, r in files):
        part = _index([f for f, r in files if r == root], root, ids, "video")
        for vid, f in part.items():
            if vid in found:
                raise InputFileError(f, f"video id {vid!r} is also the id of {found[vid]}; rename or remove one")
            found[vid] = f
    return dict(sorted(found.items()))


def collect_times(folder: str | os.PathLike[str], ids: IdRule = "stem") -> dict[str, Path]:
    """``video_id -> clip-times file`` under ``folder`` (``<id>.npy`` or ``<id>.times.npy``, recursive)."""
    root = Path(folder)
    return _index(_list_files(root, (".npy",)), root, ids, "clip-times")


def _npz_member(z: zipfile.ZipFile, path: Path, key: str | None) -> str:
    names = [n[: -len(".npy")] for n in z.namelist() if n.endswith(".npy")]
    if key is not None:
        if key not in names:
            raise InputFileError(path, f"no array named {key!r} (it holds {', '.join(names) or 'none'})")
        return key
    if len(names) != 1:
        raise InputFileError(path, f"holds {len(names)} arrays ({', '.join(names)}); name the features with key=NAME")
    return names[0]


def array_header(path: str | os.PathLike[str], key: str | None = None) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of a ``.npy`` file or of one array of a ``.npz``, without reading the data.

    Raises:
        InputFileError: not a readable array file (or the ``.npz`` lacks ``key`` / holds several).
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".npz":
            with zipfile.ZipFile(p) as z:
                with z.open(_npz_member(z, p, key) + ".npy") as fh:
                    version = np.lib.format.read_magic(fh)
                    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                    if version in readers:
                        shape, _, dtype = readers[version](fh)
                        return tuple(shape), np.dtype(dtype)
            x = read_array(p, key)  # another format version: read it whole
            return tuple(x.shape), x.dtype
        x = np.load(p, mmap_mode="r", allow_pickle=False)
        return tuple(x.shape), x.dtype
    except InputFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(p, f"cannot read the array: {type(exc).__name__}: {exc}") from exc


def read_array(path: str | os.PathLike[str], key: str | None = None) -> np.ndarray:
    """The array of a ``.npy`` file, or of a ``.npz`` (``key``, else its only array), in memory.

    Raises:
        InputFileError: not readable, or pickled objects (never unpickled).
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".npz":
            with np.load(p, allow_pickle=False) as z, zipfile.ZipFile(p) as zf:
                return np.asarray(z[_npz_member(zf, p, key)])
        return np.load(p, allow_pickle=False)
    except InputFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputFileError(p, f"cannot read the array: {type(exc).__name__}: {exc}") from exc


def check_shape(path: Path, shape: tuple[int, ...], dtype: np.dtype, dim: int | None) -> None:
    """A feature array's header, checked: 2-D float (n >= 1, D >= 1), D == ``dim`` when given.

    Raises:
        InputFileError: naming ``path`` and the problem.
    """
    if len(shape) != 2:
        raise InputFileError(path, f"features must be 2-D (n_clips, D), got shape {shape}")
    if dtype.kind != "f":
        raise InputFileError(path, f"features must be floating point (float16/32/64), got {dtype}")
    if shape[0] == 0 or shape[1] == 0:
        raise InputFileError(path, f"no features in it (shape {shape})")
    if dim is not None and shape[1] != dim:
        raise InputFileError(path, f"feature dim {shape[1]} differs from the feature set's {dim}")


def grid_times(n: int, step: float = 1.0, window: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """float64 (n, 2) clip times of a fixed grid: row k = ``[offset + k*step, offset + k*step + window)`` s."""
    starts = offset + np.arange(n, dtype=np.float64) * step  # (n,)
    return np.stack([starts, starts + window], axis=1)  # (n,) x2 -> (n, 2)


def read_times(path: Path, n: int) -> np.ndarray:
    """float64 (n, 2) clip times from a file, checked: shape, finite, end > start, starts increasing.

    Raises:
        InputFileError: naming the times file and the problem.
    """
    t = read_array(path)
    if t.ndim != 2 or t.shape[1] != 2 or t.dtype.kind not in "fiu":
        raise InputFileError(path, f"clip times must be numbers of shape (n_clips, 2), got {t.dtype} {t.shape}")
    if t.shape[0] != n:
        raise InputFileError(path, f"has {t.shape[0]} clip times for {n} feature rows")
    t = t.astype(np.float64)
    if not np.isfinite(t).all():
        raise InputFileError(path, "clip times contain NaN or inf")
    bad = np.flatnonzero(t[:, 1] <= t[:, 0])
    if bad.size:
        raise InputFileError(path, f"clip {int(bad[0])} ends at {t[bad[0], 1]:g} s, not after its start {t[bad[0], 0]:g} s")
    back = np.flatnonzero(np.diff(t[:, 0]) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputFileError(path, f"clip starts must increase: clip {i} starts at {t[i, 0]:g} s, clip {i - 1} at {t[i - 1, 0]:g} s")
    return t


def _check_name(name: str | None) -> str:
    if not name:
        raise VideoBertError("import-features: name the feature set with --name NAME (e.g. --name howto100m)")
    try:
        return check_video_id(name)
    except InvalidVideoIdError:
        raise VideoBertError(f"--name {name!r}: a feature set's name must be one folder name (no '/', no leading dot)") from None


def _convert(path: Path, key: str | None, times_file: Path | None, grid: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, int]:
    """One video's ``(float16 (n, D) features, float64 (n, 2) times, rows dropped)``.

    Raises:
        InputFileError: the array or its times cannot be used (the reason names the file).
    """
    x = read_array(path, key)
    check_shape(path, tuple(x.shape), x.dtype, None)
    n = x.shape[0]
    times = read_times(times_file, n) if times_file is not None else grid_times(n, *grid)
    finite = np.isfinite(x).all(axis=1)  # (n,)
    dropped = int(n - finite.sum())
    if dropped == n:
        raise InputFileError(path, f"every one of its {n} rows holds NaN or inf")
    if dropped:
        x, times = x[finite], times[finite]
    peak = float(np.abs(x).max())
    if peak > FLOAT16_MAX:
        raise InputFileError(path, f"values up to {peak:.3g} exceed float16's range ({FLOAT16_MAX:g}), the "
                                   "features' storage; rescale them")  # fmt: skip
    return x.astype(np.float16), times, dropped


def import_features(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    work: str | os.PathLike[str],
    name: str | None = None,
    step: float = 1.0,
    window: float = 1.0,
    offset: float = 0.0,
    times: str | os.PathLike[str] | None = None,
    key: str | None = None,
    videos: str | os.PathLike[str] | None = None,
    ids: IdRule = "stem",
    progress: bool = True,
) -> dict[str, Any]:
    """Bring per-video feature arrays into ``WORK/features/<name>/`` (see the module docstring).

    Args:
        sources: a folder of ``<id>.npy`` / ``<id>.npz`` (recursive) or a list of files/folders.
        work: the work directory (created if needed).
        name: the feature set's name (required): ``features/<name>``, fit-vocab's ``--backbone``.
        step, window, offset: the clip grid in seconds (row k: ``[offset + k*step, ... + window)``).
        times: a folder of per-video clip times replacing the grid (each video needs one).
        key: the features' array name in ``.npz`` files.
        videos: a folder of the source videos (recorded as each record's ``path``).
        ids: ``"stem"`` or ``"path"`` (see :func:`videobert.workdir.file_video_id`).
        progress: show a tqdm bar.

    Returns:
        ``name``, ``n_videos``, ``already_done``, ``done``, ``skipped`` (``{video_id: reason}``),
        ``n_clips`` (rows written), ``dropped_rows``, ``dim``, ``seconds``, ``out_dir``.

    Raises:
        VideoBertError: no name; other settings than the existing features'; no input usable.
        InputFileError: a missing input, or two arrays (or times files) with one id.
    """
    name = _check_name(name)
    try:
        ImportConfig(name, step, window, offset)  # the same checks as the CLI's
    except ValueError as exc:
        raise VideoBertError(f"import-features: {exc}") from None
    arrays = collect_arrays(sources, ids)
    if not arrays:
        raise VideoBertError(f"import-features: no <id>.npy or <id>.npz arrays in {sources}")
    times_of = collect_times(times, ids) if times is not None else {}
    sources_of = collect_videos(videos, ids) if videos is not None else {}
    wd = WorkDir.of(work)
    if wd.root.exists():
        wd.require()
    out_dir = wd.features(name)
    stage = stage_name(name)

    def finished(vid: str) -> bool:
        return wd.feature_file(name, vid).exists() and wd.feature_times_file(name, vid).exists()

    todo = [(vid, p) for vid, p in arrays.items() if not finished(vid)]
    summary: dict[str, Any] = {
        "name": name, "n_videos": len(arrays), "already_done": len(arrays) - len(todo), "done": 0, "skipped": {},
        "n_clips": 0, "dropped_rows": 0, "dim": None, "seconds": 0.0, "out_dir": str(out_dir),
    }  # fmt: skip
    log.info("import-features %s: %d arrays, %d already imported, %d to do", name, len(arrays), summary["already_done"], len(todo))
    if not todo:
        return summary
    manifest = wd.manifest

    def skip(vid: str, path: Path, reason: str) -> None:
        manifest.append({"stage": stage, "video_id": vid, "path": _str(sources_of.get(vid)), "array": str(path),
                         "status": "skipped", "error": reason, "imported": True})  # fmt: skip
        summary["skipped"][vid] = reason
        log.warning("skipped %s (%s): %s", vid, path, reason)

    # the headers first: the feature set's D is the folder's, else the most common among the inputs
    headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for vid, path in todo:
        try:
            headers[vid] = array_header(path, key)
            check_shape(path, *headers[vid], None)
        except InputFileError as exc:
            headers.pop(vid, None)
            skip(vid, path, exc.reason)
    info_path = out_dir / "info.json"
    old: dict[str, Any] | None = None
    if info_path.exists():
        try:
            old = read_json(info_path)
        except (OSError, ValueError) as exc:
            raise InputFileError(info_path, f"cannot read the feature settings ({exc}); delete it to start over") from exc
    has_features = bool(wd.feature_ids(name))
    dims = Counter(shape[1] for shape, _ in headers.values())
    dim = int(old["dim"]) if has_features and old and old.get("imported") and "dim" in old else None
    if dim is None and dims:
        dim = max(dims, key=lambda d: (dims[d], -d))  # the most common; a tie goes to the smaller D
    summary["dim"] = dim
    info: dict[str, Any] = {"backbone": name, "dim": dim, "imported": True, "step": float(step),
                            "window": float(window), "offset": float(offset)}  # fmt: skip
    if old is not None and has_features:
        diff = sorted(k for k in set(old) | set(info) if k not in PROVENANCE_KEYS and old.get(k) != info.get(k))
        if diff:
            raise VideoBertError(
                f"{out_dir}: existing features were made with other settings ({', '.join(diff)}: "
                f"{[old.get(k) for k in diff]} vs {[info.get(k) for k in diff]}); use another --name or --work, "
                "or delete that folder"
            )
    if dim is not None:
        for key_name, new in (("source", _sources(sources)), ("times", [str(Path(times).resolve())] if times else [])):
            before = (old or {}).get(key_name) if has_features else []
            info[key_name] = list(dict.fromkeys([*(before or []), *new]))
        atomic_write_json(info_path, info)

    t0 = time.perf_counter()
    bar = tqdm(todo, unit="video", desc=f"import {name}", disable=not progress)
    try:
        for vid, path in bar:
            if vid not in headers:
                continue  # skipped above
            try:
                check_shape(path, *headers[vid], dim)
                times_file = times_of.get(vid)
                if times is not None and times_file is None:
                    raise InputFileError(path, f"no clip times <id>.npy for {vid!r} in {times}")
                if times_file is None:
                    beside = path.with_name(path.name[: -len(path.suffix)] + TIMES_SUFFIX)
                    times_file = beside if beside.is_file() else None
                feats, clip_times, dropped = _convert(path, key, times_file, (step, window, offset))
            except InputFileError as exc:
                skip(vid, path, str(exc) if exc.path != str(path) else exc.reason)
                continue
            if dropped:
                log.warning("%s: dropped %d of %d rows holding NaN or inf (their clips are left out)", path, dropped,
                            dropped + feats.shape[0])  # fmt: skip
            atomic_save_npy(wd.feature_times_file(name, vid), clip_times)
            atomic_save_npy(wd.feature_file(name, vid), feats)  # last: its existence means finished
            manifest.append({
                "stage": stage, "video_id": vid, "path": _str(sources_of.get(vid)), "array": str(path),
                "status": "ok", "error": None, "imported": True, "n_clips": int(feats.shape[0]),
                "dim": int(feats.shape[1]), "dropped_rows": dropped, "times": str(times_file) if times_file else "grid",
            })  # fmt: skip
            summary["done"] += 1
            summary["n_clips"] += int(feats.shape[0])
            summary["dropped_rows"] += dropped
    finally:
        bar.close()
    summary["seconds"] = time.perf_counter() - t0
    if summary["done"] == 0 and summary["already_done"] == 0:
        first = "; ".join(f"{v}: {r}" for v, r in list(summary["skipped"].items())[:3])
        raise VideoBertError(f"import-features: none of the {len(todo)} array(s) could be used ({first}; see {manifest.path})")
    log.info("import-features %s: %d imported, %d skipped, %d clips (D=%s, %d NaN/inf rows dropped) in %.1f s -> %s",
             name, summary["done"], len(summary["skipped"]), summary["n_clips"], dim, summary["dropped_rows"],
             summary["seconds"], out_dir)  # fmt: skip
    return summary


def _str(p: Path | None) -> str | None:
    return None if p is None else str(p)


def _sources(sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    return [str(Path(s).resolve()) for s in items]


__all__ = [
    "ImportConfig",
    "array_header",
    "check_shape",
    "collect_arrays",
    "collect_times",
    "grid_times",
    "import_features",
    "read_array",
    "read_times",
]
