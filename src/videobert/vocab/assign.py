"""The vocabulary stage over a work directory: fit the tree on sampled clip features, then give
every video its visual words.

Inputs (extraction stage): ``WORK/features/<backbone>/<video_id>.npy`` float16 (n_clips, D),
``clip_times/<video_id>.npy`` float64 (n_clips, 2) clip [start, end) in seconds, ``info.json``, and the
``extract/<backbone>`` records of ``WORK/manifest.jsonl``.

Outputs: ``WORK/vocab/{config.json, centroids.safetensors}`` (see :mod:`.hkmeans`),
``WORK/tokens/<video_id>.npy`` int32 (n_clips,) and ``clip_times/<video_id>.npy`` (copy of the clip
times), ``WORK/vocab/stats.json`` (see :func:`.stats.vocab_stats`) and ``tokens`` manifest records.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from videobert.errors import InputFileError, StageMissingError, VideoBertError
from videobert.utils.io import atomic_save_npy, atomic_write_json, read_json
from videobert.vocab.hkmeans import CENTROIDS_NAME, CONFIG_NAME, HierarchicalKMeans
from videobert.vocab.sizing import MIN_CLIPS_PER_WORD, SIZE_MODES, SizeMode, choose_tree
from videobert.vocab.stats import format_stats, vocab_stats
from videobert.workdir import WorkDir, usable_video_id

log = logging.getLogger(__name__)

TOKENS_STAGE = "tokens"


@dataclass
class VocabConfig:
    """Settings of ``videobert fit-vocab`` (the keyword arguments of :func:`fit_vocab`).

    Attributes:
        backbone: features folder to use (needed when several backbones were extracted).
        levels: tree depth; the vocabulary has branching ** levels words. None (default): the
            paper's 4, fewer when the data is too small (``size``); a number is fitted as asked.
        branching: children per tree node. None (default): the paper's 12, fewer only when even
            one level of 12 is too many (``size``); a number is fitted as asked.
        size: ``auto``: with levels and branching unset, shrink the tree to the clips fitted
            (at least ``min_clips_per_word`` per word; see videobert.vocab.sizing); ``fixed``: fit
            the requested tree. Either way too few clips per word gives a warning.
        min_clips_per_word: clips a word needs (default 39, faiss' minimum points per centroid:
            then every level's k-means sees that many per centroid on average).
        max_samples: clip features clustered at most (a uniform, seeded sample).
        seed: seeds the sample and every node's k-means.
        niter: Lloyd iterations per node.
        normalize: L2-normalise features before clustering and assignment.
        max_points_per_centroid: faiss subsampling cap per centroid (None: every point of a node).
        method: assignment by tree descent or to the nearest leaf.
        assign: after fitting, write every video's visual words to WORK/tokens.
    """

    backbone: str | None = None
    levels: int | None = None
    branching: int | None = None
    size: SizeMode = "auto"
    min_clips_per_word: int = MIN_CLIPS_PER_WORD
    max_samples: int = 500_000
    seed: int = 0
    niter: int = 20
    normalize: bool = True
    max_points_per_centroid: int | None = None
    method: Literal["tree", "flat"] = "tree"
    assign: bool = True

    def __post_init__(self) -> None:
        if self.levels is not None and self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")
        if self.branching is not None and self.branching < 2:
            raise ValueError(f"branching must be >= 2, got {self.branching}")
        if self.size not in SIZE_MODES:
            raise ValueError(f"size must be one of {', '.join(SIZE_MODES)}, got {self.size!r}")
        if self.min_clips_per_word < 1:
            raise ValueError(f"min_clips_per_word must be >= 1, got {self.min_clips_per_word}")
        if self.max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {self.max_samples}")
        if self.method not in ("tree", "flat"):
            raise ValueError(f"method must be 'tree' or 'flat', got {self.method!r}")


@dataclass
class VideoFeatures:
    """Where one video's features live."""

    video_id: str
    features: Path  # (n_clips, D) float16
    times: Path  # (n_clips, 2) float64
    source: str | None  # source video path from the manifest


def resolve_backbone(work: str | os.PathLike[str], backbone: str | None = None) -> str:
    """The backbone whose features to use: ``backbone`` if given, else the only one in WORK/features."""
    wd = WorkDir.of(work)
    feat_root = wd.features_root
    if backbone is not None:
        if not wd.features(backbone).is_dir():
            raise StageMissingError(f"{wd.features(backbone)}: no features for backbone {backbone!r}; run `videobert extract`")
        return backbone
    found = wd.backbones()
    if not found:
        raise StageMissingError(f"{feat_root}: no extracted features; run `videobert extract` first")
    if len(found) > 1:
        raise VideoBertError(f"{feat_root}: features of several backbones {found}; choose one with --backbone")
    return found[0]


def list_videos(work: str | os.PathLike[str], backbone: str) -> list[VideoFeatures]:
    """Videos with finished features, sorted by id.

    Uses the ``extract/<backbone>`` manifest records with status ``ok`` whose feature file exists;
    a skipped video is left out. Without any such record (features copied in by hand) every
    ``<id>.npy`` in the features folder is used, with no source path.
    """
    wd = WorkDir.of(work)
    records = wd.manifest.latest(f"extract/{backbone}")
    out = []
    if records:
        for vid, rec in sorted(records.items()):
            if rec.get("status") != "ok":
                continue
            if not usable_video_id(vid, wd.manifest.path):
                continue
            path = wd.feature_file(backbone, vid)
            if not path.exists():
                log.warning("%s: listed as extracted in the manifest but missing; skipped", path)
                continue
            out.append(VideoFeatures(vid, path, wd.feature_times_file(backbone, vid), rec.get("path")))
    else:
        for vid in wd.feature_ids(backbone):
            out.append(VideoFeatures(vid, wd.feature_file(backbone, vid), wd.feature_times_file(backbone, vid), None))
    return out


def load_features(v: VideoFeatures) -> np.ndarray:
    """(n_clips, D) array as stored (float16), checked."""
    try:
        x = np.load(v.features, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputFileError(v.features, f"cannot read features: {exc}") from exc
    if x.ndim != 2:
        raise InputFileError(v.features, f"features must be 2-D (n_clips, D), got shape {x.shape}")
    return x


def _load_times(v: VideoFeatures, n: int) -> np.ndarray:
    """(n_clips, 2) float64 clip times, checked against the feature count."""
    if not v.times.exists():
        raise InputFileError(v.times, "clip times missing")
    t = np.load(v.times, allow_pickle=False)
    if t.shape != (n, 2):
        raise InputFileError(v.times, f"clip times have shape {t.shape}, expected ({n}, 2)")
    return t.astype(np.float64)


def sample_features(videos: list[VideoFeatures], max_samples: int, seed: int = 0) -> np.ndarray:
    """A uniform sample (without replacement) of at most ``max_samples`` clip rows over all videos.

    A video whose features cannot be read, or whose dimension is not that of most videos, is left
    out with a warning (``assign_all`` records it as skipped); the others are sampled.

    Returns:
        (n, D) float32, n = min(max_samples, total clips) less any rows with NaN/inf (dropped with a
        warning), rows in (video, clip) order.
    """
    shapes: dict[str, tuple[int, int]] = {}
    for v in videos:
        try:
            shapes[v.video_id] = load_features(v).shape
        except InputFileError as exc:
            log.warning("%s; left out of the vocabulary's sample", exc)
    dims = Counter(d for _, d in shapes.values())
    if not dims:
        raise StageMissingError("no readable clip features to fit a vocabulary on")
    dim = dims.most_common(1)[0][0]
    for v in videos:
        if v.video_id in shapes and shapes[v.video_id][1] != dim:
            log.warning("%s: feature dim %d differs from the others' %d; left out", v.features, shapes[v.video_id][1], dim)
    videos = [v for v in videos if v.video_id in shapes and shapes[v.video_id][1] == dim]
    sizes = [shapes[v.video_id][0] for v in videos]
    total = int(sum(sizes))
    if total == 0:
        raise StageMissingError("no clip features to fit a vocabulary on")
    n = min(int(max_samples), total)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(total, size=n, replace=False)) if n < total else np.arange(total)
    out = np.empty((n, dim), dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pos = 0
    for v, lo, hi in zip(videos, offsets[:-1], offsets[1:], strict=True):
        a, b = np.searchsorted(pick, [lo, hi])
        if b > a:
            x = load_features(v)
            out[pos : pos + b - a] = x[pick[a:b] - lo]
            pos += b - a
    finite = np.isfinite(out).all(1)  # (n,)
    if not finite.all():
        log.warning("dropping %d sampled clip features with NaN/inf values", int((~finite).sum()))
        out = out[finite]
    return out


def fit_vocab(
    work: str | os.PathLike[str],
    backbone: str | None = None,
    levels: int | None = None,
    branching: int | None = None,
    size: str = "auto",
    min_clips_per_word: int = MIN_CLIPS_PER_WORD,
    max_samples: int = 500_000,
    seed: int = 0,
    niter: int = 20,
    normalize: bool = True,
    max_points_per_centroid: int | None = None,
    assign: bool = True,
    method: str = "tree",
) -> dict[str, Any]:
    """Fit the visual-word tree on a sample of WORK's clip features, save it, assign every video.

    Args:
        work: the work directory.
        backbone: feature folder to use (``None``: the only one present).
        levels, branching: tree shape; ``n_words = branching**levels``. ``None``: the paper's
            4 / 12, shrunk to the data by ``size="auto"``; a number (explicit) is fitted as asked.
        size: ``"auto"`` or ``"fixed"`` (:func:`videobert.vocab.sizing.choose_tree`).
        min_clips_per_word: fewer fitted clips per word gives a warning (and, with ``auto``, a
            smaller tree).
        max_samples: at most this many clip features (uniform sample, seeded) are clustered.
        seed: seeds the sample and the k-means of every node.
        niter: Lloyd iterations per node.
        normalize: L2-normalise features before clustering and assignment (default on).
        max_points_per_centroid: faiss subsampling cap (``None``: every point of a node).
        assign: then run :func:`assign_all` (the CLI does).
        method: assignment method, ``"tree"`` or ``"flat"`` (stored in config.json).

    Returns:
        The statistics of all videos' tokens (:func:`assign_all`) if ``assign``, else those of the
        fit sample. Both are also in WORK/vocab (stats.json; config.json's ``stats`` holds the fit
        sample's, without per-word counts); both, and config.json, hold ``sizing``
        (:meth:`videobert.vocab.sizing.TreeSize.as_dict`: the tree chosen and why).
    """
    if method not in ("tree", "flat"):
        raise VideoBertError(f"unknown assignment method {method!r} (use 'tree' or 'flat')")
    WorkDir.of(work).require()
    backbone = resolve_backbone(work, backbone)
    videos = list_videos(work, backbone)
    if not videos:
        raise StageMissingError(f"{WorkDir.of(work).features(backbone)}: no extracted videos")
    x = sample_features(videos, max_samples, seed)
    try:
        tree = choose_tree(x.shape[0], levels, branching, size, min_clips_per_word)
    except ValueError as exc:
        raise VideoBertError(f"fit-vocab: {exc}") from None
    log.info("%s", tree.message())
    if tree.warning():
        log.warning("%s", tree.warning())
    log.debug("fitting %d-level x %d vocabulary on %d clip features (D=%d) of %d videos", tree.levels, tree.branching, *x.shape, len(videos))
    model = HierarchicalKMeans(
        levels=tree.levels,
        branching=tree.branching,
        seed=seed,
        niter=niter,
        max_points_per_centroid=max_points_per_centroid,
        normalize=normalize,
        verbose=log.isEnabledFor(logging.INFO),
    ).fit(x)
    counts = np.bincount(model.labels_, minlength=model.n_words)
    fit_stats = vocab_stats(counts, float(model.inertia_ or 0.0) * x.shape[0])
    fit_stats.pop("counts")
    log.info("fit sample: %s", format_stats(fit_stats))
    extra = {"backbone": backbone, "max_samples": int(max_samples), "method": method, "sizing": tree.as_dict(), "stats": fit_stats}
    # remove the old tree first, so a crash mid-save never pairs new centroids with old config
    for name in (CONFIG_NAME, CENTROIDS_NAME):
        (WorkDir.of(work).vocab / name).unlink(missing_ok=True)
    model.save(WorkDir.of(work).vocab, extra=extra)
    if not assign:
        return {**fit_stats, "sizing": tree.as_dict()}
    return assign_all(work)


def load_vocab(work: str | os.PathLike[str]) -> tuple[HierarchicalKMeans, dict[str, Any]]:
    """The fitted tree of WORK and its config.json dict."""
    vdir = WorkDir.of(work).vocab
    if not (vdir / CONFIG_NAME).exists():
        raise StageMissingError(f"{vdir / CONFIG_NAME}: no vocabulary; run `videobert fit-vocab` first")
    return HierarchicalKMeans.load(vdir), read_json(vdir / CONFIG_NAME)


def _is_fresh(out: Path, *inputs: Path) -> bool:
    """``out`` exists and is at least as new as every input."""
    if not out.exists():
        return False
    t = out.stat().st_mtime_ns
    return all(t >= p.stat().st_mtime_ns for p in inputs if p.exists())


def assign_all(work: str | os.PathLike[str], force: bool = False) -> dict[str, Any]:
    """Visual words for every extracted video of WORK; resumable.

    A video whose ``tokens/<id>.npy`` exists and is newer than both its features and the
    vocabulary is skipped (its tokens still count in the statistics). A video whose files cannot
    be read is recorded as skipped in the manifest (stage ``tokens``) and the job goes on.

    Returns:
        :func:`.stats.vocab_stats` over all videos' tokens, with ``n_videos``; also written to
        ``WORK/vocab/stats.json``.
    """
    model, cfg = load_vocab(work)
    backbone = cfg.get("backbone") or resolve_backbone(work)
    method = cfg.get("method", "tree")
    videos = list_videos(work, backbone)
    wd = WorkDir.of(work)
    manifest = wd.manifest
    centroids_file = wd.vocab / CENTROIDS_NAME
    counts = np.zeros(model.n_words, dtype=np.int64)
    sq_sum = 0.0
    n_done = n_skipped = n_videos = 0
    leaf, _ = model.leaf_centroids()
    for v in tqdm(videos, desc="assign visual words", disable=not log.isEnabledFor(logging.INFO)):
        out = wd.token_file(v.video_id)
        try:
            x = load_features(v)
            if not force and _is_fresh(out, v.features, centroids_file):
                ids = np.load(out, allow_pickle=False)
                if ids.shape != (x.shape[0],):
                    raise InputFileError(out, f"has shape {ids.shape}, expected ({x.shape[0]},)")
                try:
                    xp = model.preprocess(x)  # (n_clips, D)
                except ValueError as exc:
                    raise InputFileError(v.features, str(exc)) from exc
                dist = ((xp - leaf[ids]) ** 2).sum(1)  # (n_clips,)
                n_skipped += 1
            else:
                times = _load_times(v, x.shape[0])
                try:
                    ids, dist = model.assign(x, method=method, return_distances=True)
                except ValueError as exc:  # wrong dim, NaN/inf features
                    raise InputFileError(v.features, str(exc)) from exc
                atomic_save_npy(wd.token_times_file(v.video_id), times)
                atomic_save_npy(out, ids.astype(np.int32))  # last: its existence means finished
                manifest.append(
                    {
                        "stage": TOKENS_STAGE,
                        "video_id": v.video_id,
                        "path": v.source,
                        "status": "ok",
                        "error": None,
                        "n_clips": int(x.shape[0]),
                        "backbone": backbone,
                    }
                )
                n_done += 1
        except InputFileError as exc:
            log.warning("%s", exc)
            manifest.append(
                {"stage": TOKENS_STAGE, "video_id": v.video_id, "path": v.source, "status": "skipped", "error": str(exc)}
            )
            continue
        counts += np.bincount(ids, minlength=model.n_words)
        sq_sum += float(np.asarray(dist, dtype=np.float64).sum())
        n_videos += 1
    stats = vocab_stats(counts, sq_sum)
    stats["n_videos"] = n_videos
    stats["backbone"] = backbone
    if "sizing" in cfg:
        stats["sizing"] = cfg["sizing"]
    atomic_write_json(wd.vocab_stats, stats)
    log.info("assigned %d videos (%d already done): %s", n_videos, n_skipped, format_stats(stats))
    if n_done == 0 and n_videos == 0:
        log.warning("no video was assigned visual words")
    return stats
