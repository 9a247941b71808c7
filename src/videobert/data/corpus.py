"""Sentences aligned with visual words -> ``corpus/{train,val}.parquet``.

Alignment rule (:func:`align_sentence`): a clip belongs to a sentence spanning ``[start, end)``
seconds when the clip's midpoint lies in ``[start, end)``; a sentence that covers no clip midpoint
gets the one clip whose midpoint is nearest to the sentence's midpoint (ties: the earlier clip).

Rows (schema in docs/ARCHITECTURE.md): one per sentence, in time order within a video. A video
without a transcript (or whose transcript has no usable sentence) gives video-only rows
(``sentence_index = -1``, ``text = ""``, empty ``text_ids``): its clips cut into consecutive
chunks of ``video_only_chunk`` clips. Sentences lying wholly more than 2 s before the first clip
or after the last one (a transcript longer than its video) are dropped and counted. Rows of one video are contiguous; videos in sorted id order.

Train/val split by video: ``subset`` of YouCook2-layout annotations (``"training"`` -> train,
anything else -> val) when the annotations name the video; otherwise a seeded fraction
(``val_fraction``) of the remaining videos.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from videobert.errors import InputFileError, StageMissingError, TranscriptError, VideoBertError
from videobert.text.sentences import SentenceConfig, segments_to_sentences
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.text.transcripts import TRANSCRIPT_SUFFIXES, find_transcripts, read_transcript
from videobert.utils.io import atomic_write_json, read_json
from videobert.utils.manifest import Manifest

log = logging.getLogger(__name__)

CORPUS_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("sentence_index", pa.int32()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("text", pa.string()),
        ("text_ids", pa.list_(pa.int32())),
        ("visual_ids", pa.list_(pa.int32())),
        ("clip_start", pa.int32()),
    ]
)
ROW_GROUP_SIZE = 1024  # rows per parquet row group: the streaming unit of data/dataset.py
STAGE = "tokenize"


def align_sentence(start: float, end: float, clip_times: np.ndarray) -> tuple[int, int]:
    """Clips of a sentence ``[start, end)`` s: ``(first, last_exclusive)`` indices into ``clip_times``.

    ``clip_times``: float64 (n_clips, 2) clip ``[start, end)`` seconds, sorted by start. A clip is
    covered when its midpoint is in ``[start, end)``; if none is, the clip with the nearest
    midpoint to the sentence midpoint. Raises ``VideoBertError`` when there are no clips.
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


def _video_ids(work: Path) -> list[str]:
    tok_dir = work / "tokens"
    if not tok_dir.is_dir():
        raise StageMissingError(f"{tok_dir}: no visual words; run `videobert fit-vocab`/assign first")
    ids = sorted(p.name[: -len(".npy")] for p in tok_dir.glob("*.npy") if not p.name.endswith(".times.npy"))
    if not ids:
        raise StageMissingError(f"{tok_dir}: no <video_id>.npy visual-word files")
    return ids


def _transcripts_beside_videos(work: Path) -> dict[str, Path]:
    """Transcripts with the same stem beside each video's source path (from the manifest)."""
    out: dict[str, Path] = {}
    for rec in Manifest(work).records():
        vid, src = rec.get("video_id"), rec.get("path")
        if not vid or not src or vid in out:
            continue
        for suf in TRANSCRIPT_SUFFIXES:
            cand = Path(src).with_suffix(suf)
            if cand.is_file():
                out[vid] = cand
                break
    return out


def _annotation_subsets(annotations: str | os.PathLike[str] | None) -> dict[str, str]:
    if annotations is None:
        return {}
    data = read_json(annotations)
    db = data.get("database") if isinstance(data, dict) else None
    if not isinstance(db, dict):
        raise InputFileError(annotations, "annotations need a top-level 'database' mapping (YouCook2 layout)")
    return {
        str(k): str(v.get("subset", "")) for k, v in db.items() if isinstance(v, dict) and v.get("subset")
    }


def split_videos(
    video_ids: list[str], subsets: dict[str, str], val_fraction: float, seed: int
) -> tuple[set[str], set[str]]:
    """(train, val) video ids: annotation subsets first, a seeded ``val_fraction`` of the rest."""
    train = {v for v in video_ids if subsets.get(v) == "training"}
    val = {v for v in video_ids if v in subsets and subsets[v] != "training"}
    rest = sorted(v for v in video_ids if v not in subsets)
    if rest:
        n_val = int(round(val_fraction * len(rest)))
        if val_fraction > 0 and n_val == 0 and len(rest) > 1:
            n_val = 1
        n_val = min(n_val, len(rest) - 1) if len(rest) > 1 else n_val
        order = np.random.default_rng(seed).permutation(len(rest))
        chosen = {rest[i] for i in order[:n_val]}
        val |= chosen
        train |= set(rest) - chosen
    return train, val


class _ParquetSink:
    """Rows appended one by one, flushed to a ParquetWriter in row groups of ROW_GROUP_SIZE."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = pq.ParquetWriter(str(path), CORPUS_SCHEMA)
        self.buf: dict[str, list[Any]] = {name: [] for name in CORPUS_SCHEMA.names}
        self.n_rows = 0

    def add(self, row: dict[str, Any]) -> None:
        for k in self.buf:
            self.buf[k].append(row[k])
        self.n_rows += 1
        if len(self.buf["video_id"]) >= ROW_GROUP_SIZE:
            self.flush()

    def flush(self) -> None:
        if self.buf["video_id"]:
            self.writer.write_table(pa.table(self.buf, schema=CORPUS_SCHEMA), row_group_size=ROW_GROUP_SIZE)
            self.buf = {name: [] for name in CORPUS_SCHEMA.names}

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _video_rows(
    vid: str,
    words: np.ndarray,
    times: np.ndarray,
    transcript: Path | None,
    tokenizer: VideoBertTokenizer,
    sentence_cfg: SentenceConfig,
    video_only_chunk: int,
    stats: dict[str, Any],
    max_outside: float = 2.0,
) -> Iterator[dict[str, Any]]:
    sentences = []
    if transcript is not None:
        try:
            tr = read_transcript(transcript)
            stats["skipped_entries"] += len(tr.skipped)
            sentences = segments_to_sentences(tr.segments, sentence_cfg)
        except TranscriptError as exc:
            log.warning("%s", exc)
            stats["bad_transcripts"].append(str(exc))
    lo, hi = float(times[0, 0]) - max_outside, float(times[-1, 1]) + max_outside
    kept = [s for s in sentences if s.end > lo and s.start < hi]
    stats["sentences_outside_video"] += len(sentences) - len(kept)
    if kept:
        stats["videos_with_text"] += 1
        for k, sent in enumerate(kept):
            first, last = align_sentence(sent.start, sent.end, times)
            stats["sentences"] += 1
            stats["words"] += sent.n_words
            yield {
                "video_id": vid,
                "sentence_index": k,
                "start": float(sent.start),
                "end": float(sent.end),
                "text": sent.text,
                "text_ids": tokenizer.encode_text(sent.text),
                "visual_ids": words[first:last].tolist(),
                "clip_start": first,
            }
        return
    for first in range(0, len(words), video_only_chunk):
        last = min(first + video_only_chunk, len(words))
        stats["video_only_rows"] += 1
        yield {
            "video_id": vid,
            "sentence_index": -1,
            "start": float(times[first, 0]),
            "end": float(times[last - 1, 1]),
            "text": "",
            "text_ids": [],
            "visual_ids": words[first:last].tolist(),
            "clip_start": first,
        }


def build_corpus(
    work: str | os.PathLike[str],
    transcripts_dir: str | os.PathLike[str] | None = None,
    annotations: str | os.PathLike[str] | None = None,
    tokenizer: VideoBertTokenizer | str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    sentence_cfg: SentenceConfig | None = None,
    video_only_chunk: int = 16,
) -> dict[str, Any]:
    """Write ``corpus/{train,val}.parquet``, ``corpus/tokenizer/`` and ``corpus/stats.json``; return the stats.

    ``tokenizer``: a :class:`VideoBertTokenizer` (its ``num_visual_words`` must equal the vocabulary's
    ``n_words``), a BERT checkpoint path/name, or ``None`` for the packaged MiniLM.
    ``transcripts_dir``: searched recursively for ``<video_id>.{srt,vtt,json}``; ``None`` looks beside
    each source video named in the manifest.
    """
    work = Path(work)
    sentence_cfg = sentence_cfg or SentenceConfig()
    vocab_cfg = work / "vocab" / "config.json"
    if not vocab_cfg.exists():
        raise StageMissingError(f"{vocab_cfg}: missing; fit the visual vocabulary first")
    n_words = int(read_json(vocab_cfg)["n_words"])
    if not isinstance(tokenizer, VideoBertTokenizer):
        tokenizer = VideoBertTokenizer.from_bert(tokenizer, num_visual_words=n_words)
    elif tokenizer.num_visual_words != n_words:
        raise VideoBertError(
            f"tokenizer has {tokenizer.num_visual_words} visual words but {vocab_cfg} has n_words={n_words}"
        )
    video_ids = _video_ids(work)
    transcripts = (
        find_transcripts(transcripts_dir) if transcripts_dir is not None else _transcripts_beside_videos(work)
    )
    train_ids, val_ids = split_videos(video_ids, _annotation_subsets(annotations), val_fraction, seed)

    out_dir = work / "corpus"
    out_dir.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Any] = {
        "videos": len(video_ids),
        "videos_with_transcript": sum(v in transcripts for v in video_ids),
        "videos_with_text": 0,
        "sentences": 0,
        "words": 0,
        "video_only_rows": 0,
        "skipped_entries": 0,
        "sentences_outside_video": 0,
        "bad_transcripts": [],
        "skipped_videos": [],
        "n_words": n_words,
        "text_vocab_size": tokenizer.text_vocab_size,
        "seed": seed,
        "val_fraction": val_fraction,
    }
    sinks: dict[str, _ParquetSink] = {}
    tmp_paths: dict[str, Path] = {}
    manifest = Manifest(work)
    try:
        for split in ("train", "val"):
            fd, tmp = tempfile.mkstemp(prefix=f".{split}.", suffix=".parquet", dir=out_dir)
            os.close(fd)
            tmp_paths[split] = Path(tmp)
            sinks[split] = _ParquetSink(Path(tmp))
        for vid in tqdm(video_ids, desc="tokenize", unit="video", disable=None):
            tok_path = work / "tokens" / f"{vid}.npy"
            try:
                words = np.load(tok_path, allow_pickle=False).astype(np.int64).reshape(-1)  # (n_clips,)
                times = np.load(work / "tokens" / f"{vid}.times.npy", allow_pickle=False).reshape(
                    -1, 2
                )  # (n, 2)
                if len(words) != len(times):
                    raise InputFileError(tok_path, f"{len(words)} words but {len(times)} clip times")
                if len(words) == 0:
                    raise InputFileError(tok_path, "no clips")
                if words.min() < 0 or words.max() >= n_words:
                    raise InputFileError(tok_path, f"visual word outside [0, {n_words})")
            except (OSError, ValueError, InputFileError) as exc:
                err = str(exc) if isinstance(exc, InputFileError) else f"{tok_path}: {exc}"
                log.warning("skipping video %s: %s", vid, err)
                stats["skipped_videos"].append(err)
                manifest.append(
                    {
                        "stage": STAGE,
                        "video_id": vid,
                        "path": str(tok_path),
                        "status": "skipped",
                        "error": err,
                    }
                )
                continue
            sink = sinks["val" if vid in val_ids else "train"]
            n_before = stats["sentences"] + stats["video_only_rows"]
            for row in _video_rows(
                vid, words, times, transcripts.get(vid), tokenizer, sentence_cfg, video_only_chunk, stats
            ):
                sink.add(row)
            manifest.append(
                {
                    "stage": STAGE,
                    "video_id": vid,
                    "path": str(transcripts.get(vid, "")),
                    "status": "ok",
                    "error": None,
                    "rows": stats["sentences"] + stats["video_only_rows"] - n_before,
                    "split": "val" if vid in val_ids else "train",
                }
            )
        for split, sink in sinks.items():
            sink.close()
            stats[f"{split}_rows"] = sink.n_rows
            os.replace(tmp_paths[split], out_dir / f"{split}.parquet")
    finally:
        for p in tmp_paths.values():
            if p.exists():
                p.unlink()
    stats["train_videos"] = len(train_ids)
    stats["val_videos"] = len(val_ids)
    stats["pairs"] = stats["sentences"]
    stats["mean_words"] = stats["words"] / stats["sentences"] if stats["sentences"] else 0.0
    _save_tokenizer(tokenizer, out_dir / "tokenizer")
    atomic_write_json(out_dir / "stats.json", stats)
    log.info(
        "corpus: %d videos (%d with text), %d sentences (mean %.1f words), %d video-only rows, train %d rows, val %d rows",
        stats["videos"],
        stats["videos_with_text"],
        stats["sentences"],
        stats["mean_words"],
        stats["video_only_rows"],
        stats["train_rows"],
        stats["val_rows"],
    )
    return stats


def _save_tokenizer(tokenizer: VideoBertTokenizer, target: Path) -> None:
    """Save into a temporary sibling directory, then swap it in (no half-written tokenizer dir)."""
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer.", dir=target.parent))
    try:
        tokenizer.save_pretrained(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def corpus_rows(path: str | os.PathLike[str]) -> int:
    """Number of rows of a corpus parquet file (from its metadata)."""
    return pq.ParquetFile(str(path)).metadata.num_rows


__all__ = ["CORPUS_SCHEMA", "align_sentence", "build_corpus", "corpus_rows", "split_videos"]
