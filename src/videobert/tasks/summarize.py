"""Video summarisation: the k clips that best match the video's narration, as frames and text.

Each candidate clip is scored by VideoBERT's linguistic-visual alignment head: the clip's local
window of visual words (``window`` clips each side) is paired with every narration sentence of the
video (``[CLS] sentence [>] window [SEP]``) and the clip's score is the best ``log P(aligned)``.
The k best clips at least ``min_gap`` clips apart (so never adjacent) form the summary; its text
is the best-aligned sentence of each chosen clip (or the caption model's caption of it when a
captioner is given), de-duplicated, in time order.

Narration: the transcript beside the video (path from the manifest's ``extract/*`` records),
else the video's rows of ``WORK/corpus/{train,val}.parquet``, else the annotation sentences.

Evaluation against the annotations: ``in_segment`` = fraction of chosen clips inside an annotated
step, ``step_coverage`` = fraction of a video's annotated steps that a chosen clip falls in; the
chance values are those of k clips drawn at random (expected values by simulation).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.tasks.common import load_annotations, video_entries
from videobert.tasks.forecast import pad_sequences
from videobert.tasks.strips import StripRow, fit_tile, load_thumbnails, render_strip, word_tiles
from videobert.utils.manifest import Manifest

log = logging.getLogger(__name__)


@dataclass
class SummarizeConfig:
    """Settings of :func:`summarize_task`.

    Attributes:
        k: clips per summary.
        window: clips each side of a candidate in its visual-word window.
        min_gap: chosen clips are at least this many clips apart (2 = never adjacent).
        max_candidates: candidate clips per video (evenly spaced) — bounds the cost.
        max_sentences: narration sentences per video (evenly spaced).
        max_videos: validation videos summarised (0: all).
        max_length: tokens per alignment sequence.
        n_examples: videos rendered as strips.
        tile_size: strip tile size (pixels).
        batch_size: sequences per forward pass.
        seed: RNG seed (chance simulation).
    """

    k: int = 4
    window: int = 2
    min_gap: int = 2
    max_candidates: int = 16
    max_sentences: int = 10
    max_videos: int = 20
    max_length: int = 48
    n_examples: int = 3
    tile_size: int = 96
    batch_size: int = 128
    seed: int = 0


@dataclass
class VideoSummary:
    """One video's summary: chosen clip indices (time order), their scores, times (s) and the text."""

    video_id: str
    clips: list[int]
    scores: list[float]
    times: list[tuple[float, float]]
    sentences: list[str]
    text: str
    clip_scores: dict[int, float] = field(default_factory=dict)


@torch.inference_mode()
def alignment_log_probs(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[tuple[str, np.ndarray]],
    max_length: int = 48,
    batch_size: int = 128,
) -> np.ndarray:
    """float64 (N,) ``log P(aligned)`` of each (sentence, vocab-local visual words (k,)) pair."""
    model.eval()
    seqs = []
    for text, words in pairs:
        enc = tokenizer.encode_pair(text, np.asarray(words, dtype=np.int64), max_length=max_length)
        seqs.append((list(enc["input_ids"]), list(enc["token_type_ids"])))
    out = np.zeros(len(seqs), dtype=np.float64)
    order = np.argsort([len(s[0]) for s in seqs], kind="stable")  # similar lengths -> little padding
    for s in range(0, len(seqs), batch_size):
        idx = order[s : s + batch_size]
        batch = pad_sequences([seqs[i] for i in idx], int(tokenizer.pad_token_id))
        logits = model(**batch).alignment_logits.float()  # (B, 2)
        out[idx] = torch.log_softmax(logits, dim=-1)[:, 1].double().numpy()
    return out


def pick_diverse(scores: np.ndarray, candidates: np.ndarray, k: int, min_gap: int) -> list[int]:
    """Greedy pick of up to ``k`` candidates by descending score, each ``>= min_gap`` clips from the
    ones picked before; returned as clip indices in time order.

    Args:
        scores: float (n,) score of each candidate. candidates: int (n,) their clip indices.
    """
    chosen: list[int] = []
    for j in np.argsort(-np.asarray(scores), kind="stable"):
        c = int(candidates[j])
        if all(abs(c - o) >= min_gap for o in chosen):
            chosen.append(c)
        if len(chosen) == k:
            break
    return sorted(chosen)


def summarize_video(
    model: Any,
    tokenizer: Any,
    video_id: str,
    words: np.ndarray,
    times: np.ndarray,
    sentences: Sequence[str],
    cfg: SummarizeConfig | None = None,
    captioner: Callable[[list[np.ndarray]], list[str]] | None = None,
) -> VideoSummary:
    """Summarise one video.

    Args:
        words: int (n_clips,) vocab-local visual words. times: float64 (n_clips, 2) clip [start, end) s.
        sentences: the narration sentences (non-empty strings).
        captioner: optional ``windows -> captions`` (e.g. a trained caption model) for the text.
    """
    cfg = cfg or SummarizeConfig()
    words = np.asarray(words, dtype=np.int64)
    n = len(words)
    sents = [s for s in sentences if s.strip()]
    if cfg.max_sentences > 0 and len(sents) > cfg.max_sentences:
        sents = [sents[i] for i in np.linspace(0, len(sents) - 1, cfg.max_sentences).round().astype(np.int64)]
    cand = np.arange(n, dtype=np.int64)
    if cfg.max_candidates > 0 and n > cfg.max_candidates:
        cand = np.unique(np.linspace(0, n - 1, cfg.max_candidates).round().astype(np.int64))
    windows = [words[max(0, c - cfg.window) : c + cfg.window + 1] for c in cand]
    if sents and n:
        pairs = [(s, w) for w in windows for s in sents]
        lp = alignment_log_probs(model, tokenizer, pairs, cfg.max_length, cfg.batch_size)
        lp = lp.reshape(len(cand), len(sents))  # (n_cand * n_sent,) -> (n_cand, n_sent)
        best_sent = lp.argmax(axis=1)  # (n_cand,)
        score = lp.max(axis=1)  # (n_cand,)
    else:  # no narration: keep evenly spaced clips
        best_sent = np.zeros(len(cand), dtype=np.int64)
        score = np.zeros(len(cand))
    chosen = pick_diverse(score, cand, cfg.k, cfg.min_gap)
    pos = {int(c): j for j, c in enumerate(cand)}
    if captioner is not None and chosen:
        texts = captioner([windows[pos[c]] for c in chosen])
    else:
        texts = [sents[int(best_sent[pos[c]])] for c in chosen] if sents else []
    dedup = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    return VideoSummary(
        video_id=video_id,
        clips=chosen,
        scores=[float(score[pos[c]]) for c in chosen],
        times=[(float(times[c, 0]), float(times[c, 1])) for c in chosen],
        sentences=dedup,
        text=". ".join(dedup),
        clip_scores={int(c): float(s) for c, s in zip(cand, score, strict=True)},
    )


def _clip_step(times: np.ndarray, segments: Sequence[tuple[float, float]]) -> np.ndarray:
    """int64 (n_clips,) index of the annotated step containing each clip's midpoint, -1 if none."""
    mids = np.asarray(times, dtype=np.float64).reshape(-1, 2).mean(axis=1)  # (n, 2) -> (n,)
    out = np.full(len(mids), -1, dtype=np.int64)
    for j, (s, e) in enumerate(segments):
        out[(mids >= s) & (mids < e) & (out < 0)] = j
    return out


def summary_scores(chosen: Sequence[int], step_of_clip: np.ndarray, n_steps: int) -> tuple[float, float]:
    """``(in_segment, step_coverage)`` of chosen clips given each clip's step (-1: none)."""
    if not chosen:
        return 0.0, 0.0
    steps = step_of_clip[np.asarray(chosen, dtype=np.int64)]
    in_seg = float((steps >= 0).mean())
    cover = float(len(set(steps[steps >= 0].tolist())) / n_steps) if n_steps else 0.0
    return in_seg, cover


def narration_for(
    work: str | os.PathLike[str], video_ids: Sequence[str], db: dict[str, Any]
) -> dict[str, list[str]]:
    """Narration sentences per video: transcript beside the video, else corpus parquet rows, else annotations."""
    work = Path(work)
    out: dict[str, list[str]] = {}
    paths: dict[str, Path] = {}
    for rec in Manifest(work).records():
        if (
            str(rec.get("stage", "")).startswith("extract/")
            and rec.get("path")
            and rec.get("video_id") in video_ids
        ):
            paths[rec["video_id"]] = Path(rec["path"])
    try:
        from videobert.text.transcripts import TRANSCRIPT_SUFFIXES, read_transcript
    except ImportError:  # pragma: no cover - module is part of the package
        TRANSCRIPT_SUFFIXES, read_transcript = (), None  # noqa: N806
    for vid, path in paths.items():
        for suffix in TRANSCRIPT_SUFFIXES:
            cand = path.with_suffix(suffix)
            if cand.is_file() and read_transcript is not None:
                try:
                    segs = read_transcript(cand).segments
                except Exception as exc:  # a bad transcript: fall back to the next source
                    log.warning("%s: cannot read transcript (%s)", cand, exc)
                    continue
                out[vid] = [s.text for s in segs if s.text.strip()]
                break
    missing = [v for v in video_ids if not out.get(v)]
    if missing:
        try:
            import pyarrow.parquet as pq

            for name in ("train", "val"):
                p = work / "corpus" / f"{name}.parquet"
                if not p.is_file():
                    continue
                table = pq.read_table(p, columns=["video_id", "text"]).to_pydict()
                for vid, text in zip(table["video_id"], table["text"], strict=True):
                    if vid in missing and text and text.strip():
                        out.setdefault(vid, []).append(text)
        except Exception as exc:  # pragma: no cover - corrupt parquet: annotations remain
            log.warning("cannot read corpus parquet for narration (%s)", exc)
    for vid in video_ids:
        if not out.get(vid):
            out[vid] = [
                str(a.get("sentence", ""))
                for a in db.get(vid, {}).get("annotations", [])
                if a.get("sentence")
            ]
    return out


def _video_paths(work: str | os.PathLike[str]) -> dict[str, Path]:
    paths = {}
    for rec in Manifest(work).records():
        if (
            str(rec.get("stage", "")).startswith("extract/")
            and rec.get("path")
            and rec.get("status", "ok") == "ok"
        ):
            paths[rec["video_id"]] = Path(rec["path"])
    return paths


def _clip_images(
    video_path: Path | None,
    summary: VideoSummary,
    words: np.ndarray,
    thumbs: dict[int, np.ndarray],
    size: int,
) -> list[np.ndarray]:
    """Real frames at the chosen clips' midpoints when the video can be read, else the words' thumbnails."""
    if video_path is not None and video_path.is_file():
        try:
            from videobert.video.decode import read_frames_at

            frames = read_frames_at(video_path, [0.5 * (s + e) for s, e in summary.times])  # (k, H, W, 3)
            return [fit_tile(f, size) for f in frames]
        except Exception as exc:  # undecodable video: thumbnails instead
            log.warning("%s: cannot read frames (%s); using thumbnails", video_path, exc)
    return word_tiles(words[np.asarray(summary.clips, dtype=np.int64)], thumbs, size)


def summarize_task(
    model: Any,
    tokenizer: Any,
    videos: Sequence[tuple[str, dict[str, Any], np.ndarray, np.ndarray]],
    narration: dict[str, list[str]],
    cfg: SummarizeConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    thumbs: dict[int, np.ndarray] | None = None,
    video_paths: dict[str, Path] | None = None,
    captioner: Callable[[list[np.ndarray]], list[str]] | None = None,
) -> dict[str, Any]:
    """Summarise videos and score the chosen clips against their annotated steps.

    Args:
        videos: ``(video_id, annotation entry, words int (n_clips,), times float64 (n_clips, 2))``.
        narration: video id -> narration sentences.

    Returns:
        The report dict: ``metrics`` {"in_segment", "step_coverage"}, ``chance`` (random k clips),
        ``n`` (videos), ``config``, ``examples`` (one per rendered video: clips, times, text, image).
    """
    cfg = cfg or SummarizeConfig()
    rng = np.random.default_rng(cfg.seed)
    vids = list(videos)[: cfg.max_videos] if cfg.max_videos > 0 else list(videos)
    if not vids:
        raise ValueError("no validation video to summarise")
    ours, rand = [], []
    examples = []
    for i, (vid, entry, words, times) in enumerate(
        tqdm(vids, desc="summarize", leave=False, disable=len(vids) < 4)
    ):
        summ = summarize_video(model, tokenizer, vid, words, times, narration.get(vid, []), cfg, captioner)
        segs = [tuple(float(x) for x in a["segment"]) for a in entry.get("annotations", [])]
        step = _clip_step(times, segs)
        ours.append(summary_scores(summ.clips, step, len(segs)))
        k = min(cfg.k, len(words))
        trials = [
            summary_scores(rng.choice(len(words), k, replace=False).tolist(), step, len(segs))
            for _ in range(200)
        ]
        rand.append(tuple(np.mean(trials, axis=0)))
        if i < cfg.n_examples:
            ex: dict[str, Any] = {
                "video_id": vid,
                "clips": summ.clips,
                "times": [list(t) for t in summ.times],
                "scores": [round(s, 4) for s in summ.scores],
                "pred": summ.text,
                "truth": ". ".join(str(a.get("sentence", "")) for a in entry.get("annotations", [])),
            }
            if out_dir is not None:
                tiles = _clip_images(
                    (video_paths or {}).get(vid), summ, np.asarray(words), thumbs or {}, cfg.tile_size
                )
                caps = [f"{s:.1f}-{e:.1f}s" for s, e in summ.times]
                rows = [StripRow("summary", tiles, caps)]
                path = render_strip(
                    rows,
                    Path(out_dir) / f"summary_{i}.png",
                    tile_size=cfg.tile_size,
                    title=f"{vid}: {summ.text}",
                )
                ex["image"] = f"{Path(out_dir).name}/{path.name}"
            examples.append(ex)
    o, r = np.asarray(ours), np.asarray(rand)  # (n_videos, 2)
    metrics = {"in_segment": float(o[:, 0].mean()), "step_coverage": float(o[:, 1].mean())}
    chance = {"in_segment": float(r[:, 0].mean()), "step_coverage": float(r[:, 1].mean())}
    log.info(
        "summarize: in_segment %.3f (random %.3f), step_coverage %.3f (random %.3f) on %d videos",
        metrics["in_segment"],
        chance["in_segment"],
        metrics["step_coverage"],
        chance["step_coverage"],
        len(vids),
    )
    return {
        "task": "summarize",
        "metrics": metrics,
        "chance": chance,
        "n": len(vids),
        "config": asdict(cfg),
        "examples": examples,
    }


def run_summarize(
    model: Any,
    tokenizer: Any,
    work: str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    cfg: SummarizeConfig | None = None,
    captioner: Callable[[list[np.ndarray]], list[str]] | None = None,
) -> dict[str, Any]:
    """:func:`summarize_task` on WORK's validation videos; strips under ``WORK/reports/summarize/``."""
    db = load_annotations(annotations)
    videos = video_entries(db, work, "validation")
    cfg = cfg or SummarizeConfig()
    if cfg.max_videos > 0:
        videos = videos[: cfg.max_videos]
    narration = narration_for(work, [v[0] for v in videos], db)
    return summarize_task(
        model,
        tokenizer,
        videos,
        narration,
        cfg,
        out_dir=Path(work) / "reports" / "summarize",
        thumbs=load_thumbnails(work),
        video_paths=_video_paths(work),
        captioner=captioner,
    )
