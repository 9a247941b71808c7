"""Look at the visual words: the frames nearest each word's centroid, as in the paper's figures.

``build_gallery(work)`` writes

* ``WORK/gallery/words/<id>.png``: a contact sheet per word (the top-N words by frequency), the
  middle frames of the word's ``per_word`` clips nearest its leaf centroid, nearest first;
* ``WORK/gallery/index.html``: word id, tree path, count, share and sheet, ordered by frequency;
* ``WORK/gallery/thumbs.npz``: for *every* used word, the middle frame of its nearest clip
  (arrays ``words`` int32 (n,), ``frames`` uint8 (n, S, S, 3), letterboxed to S x S), read by
  :func:`load_word_thumbnails` so later stages can draw visual words as frame strips.

"Nearest clips" are the clips assigned to the word, ranked by squared distance of their feature to
the word's leaf centroid. Frames come from the source videos named in the manifest through
:func:`videobert.video.decode.read_frames_at`; a video that is skipped, missing or undecodable is
left out with a warning (its clips simply do not appear).
"""

from __future__ import annotations

import html
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from videobert.errors import InputFileError, StageMissingError, VideoBertError
from videobert.utils.images import png_bytes
from videobert.utils.io import atomic_write_bytes, atomic_write_text
from videobert.vocab.assign import list_videos, load_features, load_vocab, resolve_backbone
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)



@dataclass
class GalleryConfig:
    """Settings of ``videobert gallery`` (the keyword arguments of :func:`build_gallery`).

    Attributes:
        top_n: contact sheets for this many most frequent words.
        per_word: nearest clips shown per word.
        thumb_size: square frame size in pixels.
        columns: frames per sheet row.
    """

    top_n: int = 200
    per_word: int = 8
    thumb_size: int = 96
    columns: int = 4


def _letterbox(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: scaled to fit, centred on black."""
    img = Image.fromarray(frame)
    scale = size / max(img.width, img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (size, size))
    canvas.paste(img, ((size - w) // 2, (size - h) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def contact_sheet(frames: list[np.ndarray], columns: int, title: str = "") -> Image.Image:
    """Frames (each (S, S, 3) uint8, same size) in a grid with ``columns`` columns and a title strip."""
    s = frames[0].shape[0]
    cols = max(1, min(columns, len(frames)))
    rows = -(-len(frames) // cols)
    pad, head = 2, 14 if title else 0
    sheet = Image.new("RGB", (cols * (s + pad) + pad, rows * (s + pad) + pad + head), (255, 255, 255))
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        sheet.paste(Image.fromarray(f), (pad + c * (s + pad), head + pad + r * (s + pad)))
    if title:
        ImageDraw.Draw(sheet).text((pad, 1), title, fill=(0, 0, 0))
    return sheet


def _nearest_clips(work: Path) -> tuple[Any, dict[str, Any], list[Any], np.ndarray, np.ndarray, list[np.ndarray]]:
    """Every assigned clip ranked within its word.

    Returns:
        model, config, videos (with tokens), ``order`` (M,) int64 indices into the flat clip list
        sorted by (word, distance), ``words`` (M,) int32 flat word of each clip, and per video the
        middle time (n_clips,) float64 in seconds of each clip.
    """
    model, cfg = load_vocab(work)
    videos = list_videos(work, cfg.get("backbone") or resolve_backbone(work))
    leaf, _ = model.leaf_centroids()
    kept, words, dists, mids = [], [], [], []
    for v in videos:
        tok = WorkDir.of(work).token_file(v.video_id)
        tim = WorkDir.of(work).token_times_file(v.video_id)
        if not tok.exists() or not tim.exists():
            log.warning("%s: no visual words for video %s; left out of the gallery", tok, v.video_id)
            continue
        ids = np.load(tok, allow_pickle=False).astype(np.int64)
        times = np.load(tim, allow_pickle=False)  # (n_clips, 2)
        try:
            x = model.preprocess(load_features(v))  # (n_clips, D)
        except InputFileError as exc:
            log.warning("%s; left out of the gallery", exc)
            continue
        if ids.shape != (x.shape[0],) or times.shape != (x.shape[0], 2):
            log.warning("%s: tokens/times do not match the features; left out of the gallery", tok)
            continue
        kept.append(v)
        words.append(ids)
        dists.append(((x - leaf[ids]) ** 2).sum(1))  # (n_clips,)
        mids.append(times.mean(1))  # (n_clips, 2) -> (n_clips,)
    if not kept:
        raise StageMissingError(f"{WorkDir.of(work).tokens}: no video has visual words; run `videobert fit-vocab`")
    w = np.concatenate(words)
    order = np.lexsort((np.concatenate(dists), w))
    return model, cfg, kept, order, w.astype(np.int32), mids


def build_gallery(
    work: str | os.PathLike[str],
    top_n: int = 200,
    per_word: int = 8,
    thumb_size: int = 96,
    columns: int = 4,
) -> Path:
    """Contact sheets, HTML index and per-word thumbnails for WORK's visual words.

    Args:
        work: the work directory (after ``fit-vocab``).
        top_n: contact sheets for the ``top_n`` most frequent words.
        per_word: frames per contact sheet (the word's nearest clips).
        thumb_size: side S of each (S, S) letterboxed frame, pixels.
        columns: frames per row of a sheet.

    Returns:
        Path of ``WORK/gallery/index.html``.
    """
    from videobert.video.decode import read_frames_at

    if top_n < 0 or per_word < 1 or thumb_size < 8:
        raise VideoBertError("gallery: need top_n >= 0, per_word >= 1, thumb_size >= 8")
    work = Path(work)
    model, cfg, videos, order, words, mids = _nearest_clips(work)
    sizes = np.array([len(m) for m in mids])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    used, counts = np.unique(words, return_counts=True)  # frequencies over every assigned clip
    total = int(counts.sum())
    rank = np.lexsort((used, -counts))  # by frequency, then id
    top = set(used[rank[:top_n]].tolist())

    # candidates come only from videos whose source file is there
    available = np.zeros(len(videos), dtype=bool)
    for vi, v in enumerate(videos):
        available[vi] = bool(v.source) and Path(str(v.source)).exists()
        if not available[vi]:
            log.warning("video %s: source file %r missing; its clips are left out of the gallery", v.video_id, v.source)
    order = order[np.repeat(available, sizes)[order]]
    # which clips to read: per_word for the top words, the 2 nearest (one spare) for the others' thumbnail
    wanted: dict[int, list[int]] = {w: [] for w in used.tolist()}
    cand_words, starts, n_cand = np.unique(words[order], return_index=True, return_counts=True)
    for w, s, c in zip(cand_words.tolist(), starts.tolist(), n_cand.tolist(), strict=True):
        wanted[w] = order[s : s + min(c, per_word)].tolist()
    flat_needed = sorted({i for w in wanted for i in (wanted[w] if w in top else wanted[w][:2])})

    # read frames per video, letterboxed at once
    frames: dict[int, np.ndarray] = {}
    vid_of = np.searchsorted(offsets, np.asarray(flat_needed, dtype=np.int64), side="right") - 1
    by_video: dict[int, list[int]] = {}
    for i, vi in zip(flat_needed, vid_of.tolist(), strict=True):
        by_video.setdefault(vi, []).append(i)
    for vi, clips in tqdm(sorted(by_video.items()), desc="gallery frames", disable=not log.isEnabledFor(logging.INFO)):
        v = videos[vi]
        times = mids[vi][np.asarray(clips) - offsets[vi]]
        try:
            got = read_frames_at(v.source, times.tolist())  # (n, H, W, 3) uint8
        except (InputFileError, OSError, ValueError) as exc:
            log.warning("video %s: cannot read frames (%s); left out of the gallery", v.video_id, exc)
            continue
        for i, f in zip(clips, got, strict=True):
            frames[i] = _letterbox(f, thumb_size)

    gdir = WorkDir.of(work).gallery
    (gdir / "words").mkdir(parents=True, exist_ok=True)
    thumb_words, thumb_frames = [], []
    for w in used.tolist():
        first = next((i for i in wanted[w] if i in frames), None)
        if first is not None:
            thumb_words.append(w)
            thumb_frames.append(frames[first])
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        words=np.asarray(thumb_words, dtype=np.int32),
        frames=np.stack(thumb_frames) if thumb_frames else np.zeros((0, thumb_size, thumb_size, 3), np.uint8),
    )
    atomic_write_bytes(WorkDir.of(work).thumbnails, buf.getvalue())

    rows = []
    for r in rank[:top_n].tolist():
        w, c = int(used[r]), int(counts[r])
        shown = [frames[i] for i in wanted[w] if i in frames]
        share = c / total
        path = ".".join(str(d) for d in model.word_path(w))
        img = ""
        if shown:
            sheet = contact_sheet(shown, columns, f"word {w}  n={c}  {100 * share:.2f}%")
            atomic_write_bytes(gdir / "words" / f"{w}.png", png_bytes(sheet))
            img = f'<img src="words/{w}.png" alt="word {w}">'
        rows.append(f"<tr><td>{w}</td><td>{path}</td><td>{c}</td><td>{100 * share:.2f}%</td><td>{img}</td></tr>")
    title = f"Visual words ({cfg.get('backbone', '')}, {len(used)} of {model.n_words} used)"
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        + html.escape(title)
        + "</title><style>body{font-family:sans-serif}td{padding:4px;vertical-align:top}</style></head><body>\n"
        + f"<h1>{html.escape(title)}</h1>\n<p>{total} clips; top {min(top_n, len(used))} words by frequency; "
        + f"each sheet shows the middle frames of the word's {per_word} clips nearest its centroid, nearest first.</p>\n"
        + "<table>\n<tr><th>word</th><th>path</th><th>count</th><th>share</th><th>nearest clips</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )
    atomic_write_text(gdir / "index.html", page)
    log.info("gallery: %d sheets, %d word thumbnails in %s", len(rows), len(thumb_words), gdir)
    return gdir / "index.html"


def load_word_thumbnails(work: str | os.PathLike[str]) -> dict[int, np.ndarray]:
    """``word id -> (S, S, 3) uint8`` middle frame of the clip nearest the word's centroid.

    Reads ``WORK/gallery/thumbs.npz`` (written by :func:`build_gallery`; no pickle).
    """
    path = WorkDir.of(work).thumbnails
    if not path.exists():
        raise StageMissingError(f"{path}: no word thumbnails; run `videobert gallery` first")
    with np.load(path, allow_pickle=False) as z:
        words, frames = z["words"], z["frames"]
    return {int(w): frames[i] for i, w in enumerate(words.tolist())}
