"""Sentences aligned with visual words -> ``corpus/{train,val}.parquet``.

Alignment rule (:func:`videobert.data.alignment.align_sentence`, shared with the tasks): a clip
belongs to a sentence spanning ``[start, end)`` seconds when the clip's midpoint lies in
``[start, end)``; a sentence that covers no clip midpoint gets the one clip whose midpoint is
nearest to the sentence's midpoint (ties: the earlier clip).

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from videobert.data.alignment import align_sentence
from videobert.data.annotations import coverage, coverage_line, load_annotations
from videobert.data.annotations import subsets as annotation_subsets
from videobert.errors import InputFileError, StageMissingError, TranscriptError, VideoBertError
from videobert.text.sentences import SentenceConfig, segments_to_sentences
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.text.transcripts import (
    TRANSCRIPT_SUFFIXES,
    TranscriptRef,
    choose_transcript,
    find_transcripts,
    read_transcript,
    transcript_candidates,
)
from videobert.utils.io import atomic_write_json, make_temp_dir, make_temp_file, read_json
from videobert.workdir import WorkDir, usable_video_id

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


def _video_ids(work: WorkDir) -> list[str]:
    if not work.tokens.is_dir():
        raise StageMissingError(f"{work.tokens}: no visual words; run `videobert fit-vocab` first")
    ids = work.token_ids()
    if not ids:
        raise StageMissingError(f"{work.tokens}: no <video_id>.npy visual-word files")
    return ids


def _check_assignment_finished(work: WorkDir, vocab_cfg: dict[str, Any], video_ids: list[str]) -> None:
    """Every video extracted with the vocabulary's backbone has visual words (or was recorded as
    skipped by fit-vocab): a corpus of part of the videos, after a killed fit-vocab, is an error."""
    backbone = vocab_cfg.get("backbone")
    if not backbone:
        return
    extracted = {v for v, r in work.manifest.latest(f"extract/{backbone}").items() if r.get("status") == "ok" and usable_video_id(v, work.manifest.path)}
    skipped = {v for v, r in work.manifest.latest("tokens").items() if r.get("status") != "ok"}
    missing = sorted(extracted - set(video_ids) - skipped)
    if missing:
        raise StageMissingError(
            f"{work.tokens}: {len(missing)} of {len(extracted)} extracted videos have no visual words (first: "
            f"{', '.join(missing[:3])}); fit-vocab did not finish: run `videobert fit-vocab {work.root}` again"
        )


def transcripts_beside_videos(work: WorkDir, video_ids: list[str] | None = None) -> dict[str, Path]:
    """Transcripts beside each video's source file (from the manifest): ``name.srt`` etc. beside
    ``name.mp4``, or language-tagged ``name.en.vtt`` (see ``choose_transcript``); else
    ``videobert transcribe``'s ``WORK/transcripts/<id>.json``."""
    import glob

    out: dict[str, Path] = {}
    for vid, src in work.source_videos().items():
        if video_ids is not None and vid not in video_ids:
            continue
        files = [p for p in sorted(src.parent.glob(glob.escape(src.stem) + ".*")) if p.suffix.lower() in TRANSCRIPT_SUFFIXES]
        chosen = choose_transcript(src.stem, transcript_candidates(files, [p.stem for p in files]))
        if chosen is not None:
            out[vid] = chosen
    for vid in video_ids if video_ids is not None else work.token_ids():  # `videobert transcribe`'s
        if vid not in out and work.transcript_file(vid).is_file():
            out[vid] = work.transcript_file(vid)
    return out


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
    transcript: TranscriptRef | None,
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
            if not tr.segments:
                log.warning("%s: no usable caption in the transcript; video %s gets video-only rows", transcript, vid)
                stats["empty_transcripts"].append(str(transcript))
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


@dataclass
class TokenizeConfig:
    """Settings of ``videobert tokenize`` (the keyword arguments of :func:`build_corpus`).

    Attributes:
        tokenizer: BERT checkpoint path or name for WordPiece (None: the packaged MiniLM).
        val_fraction: fraction of the videos the annotations do not place that go to validation.
        seed: seeds that split.
        sentences: how transcript cues become sentences (``SentenceConfig``).
        video_only_chunk: clips per video-only row of a video without usable text.
    """

    tokenizer: str | None = None
    val_fraction: float = 0.1
    seed: int = 0
    sentences: SentenceConfig = field(default_factory=SentenceConfig)
    video_only_chunk: int = 16

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.video_only_chunk < 1:
            raise ValueError(f"video_only_chunk must be >= 1, got {self.video_only_chunk}")


def build_corpus(
    work: str | os.PathLike[str],
    transcripts_dir: str | os.PathLike[str] | None = None,
    annotations: str | os.PathLike[str] | None = None,
    tokenizer: VideoBertTokenizer | str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    sentences: SentenceConfig | None = None,
    video_only_chunk: int = 16,
) -> dict[str, Any]:
    """Write ``corpus/{train,val}.parquet``, ``corpus/tokenizer/`` and ``corpus/stats.json``; return the stats.

    ``tokenizer``: a :class:`VideoBertTokenizer` (its ``num_visual_words`` must equal the vocabulary's
    ``n_words``), a BERT checkpoint path/name, or ``None`` for the packaged MiniLM.
    ``transcripts_dir``: a folder searched recursively for ``<video_id>.{srt,vtt,json}``, or a HowTo100M
    ``caption.json`` (indexed once into ``WorkDir.caption_index``); ``None`` looks beside each source
    video named in the manifest.
    """
    work = WorkDir.of(work).require()
    sentence_cfg = sentences or SentenceConfig()
    vocab_cfg = work.vocab_config
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
    _check_assignment_finished(work, read_json(vocab_cfg), video_ids)
    transcripts = (
        find_transcripts(transcripts_dir, video_ids, work.caption_index(transcripts_dir))
        if transcripts_dir is not None
        else transcripts_beside_videos(work, video_ids)
    )
    db = load_annotations(annotations) if annotations is not None else {}
    train_ids, val_ids = split_videos(video_ids, annotation_subsets(db), val_fraction, seed)
    without = [v for v in video_ids if v not in transcripts]
    where = transcripts_dir if transcripts_dir is not None else f"beside the videos and in {work.transcripts}"
    if not transcripts:
        log.warning(
            "none of the %d videos has a transcript (looked %s): the corpus is video-only (no text, no "
            "alignment); pass --transcripts DIR or caption.json, or run `videobert transcribe`",
            len(video_ids), where,
        )  # fmt: skip
    elif without:
        log.warning("%d of %d videos have no transcript (first: %s): they give video-only rows",
                    len(without), len(video_ids), ", ".join(without[:5]))  # fmt: skip

    out_dir = work.corpus
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
        "empty_transcripts": [],
        "skipped_videos": [],
        "n_words": n_words,
        "text_vocab_size": tokenizer.text_vocab_size,
        "seed": seed,
        "val_fraction": val_fraction,
        "videos_without_transcript": len(without),
        "first_without_transcript": without[:10],
    }
    if annotations is not None:
        stats["annotations"] = coverage(db, video_ids)
        log.info("%s", coverage_line(stats["annotations"], annotations))
    sinks: dict[str, _ParquetSink] = {}
    tmp_paths: dict[str, Path] = {}
    manifest = work.manifest
    try:
        for split in ("train", "val"):
            tmp_paths[split] = make_temp_file(out_dir, f".{split}.", ".parquet")
            sinks[split] = _ParquetSink(tmp_paths[split])
        for vid in tqdm(video_ids, desc="tokenize", unit="video", disable=None):
            tok_path = work.token_file(vid)
            try:
                loaded = work.load_tokens(vid)
                if loaded is None:
                    raise InputFileError(work.token_times_file(vid), "clip times missing")
                words, times = loaded[0].astype(np.int64), loaded[1]  # (n_clips,), (n_clips, 2)
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
            os.replace(tmp_paths[split], work.corpus_split(split))
    finally:
        for p in tmp_paths.values():
            if p.exists():
                p.unlink()
    stats["train_videos"] = len(train_ids)
    stats["val_videos"] = len(val_ids)
    stats["pairs"] = stats["sentences"]
    stats["mean_words"] = stats["words"] / stats["sentences"] if stats["sentences"] else 0.0
    _save_tokenizer(tokenizer, work.corpus_tokenizer)
    atomic_write_json(work.corpus_stats, stats)
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
    tmp = make_temp_dir(target.parent, ".tokenizer.")
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


__all__ = ["CORPUS_SCHEMA", "TokenizeConfig", "align_sentence", "build_corpus", "split_videos"]
