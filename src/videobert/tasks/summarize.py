"""Video summarisation: k clips per video, one per stretch of the video, each the clip there that
the narration explains best; shown as frames and text.

Score (``score``, default ``"narration"``): VideoBERT's text->video direction. A clip's visual word
is masked in its local window (``window`` clips each side) and predicted twice, with the narration
said around the clip (the sentences overlapping ``context_seconds`` of its midpoint) and without
any text; the score is the pointwise mutual information ``log P(w | window, narration) - log P(w |
window)``: how much better the narration predicts what is on screen. Around = overlapping
``[mid - context_seconds, mid + context_seconds]`` of the clip's midpoint (default 0: the
sentence said at the midpoint). The difference, not the raw
log-probability, is what separates step clips from the rest (a static clip between steps is easy
to predict from its neighbours whatever is said, so its raw score is high but its PMI is not).
A clip with no narration around it scores lowest. ``"alignment"`` scores the clip's window against
the same sentences with the alignment head (``log P(aligned)``) instead; ``"none"`` keeps the
uniform picks (no model).

Selection: the video's clip span is cut into k equal windows and each window's best clip is taken
(at most one per window, so the summary covers the video end to end); only the clips within the
central ``centre`` share of a window compete (default half: two winners of neighbouring windows
are never adjacent, which would cover one step twice); a window whose candidates all lack
narration gives its centre clip. The defaults (PMI, context 0 s, centre 0.5) were chosen on the
built-in corpus's training subset over the raw alignment score, 2 s of context and whole windows
(docs/ARCHITECTURE.md, "Summarisation"). k is ``k`` when set, else the video's length times
``steps_per_minute`` (default: the ``train_subset`` annotations' steps per minute, so a 5-minute
YouCook2 video with ~8 steps gets ~8 clips), at least 1. The summary's text is the narration
around each chosen clip (or the caption model's caption when ``with_captions``), de-duplicated,
in time order.

Narration: the video's rows of ``WORK/corpus/{train,val}.parquet`` (the timed sentences the model
was trained on), else the transcript beside the video (its timed cues), else the annotation
sentences (untimed: every sentence is tried and the best score kept).

Evaluation against the annotations, per video: ``in_segment`` = fraction of chosen clips inside an
annotated step, ``step_coverage`` = fraction of the video's annotated steps a chosen clip falls in.
Baselines of the same k per video: ``random clips`` (the report's baseline: the expectation over
``n_random`` draws) and ``uniform clips`` (the centre clip of each window; ``details["uniform"]``),
each with 95% bootstrap intervals over videos paired with ours.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.data.annotations import Database, Video
from videobert.errors import VideoBertError
from videobert.eval.intervals import unit_intervals
from videobert.model.inference import alignment_log_probs, batched, model_device, visual_logits
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, load_task_inputs, register_task
from videobert.tasks.strips import StripRow, fit_tile, render_strip, word_tiles
from videobert.text.transcripts import Segment
from videobert.utils.arrays import evenly_spaced
from videobert.utils.runtime import resolve_device
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)

TASK = "summarize"
SCORES = ("narration", "alignment", "none")
#: Steps per minute when neither ``k`` nor ``steps_per_minute`` is set and the training subset has
#: no annotated steps: YouCook2's (7.7 steps in 5.3 minutes on average).
DEFAULT_STEPS_PER_MINUTE = 1.45


@dataclass
class SummarizeConfig(TaskConfig):
    """Settings of :func:`summarize` (and those of :class:`TaskConfig`: it summarises ``subset``'s
    videos; ``train_subset``'s annotations give the steps per minute, and with ``with_captions``
    its segments train the caption model).

    Attributes:
        k: clips per summary; 0: ``steps_per_minute`` times the video's length in minutes.
        steps_per_minute: summary clips per minute of video when ``k`` is 0; 0: the training
            subset's annotated steps per minute (:data:`DEFAULT_STEPS_PER_MINUTE` without any).
        score: ``"narration"`` (text->video PMI), ``"alignment"`` (alignment head) or ``"none"``.
        window: clips each side of a candidate in its visual-word window.
        context_seconds: narration within this many seconds of a clip's midpoint is "around" it.
        centre: the share of each window (around its centre) whose clips compete (1: all; 0: the
            centre clip only, the uniform pick).
        max_text_tokens: WordPiece tokens of a clip's narration kept (the start of it).
        max_sentences: untimed narration: sentences per video tried (evenly spaced; 0: all).
        max_videos: videos summarised, the first ones (0: all).
        n_random: random draws per video for the random baseline's expectation.
        tile_size: strip tile size (pixels).
        with_captions: train a caption model (:mod:`videobert.tasks.caption`, default settings) and
            caption the chosen clips instead of quoting the narration.
    """

    k: int = 0
    steps_per_minute: float = 0.0
    score: str = "narration"
    window: int = 2
    context_seconds: float = 0.0
    centre: float = 0.5
    max_text_tokens: int = 48
    max_sentences: int = 0
    max_videos: int = 0
    n_random: int = 200
    n_examples: int = 3
    tile_size: int = 96
    with_captions: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {', '.join(SCORES)}, got {self.score!r}")
        if self.k < 0 or self.steps_per_minute < 0 or self.window < 0 or self.context_seconds < 0:
            raise ValueError("k, steps_per_minute, window and context_seconds must be >= 0")
        if self.n_random < 1 or self.max_text_tokens < 1:
            raise ValueError("n_random and max_text_tokens must be >= 1")


@dataclass
class VideoSummary:
    """One video's summary: chosen clip indices (time order), their scores, times (s) and the text.

    ``clip_scores``: float (n_clips,) every clip's score (-inf: no narration around it).
    """

    video_id: str
    clips: list[int]
    scores: list[float]
    times: list[tuple[float, float]]
    sentences: list[str]
    text: str
    clip_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class SummarizeInputs(TaskInputs):
    """:class:`TaskInputs` plus each video's timed narration (``Segment``s; NaN times: untimed)."""

    timed_narration: dict[str, list[Segment]] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# selection
# ----------------------------------------------------------------------------------------------


def summary_length(times: np.ndarray, steps_per_minute: float, k: int = 0) -> int:
    """Clips in a summary of a video with clips ``times`` float (n, 2) s: ``k`` when > 0, else
    ``round(steps_per_minute * span minutes)``, at least 1, at most n."""
    times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    if not len(times):
        return 0
    if k <= 0:
        span = float(times[-1, 1] - times[0, 0]) / 60.0
        k = int(round(steps_per_minute * span))
    return int(min(max(k, 1), len(times)))


def _windows(times: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(window of each clip int (n,), window centres float (k,) s)``: the clips' span in k equal parts."""
    times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    mids = times.mean(axis=1)  # (n,)
    lo, hi = float(times[0, 0]), float(times[-1, 1])
    edges = np.linspace(lo, hi, k + 1)  # (k + 1,)
    win = np.clip(np.searchsorted(edges, mids, side="right") - 1, 0, k - 1)
    return win, 0.5 * (edges[:-1] + edges[1:])


def pick_in_windows(scores: np.ndarray, times: np.ndarray, k: int, centre: float = 1.0) -> list[int]:
    """The best-scoring clip of each of k equal windows of the video (clip midpoints decide the
    window), in time order; ties and windows without a finite score go to the clip nearest the
    window's centre; an empty window gives nothing.

    Args:
        scores: float (n,) per clip, higher better (NaN / -inf: no evidence).
        times: float64 (n, 2) clip [start, end) s, sorted.
        centre: only clips within ``centre`` times half the window's width of its centre compete
            (1: the whole window; 0: the clip nearest the centre, the uniform pick).
    """
    scores = np.asarray(scores, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    if k <= 0 or not len(scores):
        return []
    win, centres = _windows(times, k)
    mids = np.asarray(times, dtype=np.float64).reshape(-1, 2).mean(axis=1)
    half = 0.5 * (centres[1] - centres[0]) if k > 1 else 0.5 * float(times[-1, 1] - times[0, 0])
    s = np.where(np.isfinite(scores), scores, -np.inf)
    chosen = []
    for j in range(k):
        members = np.flatnonzero(win == j)
        if not len(members):
            continue
        dist = np.abs(mids[members] - centres[j])
        near = dist <= centre * half + 1e-9
        if not near.any():  # no clip close enough: the nearest one
            near = dist == dist.min()
        members, dist = members[near], dist[near]
        order = np.lexsort((dist, -s[members]))  # best score first, then nearest the centre
        chosen.append(int(members[order[0]]))
    return sorted(chosen)


def uniform_clips(times: np.ndarray, k: int) -> list[int]:
    """The uniform baseline: the clip nearest each of k equal windows' centres (in that window)."""
    return pick_in_windows(np.zeros(len(np.asarray(times).reshape(-1, 2))), times, k)


# ----------------------------------------------------------------------------------------------
# scores
# ----------------------------------------------------------------------------------------------


def narration_around(times: np.ndarray, narration: Sequence[Segment], context_seconds: float) -> list[str | None]:
    """The narration said around each clip: the timed sentences overlapping ``[mid - c, mid + c]``
    of the clip's midpoint, joined in time order; None where nothing is said.

    Args:
        times: float64 (n, 2) clip [start, end) s. narration: timed sentences (untimed ones ignored).
    """
    mids = np.asarray(times, dtype=np.float64).reshape(-1, 2).mean(axis=1)
    timed = sorted(
        (s for s in narration if math.isfinite(s.start) and math.isfinite(s.end) and s.text.strip()),
        key=lambda s: s.start,
    )
    if not timed:
        return [None] * len(mids)
    starts = np.array([s.start for s in timed])
    ends = np.array([s.end for s in timed])
    out: list[str | None] = []
    for m in mids:
        hit = np.flatnonzero((starts <= m + context_seconds) & (ends >= m - context_seconds))
        out.append(" ".join(timed[i].text.strip() for i in hit) if len(hit) else None)
    return out


def _masked_window(
    tokenizer: Any, words: np.ndarray, c: int, window: int, text: str | None, cfg: SummarizeConfig
) -> tuple[dict[str, list[int]], int]:
    """``(encoding of [CLS] text [>] w_{c-window}..[MASK]..w_{c+window} [SEP], the [MASK]'s position)``."""
    lo = max(0, c - window)
    ids = tokenizer.encode_text(text)[: cfg.max_text_tokens] if text is not None else None
    enc = tokenizer.encode_pair(ids, words[lo : c + window + 1], 10_000)
    first_visual = enc["token_type_ids"].index(1)  # [>] is type 0; the video side starts after it
    pos = first_visual + (c - lo)
    enc["input_ids"][pos] = tokenizer.mask_token_id
    return enc, pos


@torch.inference_mode()
def masked_word_log_probs(
    model: Any,
    tokenizer: Any,
    words: np.ndarray,
    clips: Sequence[int],
    texts: Sequence[str | None],
    cfg: SummarizeConfig,
) -> np.ndarray:
    """float64 (len(clips),) ``log P(true visual word of clip c)`` with c masked in its window,
    given ``texts[i]`` (None: video only, ``[CLS] [>] window [SEP]``)."""
    model.eval()
    words = np.asarray(words, dtype=np.int64)
    pairs = [_masked_window(tokenizer, words, c, cfg.window, t, cfg) for c, t in zip(clips, texts, strict=True)]
    encs = [e for e, _ in pairs]
    pos = np.array([p for _, p in pairs], dtype=np.int64)
    truth = words[np.asarray(clips, dtype=np.int64)]
    out = np.zeros(len(encs), dtype=np.float64)
    if not encs:
        return out
    device = model_device(model)
    for idx, batch in batched(tokenizer, encs, cfg.batch_size, True, None, device):
        hidden = model(**batch).last_hidden_state  # (B, L, H)
        rows = torch.arange(len(idx), device=device)
        picked = hidden[rows, torch.as_tensor(pos[idx], device=device)]  # (B, H)
        lp = torch.log_softmax(visual_logits(model, picked).float(), dim=-1)  # (B, V)
        out[idx] = lp[rows, torch.as_tensor(truth[idx], device=device)].double().cpu().numpy()
    return out


def clip_scores(
    model: Any,
    tokenizer: Any,
    words: np.ndarray,
    times: np.ndarray,
    narration: Sequence[Segment],
    cfg: SummarizeConfig,
) -> tuple[np.ndarray, list[str | None]]:
    """Every clip's score under ``cfg.score`` and the narration it was scored with.

    Returns:
        float64 (n,) scores (-inf: no narration around the clip), and per clip its narration text
        (timed: the sentences around it; untimed: the best-scoring sentence; None: none).
    """
    n = len(words)
    if cfg.score == "none" or not n:
        return np.zeros(n), [None] * n
    texts = narration_around(times, narration, cfg.context_seconds)
    untimed = [s.text for s in narration if not (math.isfinite(s.start) and math.isfinite(s.end)) and s.text.strip()]
    if all(t is None for t in texts) and untimed:  # untimed narration: try every sentence on every clip
        sents = [untimed[i] for i in evenly_spaced(len(untimed), cfg.max_sentences or None)]
        clips = [c for c in range(n) for _ in sents]
        grid = _score_pairs(model, tokenizer, words, clips, sents * n, cfg).reshape(n, len(sents))
        best = grid.argmax(axis=1)  # (n,)
        return grid.max(axis=1), [sents[int(b)] for b in best]
    said = [c for c in range(n) if texts[c] is not None]
    score = np.full(n, -np.inf)
    if said:
        score[said] = _score_pairs(model, tokenizer, words, said, [texts[c] for c in said], cfg)
    return score, texts


def _score_pairs(
    model: Any, tokenizer: Any, words: np.ndarray, clips: list[int], texts: list[str | None], cfg: SummarizeConfig
) -> np.ndarray:
    """float64 (len(clips),) the score of each (clip, text) pair under ``cfg.score``."""
    if cfg.score == "alignment":
        encs = [
            tokenizer.encode_pair(
                tokenizer.encode_text(t or "")[: cfg.max_text_tokens], words[max(0, c - cfg.window) : c + cfg.window + 1],
                10_000,
            )
            for c, t in zip(clips, texts, strict=True)
        ]
        return alignment_log_probs(model, tokenizer, encs, cfg.batch_size)
    with_text = masked_word_log_probs(model, tokenizer, words, clips, texts, cfg)
    unique = sorted(set(clips))
    without = dict(zip(unique, masked_word_log_probs(model, tokenizer, words, unique, [None] * len(unique), cfg), strict=True))
    return with_text - np.array([without[c] for c in clips])


def summarize_video(
    model: Any,
    tokenizer: Any,
    video_id: str,
    words: np.ndarray,
    times: np.ndarray,
    narration: Sequence[Segment | str],
    k: int,
    cfg: SummarizeConfig | None = None,
    captioner: Callable[[list[np.ndarray]], list[str]] | None = None,
) -> VideoSummary:
    """Summarise one video with ``k`` clips.

    Args:
        words: int (n_clips,) vocab-local visual words. times: float64 (n_clips, 2) clip [start, end) s.
        narration: timed sentences (``Segment``), or plain strings (untimed).
        captioner: optional ``windows -> captions`` (e.g. a trained caption model) for the text.
    """
    cfg = cfg or SummarizeConfig()
    words = np.asarray(words, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    segs = [s if isinstance(s, Segment) else Segment(math.nan, math.nan, str(s)) for s in narration]
    score, texts = clip_scores(model, tokenizer, words, times, segs, cfg)
    chosen = pick_in_windows(score, times, k, cfg.centre)
    if captioner is not None and chosen:
        lines = captioner([words[max(0, c - cfg.window) : c + cfg.window + 1] for c in chosen])
    else:
        lines = [texts[c] or "" for c in chosen]
    dedup = list(dict.fromkeys(t.strip() for t in lines if t and t.strip()))
    return VideoSummary(
        video_id=video_id,
        clips=chosen,
        scores=[float(score[c]) for c in chosen],
        times=[(float(times[c, 0]), float(times[c, 1])) for c in chosen],
        sentences=dedup,
        text=". ".join(dedup),
        clip_scores=score,
    )


# ----------------------------------------------------------------------------------------------
# evaluation
# ----------------------------------------------------------------------------------------------


def _clip_step(times: np.ndarray, segments: Sequence[tuple[float, float]]) -> np.ndarray:
    """int64 (n_clips,) index of the annotated step containing each clip's midpoint, -1 if none."""
    mids = np.asarray(times, dtype=np.float64).reshape(-1, 2).mean(axis=1)  # (n, 2) -> (n,)
    out = np.full(len(mids), -1, dtype=np.int64)
    for j, (s, e) in enumerate(segments):
        out[(mids >= s) & (mids < e) & (out < 0)] = j
    return out


def summary_scores(chosen: Sequence[int], step_of_clip: np.ndarray, n_steps: int) -> tuple[float, float]:
    """``(in_segment, step_coverage)`` of chosen clips given each clip's step (-1: none)."""
    if not len(chosen):
        return 0.0, 0.0
    steps = step_of_clip[np.asarray(chosen, dtype=np.int64)]
    in_seg = float((steps >= 0).mean())
    cover = float(len(set(steps[steps >= 0].tolist())) / n_steps) if n_steps else 0.0
    return in_seg, cover


def random_scores(
    n_clips: int, k: int, step_of_clip: np.ndarray, n_steps: int, rng: np.random.Generator, draws: int
) -> tuple[float, float]:
    """Expected ``(in_segment, step_coverage)`` of k distinct clips drawn at random (``draws`` draws)."""
    trials = [summary_scores(rng.choice(n_clips, k, replace=False), step_of_clip, n_steps) for _ in range(draws)]
    return tuple(np.mean(trials, axis=0).tolist())  # type: ignore[return-value]


def steps_per_minute(videos: Sequence[Video]) -> float:
    """Annotated steps per minute of clips over ``videos`` (0 without any step)."""
    steps = sum(len(v.steps) for v in videos)
    minutes = sum(float(v.times[-1, 1] - v.times[0, 0]) for v in videos if len(v.times)) / 60.0
    return steps / minutes if steps and minutes > 0 else 0.0


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
    """Summarise ``inputs.videos`` and score the chosen clips against their annotated steps.

    The model is moved to ``cfg.device``. Narration: ``inputs.timed_narration`` when the inputs are
    :class:`SummarizeInputs`, else ``inputs.narration`` (untimed).

    Returns:
        the report: ``metrics`` {"in_segment", "step_coverage"} (means over videos) beside random
        clips' (``baseline``, expected by simulation) with paired intervals; ``details["uniform"]``:
        the uniform clips' metrics, their intervals paired with ours, ``details["k"]``; ``n`` videos;
        one example per drawn video (clips, times, text, frames).
    """
    cfg = cfg or SummarizeConfig()
    rng = np.random.default_rng(cfg.seed)
    vids = inputs.videos[: cfg.max_videos] if cfg.max_videos else list(inputs.videos)
    if not vids:
        raise VideoBertError(f"summarize: no {cfg.subset!r} video with visual words to summarise")
    if cfg.score != "none":
        model.to(resolve_device(cfg.device))
    density = cfg.steps_per_minute or steps_per_minute(inputs.train_videos) or DEFAULT_STEPS_PER_MINUTE
    timed = getattr(inputs, "timed_narration", None) or {}
    captioner = _captioner(model, tokenizer, inputs) if cfg.with_captions else None
    ours, rand, unif, ks = [], [], [], []
    examples = []
    images: dict[str, bytes] = {}
    for i, v in enumerate(tqdm(vids, desc="summarize", leave=False, disable=len(vids) < 4)):
        vid, words, times = v.video_id, np.asarray(v.words), np.asarray(v.times)
        k = summary_length(times, density, cfg.k)
        narration = timed.get(vid) or inputs.narration.get(vid, [])
        summ = summarize_video(model, tokenizer, vid, words, times, narration, k, cfg, captioner)
        segs = v.steps
        step = _clip_step(times, segs)
        ks.append(k)
        ours.append(summary_scores(summ.clips, step, len(segs)))
        unif.append(summary_scores(uniform_clips(times, k), step, len(segs)))
        rand.append(random_scores(len(words), k, step, len(segs), rng, cfg.n_random))
        if i < cfg.n_examples:
            ex: dict[str, Any] = {
                "video_id": vid,
                "clips": summ.clips,
                "times": [list(t) for t in summ.times],
                "scores": [round(s, 4) if math.isfinite(s) else None for s in summ.scores],
                "pred": summ.text,
                "truth": ". ".join(str(a.get("sentence", "")) for a in v.entry.get("annotations", [])),
            }
            tiles = _clip_images(inputs.video_paths.get(vid), summ, words, inputs.thumbs, cfg.tile_size)
            rows = [StripRow("summary", tiles, [f"{s:.1f}-{e:.1f}s" for s, e in summ.times])]
            ex["image"] = f"summary_{i}.png"
            images[ex["image"]] = render_strip(rows, tile_size=cfg.tile_size, title=f"{vid}: {summ.text}")
            examples.append(ex)
    o, r, u = np.asarray(ours), np.asarray(rand), np.asarray(unif)  # (n_videos, 2) each
    names = ("in_segment", "step_coverage")
    per_video = {m: o[:, j] for j, m in enumerate(names)}
    metrics = {m: float(o[:, j].mean()) for j, m in enumerate(names)}
    chance = {m: float(r[:, j].mean()) for j, m in enumerate(names)}
    uniform = {m: float(u[:, j].mean()) for j, m in enumerate(names)}
    intervals = unit_intervals(per_video, {m: r[:, j] for j, m in enumerate(names)}, seed=cfg.seed)
    uniform_iv = unit_intervals(per_video, {m: u[:, j] for j, m in enumerate(names)}, seed=cfg.seed)
    for m in names:
        log.info(
            "summarize %s: %.3f (random %.3f, uniform %.3f) on %d videos, k %.1f on average",
            m, metrics[m], chance[m], uniform[m], len(vids), float(np.mean(ks)),
        )  # fmt: skip
    details = {
        "uniform": {"metrics": uniform, "intervals": uniform_iv.to_json()},
        "k": {"mean": float(np.mean(ks)), "steps_per_minute": density},
    }
    return TaskReport(
        TASK, metrics, chance, "random clips", len(vids), asdict(cfg), examples, images, details=details, intervals=intervals
    )


def _captioner(model: Any, tokenizer: Any, inputs: TaskInputs) -> Callable[[list[np.ndarray]], list[str]]:
    """A caption model trained on ``inputs.train_segments``: visual-word windows -> captions."""
    from videobert.tasks.caption import CaptionConfig, train_captioner

    captioner, _ = train_captioner(model, tokenizer, inputs.train_segments, CaptionConfig())
    return lambda windows: captioner.caption(model, tokenizer, windows)


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


def timed_narration_for(work: WorkDir, video_ids: Sequence[str], db: Database) -> dict[str, list[Segment]]:
    """Narration sentences per video: the video's rows of the corpus parquet (timed sentences),
    else the transcript beside the source video (timed cues), else the annotation sentences
    (untimed: NaN times; their times are the ground truth and are never used)."""
    import pyarrow.parquet as pq

    from videobert.data.corpus import transcripts_beside_videos
    from videobert.text.transcripts import read_transcript

    wanted = set(video_ids)
    out: dict[str, list[Segment]] = {}
    for split in ("train", "val"):
        p = work.corpus_split(split)
        if not p.is_file():
            continue
        table = pq.read_table(p, columns=["video_id", "start", "end", "text"]).to_pydict()
        for vid, s, e, text in zip(table["video_id"], table["start"], table["end"], table["text"], strict=True):
            if vid in wanted and text and text.strip():
                out.setdefault(vid, []).append(Segment(float(s), float(e), text))
    missing = [v for v in video_ids if not out.get(v)]
    for vid, path in transcripts_beside_videos(work, missing).items() if missing else ():
        try:
            segs = read_transcript(path).segments
        except VideoBertError as exc:  # a bad transcript: fall back to the annotations
            log.warning("%s", exc)
            continue
        out[vid] = [Segment(s.start, s.end, s.text) for s in segs if s.text.strip()]
    for vid in video_ids:
        if not out.get(vid):
            out[vid] = [
                Segment(math.nan, math.nan, str(a["sentence"]))
                for a in db.get(vid, {}).get("annotations", [])
                if a.get("sentence")
            ]
    return out


def narration_for(work: WorkDir, video_ids: Sequence[str], db: Database) -> dict[str, list[str]]:
    """The texts of :func:`timed_narration_for`."""
    return {v: [s.text for s in segs] for v, segs in timed_narration_for(work, video_ids, db).items()}


def load_summarize_inputs(
    work: WorkDir, annotations: str | os.PathLike[str], cfg: SummarizeConfig
) -> SummarizeInputs:
    """:func:`load_task_inputs` plus each video's timed narration and source video path."""
    base = load_task_inputs(work, annotations, cfg)
    inputs = SummarizeInputs(**{f: getattr(base, f) for f in TaskInputs.__dataclass_fields__})
    videos = inputs.videos[: cfg.max_videos] if cfg.max_videos else inputs.videos
    inputs.timed_narration = timed_narration_for(work, [v.video_id for v in videos], inputs.annotations)
    inputs.narration = {v: [s.text for s in segs] for v, segs in inputs.timed_narration.items()}
    inputs.video_paths = work.source_videos(ok_only=True)
    return inputs


register_task(
    Task(
        TASK,
        "one clip per stretch of each video, the one its narration explains best, as a frame strip and text",
        SummarizeConfig,
        summarize,
        load_summarize_inputs,
    )
)
