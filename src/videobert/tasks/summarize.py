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
from tqdm import tqdm

from videobert.data.annotations import Database
from videobert.errors import VideoBertError
from videobert.eval.intervals import unit_intervals
from videobert.model.inference import alignment_log_probs
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, load_task_inputs, register_task
from videobert.tasks.strips import StripRow, fit_tile, render_strip, word_tiles
from videobert.utils.arrays import evenly_spaced
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)

TASK = "summarize"


@dataclass
class SummarizeConfig(TaskConfig):
    """Settings of :func:`summarize` (and those of :class:`TaskConfig`: it summarises ``subset``'s
    videos; with ``with_captions`` the caption model trains on ``train_subset``'s segments).

    Attributes:
        k: clips per summary.
        window: clips each side of a candidate in its visual-word window.
        min_gap: chosen clips are at least this many clips apart (2 = never adjacent).
        max_candidates: candidate clips per video (evenly spaced; None or 0: all).
        max_sentences: narration sentences per video (evenly spaced; None or 0: all).
        max_videos: videos summarised, the first ones (None or 0: all).
        max_length: tokens per alignment sequence.
        tile_size: strip tile size (pixels).
        with_captions: train a caption model (:mod:`videobert.tasks.caption`, default settings) and
            caption the chosen clips instead of quoting the best-aligned narration sentence.
    """

    k: int = 4
    window: int = 2
    min_gap: int = 2
    max_candidates: int | None = 16
    max_sentences: int | None = 10
    max_videos: int | None = 20
    max_length: int = 48
    n_examples: int = 3
    tile_size: int = 96
    with_captions: bool = False


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
    sents = [sents[i] for i in evenly_spaced(len(sents), cfg.max_sentences or None)]
    cand = evenly_spaced(n, cfg.max_candidates or None)
    windows = [words[max(0, c - cfg.window) : c + cfg.window + 1] for c in cand]
    if sents and n:
        encs = [tokenizer.encode_pair(s, w, cfg.max_length) for w in windows for s in sents]
        lp = alignment_log_probs(model, tokenizer, encs, cfg.batch_size)
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


def narration_for(work: WorkDir, video_ids: Sequence[str], db: Database) -> dict[str, list[str]]:
    """Narration sentences per video: the transcript beside the source video, else the video's
    rows of the corpus parquet, else the annotation sentences."""
    import pyarrow.parquet as pq

    from videobert.data.corpus import transcripts_beside_videos
    from videobert.text.transcripts import read_transcript

    out: dict[str, list[str]] = {}
    for vid, path in transcripts_beside_videos(work, list(video_ids)).items():
        try:
            segs = read_transcript(path).segments
        except VideoBertError as exc:  # a bad transcript: fall back to the next source
            log.warning("%s", exc)
            continue
        out[vid] = [s.text for s in segs if s.text.strip()]
    missing = {v for v in video_ids if not out.get(v)}
    for split in ("train", "val"):
        p = work.corpus_split(split)
        if not missing or not p.is_file():
            continue
        table = pq.read_table(p, columns=["video_id", "text"]).to_pydict()
        for vid, text in zip(table["video_id"], table["text"], strict=True):
            if vid in missing and text and text.strip():
                out.setdefault(vid, []).append(text)
    for vid in video_ids:
        if not out.get(vid):
            out[vid] = [
                str(a.get("sentence", ""))
                for a in db.get(vid, {}).get("annotations", [])
                if a.get("sentence")
            ]
    return out


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


def summarize(
    model: Any, tokenizer: Any, inputs: TaskInputs, cfg: SummarizeConfig | None = None
) -> TaskReport:
    """Summarise ``inputs.videos`` (narration from ``inputs.narration``) and score the chosen clips
    against their annotated steps.

    Returns:
        the report: ``metrics`` {"in_segment", "step_coverage"} beside k random clips' (expected by
        simulation), ``n`` videos; one example per drawn video (clips, times, text, frames).
    """
    cfg = cfg or SummarizeConfig()
    rng = np.random.default_rng(cfg.seed)
    vids = inputs.videos[: cfg.max_videos] if cfg.max_videos else list(inputs.videos)
    if not vids:
        raise VideoBertError(f"summarize: no {cfg.subset!r} video with visual words to summarise")
    captioner = _captioner(model, tokenizer, inputs) if cfg.with_captions else None
    ours, rand = [], []
    examples = []
    images: dict[str, bytes] = {}
    for i, v in enumerate(tqdm(vids, desc="summarize", leave=False, disable=len(vids) < 4)):
        vid, entry, words, times = v.video_id, v.entry, v.words, v.times
        summ = summarize_video(
            model, tokenizer, vid, words, times, inputs.narration.get(vid, []), cfg, captioner
        )
        segs = v.steps
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
            tiles = _clip_images(
                inputs.video_paths.get(vid), summ, np.asarray(words), inputs.thumbs, cfg.tile_size
            )
            rows = [StripRow("summary", tiles, [f"{s:.1f}-{e:.1f}s" for s, e in summ.times])]
            ex["image"] = f"summary_{i}.png"
            images[ex["image"]] = render_strip(rows, tile_size=cfg.tile_size, title=f"{vid}: {summ.text}")
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
    per_video = {"in_segment": o[:, 0], "step_coverage": o[:, 1]}
    intervals = unit_intervals(per_video, {"in_segment": r[:, 0], "step_coverage": r[:, 1]}, seed=cfg.seed)
    return TaskReport(TASK, metrics, chance, "random clips", len(vids), asdict(cfg), examples, images, intervals=intervals)


def _captioner(model: Any, tokenizer: Any, inputs: TaskInputs) -> Callable[[list[np.ndarray]], list[str]]:
    """A caption model trained on ``inputs.train_segments``: visual-word windows -> captions."""
    from videobert.tasks.caption import CaptionConfig, train_captioner

    captioner, _ = train_captioner(model, tokenizer, inputs.train_segments, CaptionConfig())
    return lambda windows: captioner.caption(model, tokenizer, windows)


def load_summarize_inputs(
    work: WorkDir, annotations: str | os.PathLike[str], cfg: SummarizeConfig
) -> TaskInputs:
    """:func:`load_task_inputs` plus each video's narration and source video path."""
    inputs = load_task_inputs(work, annotations, cfg)
    videos = inputs.videos[: cfg.max_videos] if cfg.max_videos else inputs.videos
    inputs.narration = narration_for(work, [v.video_id for v in videos], inputs.annotations)
    inputs.video_paths = work.source_videos(ok_only=True)
    return inputs


register_task(
    Task(
        TASK,
        "the k clips best aligned with the narration, as a frame strip and text",
        SummarizeConfig,
        summarize,
        load_summarize_inputs,
    )
)
