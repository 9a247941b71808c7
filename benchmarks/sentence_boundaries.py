"""Sentence boundaries from unpunctuated ASR: precision/recall/F1 of the splitter's rules.

Usage::

    python benchmarks/sentence_boundaries.py                     # all sources, layouts, settings
    python benchmarks/sentence_boundaries.py --punctuation DIR   # also a punctuation model
    python benchmarks/sentence_boundaries.py --seeds 5 --layouts howto

Sources of punctuated (sentence-known) text:

* ``narration``: the built-in corpus's narration generator (``videobert.datasets.synthetic_narration``:
  step sentences and off-topic remarks, filler words included), 40 videos of 12-20 sentences.
* ``cooking``: ``benchmarks/data/cooking_narration.txt``, 25 hand-written recipe-video narrations
  (438 sentences, 1-25 words, questions and exclamations), one paragraph per video.

Each video is made ASR-style by :func:`videobert.text.boundaries.asr_style` (lower case, no
punctuation, timed words with overlapping within/between-sentence silence distributions, rolling
2-4 s lines) in three layouts: ``timed`` (word starts and ends), ``youtube`` (word starts only),
``howto`` (HowTo100M lines without word times, overlapping). Boundaries are word indices after
which a sentence ends, scored exactly and within +-1 word, pooled over videos and ``--seeds``
draws of the timing. Baselines from the same draws: fixed chunks of ``target_words`` words, and
one sentence per caption line.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from videobert.datasets.synthetic_narration import off_topic_sentence, step_narration
from videobert.text.boundaries import (
    LAYOUTS,
    AsrSample,
    asr_style,
    fixed_chunk_boundaries,
    kept_index_boundaries,
    micro_scores,
    sentence_boundaries,
    split_punctuated,
    splitter_boundaries,
)
from videobert.text.sentences import SentenceConfig

DATA = Path(__file__).resolve().parent / "data" / "cooking_narration.txt"
VERBS = ("slide", "lift", "drop", "spin", "grow", "shrink", "shake", "blink")
COLOURS = ("red", "green", "blue", "yellow")
NOUNS = ("circle", "square", "triangle", "star", "cross", "diamond")


def narration_videos(n: int, seed: int) -> list[list[str]]:
    """``n`` videos of built-in narration: an intro, 10-16 steps with some off-topic remarks, an outro."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sents = [off_topic_sentence(rng, "intro", "recipe")]
        steps = int(rng.integers(10, 17))
        for k in range(steps):
            v, c, o = (
                VERBS[rng.integers(len(VERBS))],
                COLOURS[rng.integers(len(COLOURS))],
                NOUNS[rng.integers(len(NOUNS))],
            )
            sents.append(step_narration(rng, v, c, o, first=k == 0, last=k == steps - 1))
            if rng.random() < 0.2:
                sents.append(off_topic_sentence(rng, "middle", "recipe"))
        sents.append(off_topic_sentence(rng, "outro", "recipe"))
        out.append(sents)
    return out


def cooking_videos(path: Path = DATA) -> list[list[str]]:
    """The hand-written narrations: one list of punctuated sentences per paragraph."""
    text = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    )
    return [split_punctuated(block) for block in text.split("\n\n") if block.strip()]


def samples(videos: list[list[str]], layout: str, seeds: int) -> list[AsrSample]:
    return [
        asr_style(v, np.random.default_rng([s, k]), layout)
        for s in range(seeds)
        for k, v in enumerate(videos)
    ]


def line_boundaries(sample: AsrSample, cfg: SentenceConfig) -> list[int]:
    """The one-sentence-per-caption-line baseline (over the words the splitter keeps)."""
    return kept_index_boundaries(
        sample.words, sentence_boundaries(len(s.text.split()) for s in sample.segments), cfg.fillers
    )


def settings() -> dict[str, SentenceConfig]:
    base = SentenceConfig()
    return {
        "default": base,
        "no openers": dataclasses.replace(base, openers=()),
        "pause 0.6": dataclasses.replace(base, pause=0.6),
        "pause 0.6, opener 0.2": dataclasses.replace(base, pause=0.6, opener_pause=0.2),
        "pause 1.5": dataclasses.replace(base, pause=1.5),
        "target 15": dataclasses.replace(base, target_words=15),
        "min 2": dataclasses.replace(base, min_words=2),
    }


def fmt(name: str, exact, tol) -> str:
    return (
        f"  {name:<24} P {exact.precision:5.3f}  R {exact.recall:5.3f}  F1 {exact.f1:5.3f}"
        f"   | +-1: P {tol.precision:5.3f}  R {tol.recall:5.3f}  F1 {tol.f1:5.3f}"
    )


def run(sources: dict[str, list[list[str]]], layouts: list[str], seeds: int, punctuation: str | None) -> None:
    configs = settings()
    if punctuation:
        configs["punctuation model"] = SentenceConfig(punctuation=punctuation)
    for src, videos in sources.items():
        n_sent = sum(len(v) for v in videos)
        for layout in layouts:
            data = samples(videos, layout, seeds)
            print(f"{src} / {layout}: {len(videos)} videos x {seeds} seeds, {n_sent * seeds} sentences")
            base = SentenceConfig()
            refs = [splitter_boundaries(s, base)[1] for s in data]
            n_kept = [len([w for w in s.words if w not in base.fillers]) for s in data]
            pairs = [
                (fixed_chunk_boundaries(n, base.target_words), r) for n, r in zip(n_kept, refs, strict=True)
            ]
            print(
                fmt(f"baseline: {base.target_words}-word chunks", micro_scores(pairs), micro_scores(pairs, 1))
            )
            pairs = [(line_boundaries(s, base), r) for s, r in zip(data, refs, strict=True)]
            print(fmt("baseline: caption lines", micro_scores(pairs), micro_scores(pairs, 1)))
            for name, cfg in configs.items():
                t0 = time.perf_counter()
                pairs = [splitter_boundaries(s, cfg) for s in data]
                dt = time.perf_counter() - t0
                print(fmt(name, micro_scores(pairs), micro_scores(pairs, 1)) + f"   ({dt:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sources", nargs="+", default=["narration", "cooking"], choices=["narration", "cooking"]
    )
    ap.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    ap.add_argument("--seeds", type=int, default=3, help="timing draws per video")
    ap.add_argument(
        "--punctuation", default=None, help="a punctuation model (folder or hub name) to score too"
    )
    args = ap.parse_args()
    sources = {}
    if "narration" in args.sources:
        sources["narration"] = narration_videos(40, seed=0)
    if "cooking" in args.sources:
        sources["cooking"] = cooking_videos()
    run(sources, args.layouts, args.seeds, args.punctuation)


if __name__ == "__main__":
    main()
