"""The built-in narrated-video corpus: a deterministic, YouCook2-like set of "recipe" videos.

Each video is a recipe of one of :data:`RECIPE_TYPES`; a recipe is a sequence of steps; a step is
an action verb (:data:`VERBS`) applied to an object (a shape from :data:`SHAPES` in a colour from
:data:`COLOURS`) for 2.5-4.5 s. Every verb is a distinct motion of the shape (horizontal slide,
upward lift, fall, rotation, growth, shrinking, jitter, on/off flicker), so vision alone tells
verbs apart. Recipe types have a characteristic verb order and preferred objects, varied per video
by dropped, swapped and inserted steps.

Output layout (``synthesize(out)``)::

    out/videos/<id>.mp4          real encoded video (H.264 by default; vp9/webm, mjpeg/avi, ffv1/mkv)
    out/videos/<id>.srt          ASR-like narration beside it (lower case, fillers, ~20% off-topic,
                                 sentence times shifted by up to +-1 s, some cues split or merged)
    out/annotations.json         YouCook2 layout with verb / noun / colour labels per segment
    out/taxonomy.json            verbs, nouns, colours, recipe types
    out/synth.json               generation parameters (+ "complete"), for resuming and skipping

The schedule (:func:`plan_corpus`) is separate from rendering and cheap, so tests and tools can
inspect labels without encoding any video. Video ``i`` depends only on ``(seed, i)``: a corpus of
``n`` videos is a prefix of a larger one with the same seed (except for the train/val split).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from videobert.datasets.synthetic_narration import (
    format_srt,
    off_topic_sentence,
    reference_caption,
    sentences_to_cues,
    step_narration,
)
from videobert.errors import VideoBertError
from videobert.utils.io import atomic_write_json, atomic_write_text, read_json

log = logging.getLogger(__name__)

#: Action verbs; each is a single WordPiece token of uncased BERT and a distinct motion.
VERBS: tuple[str, ...] = ("slide", "lift", "drop", "spin", "grow", "shrink", "shake", "blink")
#: Object shapes (nouns); single WordPiece tokens.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring", "heart", "diamond")
#: Object colours (name -> RGB); single WordPiece tokens, all distinct from the light backgrounds.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (40, 165, 55),
    "blue": (35, 70, 210),
    "yellow": (235, 200, 20),
    "purple": (130, 45, 170),
    "orange": (240, 120, 20),
    "pink": (235, 90, 170),
}


@dataclass(frozen=True)
class RecipeTemplate:
    """A recipe type's typical verb order and preferred objects."""

    verbs: tuple[str, ...]
    shapes: tuple[str, ...]
    colours: tuple[str, ...]


RECIPES: dict[str, RecipeTemplate] = {
    "salad": RecipeTemplate(
        ("slide", "spin", "shake", "slide", "lift", "blink", "drop", "shake"),
        ("circle", "ring", "heart"),
        ("green", "red", "yellow"),
    ),
    "soup": RecipeTemplate(
        ("drop", "shrink", "spin", "grow", "shake", "spin", "lift"),
        ("circle", "ring", "square"),
        ("orange", "red", "pink"),
    ),
    "cake": RecipeTemplate(
        ("grow", "lift", "drop", "grow", "shrink", "spin", "blink"),
        ("star", "heart", "diamond"),
        ("pink", "purple", "yellow"),
    ),
    "pizza": RecipeTemplate(
        ("slide", "grow", "drop", "blink", "spin", "shrink", "slide", "lift"),
        ("triangle", "circle", "square"),
        ("red", "yellow", "orange"),
    ),
    "bread": RecipeTemplate(
        ("shake", "grow", "grow", "lift", "drop", "shrink", "blink", "slide"),
        ("square", "cross", "diamond"),
        ("orange", "blue", "purple"),
    ),
    "pasta": RecipeTemplate(
        ("spin", "shake", "drop", "lift", "slide", "blink", "shrink", "blink"),
        ("cross", "star", "triangle"),
        ("green", "blue", "purple"),
    ),
}
#: Recipe types (video-level classes); single WordPiece tokens.
RECIPE_TYPES: tuple[str, ...] = tuple(RECIPES)

#: Light background tones (RGB) a video may use.
BACKGROUNDS: tuple[tuple[int, int, int], ...] = (
    (222, 214, 198),
    (205, 205, 205),
    (228, 222, 210),
    (200, 196, 186),
    (214, 206, 190),
)

PLAN_VERSION = 1
#: Defaults of :func:`synthesize` and ``videobert synth``: ~36 min of 128x96 video at 20 fps.
DEFAULT_N_VIDEOS = 60
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS = 128, 96, 20.0
STEP_SECONDS = (2.5, 4.5)
GAP_SECONDS = (0.3, 1.0)
CHAT_GAP_SECONDS = (3.0, 4.0)
OFF_TOPIC_RATE = 0.25  # off-topic remarks per step: ~20% of all sentences
CODECS: dict[str, tuple[str, str, str]] = {  # name -> (encoder, container suffix, pixel format)
    "h264": ("libx264", ".mp4", "yuv420p"),
    "vp9": ("libvpx-vp9", ".webm", "yuv420p"),
    "mjpeg": ("mjpeg", ".avi", "yuvj420p"),
    "ffv1": ("ffv1", ".mkv", "bgr0"),  # lossless RGB
}


@dataclass(frozen=True)
class Step:
    """One action: ``verb`` on a ``colour`` ``noun`` over ``[start, end)`` seconds.

    Motion parameters are in frame-relative units: positions as fractions of width (x) and height
    (y), ``scale0``/``scale1`` multiply the base object radius (a fraction of the frame height),
    ``turns`` is full rotations (spin), ``freq`` in Hz (shake, blink), ``direction`` +1 right / -1
    left (slide) or rotation sense (spin).
    """

    index: int
    verb: str
    noun: str
    colour: str
    start: float
    end: float
    caption: str
    x0: float
    y0: float
    x1: float
    y1: float
    scale0: float = 1.0
    scale1: float = 1.0
    turns: float = 0.0
    freq: float = 0.0
    direction: int = 1


@dataclass(frozen=True)
class Sentence:
    """A narrated sentence over ``[start, end]`` s; ``step`` is its step index or None (off-topic)."""

    start: float
    end: float
    text: str
    step: int | None


@dataclass(frozen=True)
class VideoPlan:
    """Everything about one video except its pixels: steps, narration, SRT text, labels."""

    video_id: str
    index: int
    recipe_type: str
    subset: str
    duration: float
    steps: tuple[Step, ...]
    sentences: tuple[Sentence, ...]
    srt: str
    background: int
    texture_seed: int = field(default=0)

    def annotation(self) -> dict[str, Any]:
        """This video's entry in YouCook2-layout ``annotations.json``."""
        return {
            "subset": self.subset,
            "duration": self.duration,
            "recipe_type": self.recipe_type,
            "video_url": "",
            "annotations": [
                {
                    "id": s.index,
                    "segment": [s.start, s.end],
                    "sentence": s.caption,
                    "verb": s.verb,
                    "noun": s.noun,
                    "colour": s.colour,
                }
                for s in self.steps
            ],
        }


def _r(x: float) -> float:
    """Round a time to 0.05 s (a whole frame at 20 fps) and to a clean float."""
    return round(round(x * 20) / 20, 2)


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _verb_sequence(rng: np.random.Generator, template: RecipeTemplate, max_steps: int | None) -> list[str]:
    verbs = [v for v in template.verbs if rng.random() >= 0.12]  # drop some steps
    if len(verbs) >= 2 and rng.random() < 0.4:  # swap a neighbouring pair
        k = int(rng.integers(len(verbs) - 1))
        verbs[k], verbs[k + 1] = verbs[k + 1], verbs[k]
    if rng.random() < 0.35:  # insert a step of any verb
        verbs.insert(int(rng.integers(len(verbs) + 1)), VERBS[int(rng.integers(len(VERBS)))])
    while len(verbs) < 5:
        verbs.append(VERBS[int(rng.integers(len(VERBS)))])
    return verbs[:max_steps] if max_steps else verbs


def _motion(rng: np.random.Generator, verb: str) -> dict[str, Any]:
    cx, cy = _uniform(rng, 0.3, 0.7), _uniform(rng, 0.35, 0.65)
    m: dict[str, Any] = {"x0": cx, "y0": cy, "x1": cx, "y1": cy}
    if verb == "slide":
        d = 1 if rng.random() < 0.5 else -1
        a, b = _uniform(rng, 0.18, 0.26), _uniform(rng, 0.74, 0.82)
        m.update(x0=a if d > 0 else b, x1=b if d > 0 else a, direction=d)
    elif verb == "lift":
        m.update(y0=_uniform(rng, 0.72, 0.8), y1=_uniform(rng, 0.2, 0.28))
    elif verb == "drop":
        m.update(y0=_uniform(rng, 0.15, 0.22), y1=_uniform(rng, 0.74, 0.8))
    elif verb == "spin":
        m.update(turns=float(rng.choice([1.0, 1.5, 2.0])), direction=1 if rng.random() < 0.5 else -1)
    elif verb == "grow":
        m.update(scale0=_uniform(rng, 0.4, 0.5), scale1=_uniform(rng, 1.45, 1.6))
    elif verb == "shrink":
        m.update(scale0=_uniform(rng, 1.45, 1.6), scale1=_uniform(rng, 0.4, 0.5))
    elif verb == "shake":
        m.update(freq=_uniform(rng, 3.5, 5.0))
    elif verb == "blink":
        m.update(freq=_uniform(rng, 1.2, 2.0))
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}


def plan_video(
    index: int, seed: int = 0, recipe_type: str | None = None, max_steps: int | None = None
) -> VideoPlan:
    """The schedule of video ``index`` (deterministic in ``(seed, index)``), subset left as "training"."""
    rng = np.random.default_rng([seed, index, 0])
    text_rng = np.random.default_rng([seed, index, 1])
    if recipe_type is None:
        block = np.random.default_rng([seed, index // len(RECIPE_TYPES), 2]).permutation(len(RECIPE_TYPES))
        recipe_type = RECIPE_TYPES[int(block[index % len(RECIPE_TYPES)])]
    template = RECIPES[recipe_type]
    verbs = _verb_sequence(rng, template, max_steps)
    n = len(verbs)
    # Off-topic remarks go into slots: 0 = intro, k = the gap before step k, n = outro.
    n_off = min(int(rng.binomial(n, OFF_TOPIC_RATE)), n + 1)
    chat_slots = set(rng.choice(n + 1, size=n_off, replace=False).tolist())

    t = _uniform(rng, *(CHAT_GAP_SECONDS if 0 in chat_slots else (0.5, 1.5)))
    chats: dict[int, tuple[float, float]] = {}  # slot -> (gap start, gap end)
    if 0 in chat_slots:
        chats[0] = (0.0, t)
    steps: list[Step] = []
    for k, verb in enumerate(verbs):
        if k > 0:
            gap = _uniform(rng, *(CHAT_GAP_SECONDS if k in chat_slots else GAP_SECONDS))
            if k in chat_slots:
                chats[k] = (t, t + gap)
            t += gap
        start = _r(t)
        end = _r(start + _uniform(rng, *STEP_SECONDS))
        prefer = rng.random() < 0.7
        noun = (
            template.shapes[int(rng.integers(len(template.shapes)))]
            if prefer
            else SHAPES[int(rng.integers(len(SHAPES)))]
        )
        colour_names = list(COLOURS)
        colour = (
            template.colours[int(rng.integers(len(template.colours)))]
            if rng.random() < 0.7
            else colour_names[int(rng.integers(len(colour_names)))]
        )
        motion = _motion(rng, verb)
        caption = reference_caption(text_rng, verb, colour, noun, motion.get("direction", 1))
        steps.append(Step(k, verb, noun, colour, start, end, caption, **motion))
        t = end
    tail = _uniform(rng, *(CHAT_GAP_SECONDS if n in chat_slots else (0.5, 1.5)))
    if n in chat_slots:
        chats[n] = (t, t + tail)
    duration = _r(t + tail)

    # Narration: one sentence per step, shifted by up to +-1 s, plus off-topic remarks in chat gaps.
    raw: list[tuple[float, float, str, int | None]] = []
    for k, step in enumerate(steps):
        if k in chats:
            g0, g1 = chats[k]
            where = "intro" if k == 0 else "middle"
            raw.append(
                (
                    g0 + (0.2 if k == 0 else 1.0),
                    g1 - 1.0,
                    off_topic_sentence(text_rng, where, recipe_type),
                    None,
                )
            )
        off = _uniform(rng, -1.0, 1.0)
        text = step_narration(text_rng, step.verb, step.colour, step.noun, first=k == 0, last=k == n - 1)
        raw.append((step.start + off, step.end + off, text, k))
    if n in chats:
        g0, g1 = chats[n]
        raw.append((g0 + 1.0, g1 - 0.2, off_topic_sentence(text_rng, "outro", recipe_type), None))
    sentences: list[Sentence] = []
    prev_end = 0.0
    for s0, s1, text, k in raw:
        s0 = min(max(s0, prev_end, 0.0), duration)
        s1 = min(max(s1, s0 + 0.5), duration)
        sentences.append(Sentence(round(s0, 3), round(s1, 3), text, k))
        prev_end = s1
    cues = sentences_to_cues(text_rng, [(s.start, s.end, s.text) for s in sentences])
    return VideoPlan(
        video_id=f"synth{index:04d}",
        index=index,
        recipe_type=recipe_type,
        subset="training",
        duration=duration,
        steps=tuple(steps),
        sentences=tuple(sentences),
        srt=format_srt(cues),
        background=int(rng.integers(len(BACKGROUNDS))),
        texture_seed=int(rng.integers(2**31)),
    )


def plan_corpus(
    n_videos: int, seed: int = 0, subset_split: float = 0.8, max_steps: int | None = None
) -> list[VideoPlan]:
    """Schedules of ``n_videos`` videos (cheap: no pixels). Recipe types are balanced per block of six.

    ``round(subset_split * n)`` videos (chosen by a seeded permutation) are "training", the rest
    "validation"; with two or more videos and ``0 < subset_split < 1`` both subsets are non-empty.
    """
    if n_videos < 1:
        raise VideoBertError(f"synth: need at least one video, got {n_videos}")
    if not 0.0 <= subset_split <= 1.0:
        raise VideoBertError(f"synth: subset_split must be in [0, 1], got {subset_split}")
    plans = [plan_video(i, seed, max_steps=max_steps) for i in range(n_videos)]
    n_train = int(round(subset_split * n_videos))
    if n_videos >= 2 and 0.0 < subset_split < 1.0:
        n_train = min(max(n_train, 1), n_videos - 1)
    order = np.random.default_rng([seed, 3]).permutation(n_videos)
    train = set(order[:n_train].tolist())
    return [
        VideoPlan(**{**_fields(p), "subset": "training" if i in train else "validation"})
        for i, p in enumerate(plans)
    ]


def _fields(plan: VideoPlan) -> dict[str, Any]:
    return {f: getattr(plan, f) for f in VideoPlan.__dataclass_fields__}


def taxonomy() -> dict[str, Any]:
    """Verbs, nouns, colours and recipe types (with their typical verb order) as a JSON-able dict."""
    return {
        "verbs": list(VERBS),
        "nouns": list(SHAPES),
        "colours": list(COLOURS),
        "recipe_types": list(RECIPE_TYPES),
        "recipes": {name: asdict(t) for name, t in RECIPES.items()},
    }


@dataclass
class SynthResult:
    """What :func:`synthesize` made (or found already made)."""

    out_dir: Path
    n_videos: int
    total_duration: float  # seconds
    n_steps: int
    verb_counts: dict[str, int]
    videos: list[Path]
    skipped: bool  # True when a complete corpus with the same parameters was already there
    seconds: float  # wall time of this call

    def summary(self) -> dict[str, Any]:
        """JSON-able summary."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["videos"] = [str(p) for p in self.videos]
        return d


@dataclass
class SynthConfig:
    """Settings of ``videobert synth`` (the keyword arguments of :func:`synthesize`).

    Attributes:
        n_videos: number of videos. seed: the corpus's seed (video i depends on (seed, i) only).
        width, height: frame size in pixels (even). fps: frames per second. codec: a ``CODECS`` name.
        subset_split: fraction of videos in the 'training' subset.
        max_steps_per_video: cap on the recipe steps of a video (short videos for tests); None: none.
        workers: encoding processes. force: regenerate over a corpus made with other settings.
        progress: show a progress bar.
    """

    n_videos: int = DEFAULT_N_VIDEOS
    seed: int = 0
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    fps: float = DEFAULT_FPS
    codec: str = "h264"
    subset_split: float = 0.8
    max_steps_per_video: int | None = None
    workers: int = 1
    force: bool = False
    progress: bool = True


def synthesize(
    out_dir: str | os.PathLike[str],
    n_videos: int = DEFAULT_N_VIDEOS,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: float = DEFAULT_FPS,
    codec: str = "h264",
    subset_split: float = 0.8,
    max_steps_per_video: int | None = None,
    force: bool = False,
    progress: bool = True,
    workers: int = 1,
) -> SynthResult:
    """Generate the corpus into ``out_dir`` (see the module docstring for the layout).

    Resumable: videos whose files exist are kept; when ``out_dir/synth.json`` says a complete corpus
    with the same parameters is there, nothing is done. A folder made with other parameters is an
    error unless ``force`` (then it is regenerated over). ``workers`` > 1 encodes videos in that many
    processes (the bytes do not depend on it).
    """
    from videobert.datasets.synthetic_render import encode_video

    t0 = time.perf_counter()
    if codec not in CODECS:
        raise VideoBertError(f"synth: unknown codec {codec!r}; choose from {sorted(CODECS)}")
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise VideoBertError(f"synth: width and height must be even and >= 32, got {width}x{height}")
    if fps <= 0:
        raise VideoBertError(f"synth: fps must be positive, got {fps}")
    out = Path(out_dir)
    params = {
        "version": PLAN_VERSION,
        "n_videos": n_videos,
        "seed": seed,
        "width": width,
        "height": height,
        "fps": fps,
        "codec": codec,
        "subset_split": subset_split,
        "max_steps": max_steps_per_video,
    }
    meta_path = out / "synth.json"
    plans = plan_corpus(n_videos, seed, subset_split, max_steps_per_video)
    suffix = CODECS[codec][1]
    video_dir = out / "videos"
    paths = [video_dir / f"{p.video_id}{suffix}" for p in plans]

    def result(skipped: bool) -> SynthResult:
        verbs = Counter(s.verb for p in plans for s in p.steps)
        return SynthResult(
            out_dir=out,
            n_videos=len(plans),
            total_duration=round(sum(p.duration for p in plans), 2),
            n_steps=sum(len(p.steps) for p in plans),
            verb_counts={v: verbs.get(v, 0) for v in VERBS},
            videos=paths,
            skipped=skipped,
            seconds=time.perf_counter() - t0,
        )

    if meta_path.exists():
        old = read_json(meta_path)
        same = old.get("params") == params
        if same and old.get("complete") and all(p.exists() for p in paths):
            res = result(True)
            log.info(
                "%s already holds this corpus: %d videos, %.1f min of video, %d steps; nothing to do",
                out,
                res.n_videos,
                res.total_duration / 60,
                res.n_steps,
            )
            return res
        if not same and not force:
            raise VideoBertError(
                f"{meta_path}: this folder holds a corpus made with other parameters "
                f"({old.get('params')}); use another folder or --force"
            )
        if not same:
            for stale in video_dir.glob("synth*.*"):
                stale.unlink()
    atomic_write_json(meta_path, {"params": params, "complete": False})

    for plan, path in zip(plans, paths, strict=True):
        srt_path = path.with_suffix(".srt")
        if not srt_path.exists() or srt_path.read_text(encoding="utf-8") != plan.srt:
            atomic_write_text(srt_path, plan.srt)
    todo = [(plan, path) for plan, path in zip(plans, paths, strict=True) if not path.exists()]
    kwargs = {"width": width, "height": height, "fps": fps, "codec": codec}
    bar = tqdm(total=len(todo), desc="synth", unit="video", disable=not progress)
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(encode_video, path, plan, **kwargs) for plan, path in todo]
            for fut in as_completed(futures):
                fut.result()
                bar.update()
    else:
        for plan, path in todo:
            encode_video(path, plan, **kwargs)
            bar.update()
    bar.close()
    atomic_write_json(out / "annotations.json", {"database": {p.video_id: p.annotation() for p in plans}})
    atomic_write_json(out / "taxonomy.json", taxonomy())
    atomic_write_text(out / "README.txt", _readme(params))
    atomic_write_json(meta_path, {"params": params, "complete": True})
    res = result(False)
    log.info(
        "synth: %d videos, %.1f min of video, %d steps, verbs %s, in %.1f s -> %s",
        res.n_videos,
        res.total_duration / 60,
        res.n_steps,
        res.verb_counts,
        res.seconds,
        out,
    )
    return res


def _readme(params: dict[str, Any]) -> str:
    return (
        "videobert built-in corpus (synthetic narrated 'recipe' videos)\n\n"
        f"parameters: {params}\n"
        "videos/<id>.<ext>   encoded video; videos/<id>.srt  ASR-like narration\n"
        "annotations.json    YouCook2 layout: database[id] = {subset, duration, recipe_type, annotations:"
        " [{id, segment [s, e], sentence, verb, noun, colour}]}\n"
        f"taxonomy.json       verbs {list(VERBS)}, nouns {list(SHAPES)}, colours {list(COLOURS)},"
        f" recipe types {list(RECIPE_TYPES)}\n"
    )
