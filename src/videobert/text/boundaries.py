"""Measuring sentence splitting: boundary precision/recall, and ASR-style input made from
punctuated text.

A *boundary* is the index ``k`` of a word after which a sentence ends; the end of the transcript is
not counted (it is always a boundary). :func:`boundary_scores` matches predicted to reference
boundaries one to one (each reference boundary matches at most one prediction and the other way
round), exactly (``tolerance=0``) or within ``tolerance`` words.

:func:`asr_style` turns punctuated sentences into what YouTube ASR gives: lower case, punctuation
removed, every word timed at a speaking rate, silences drawn from distributions that overlap
within and between sentences (sentence ends are often not followed by a pause, and hesitations
inside a sentence are), cut into rolling caption lines of ~2-4 s that ignore sentence boundaries.
``layout`` says what the transcript file would give the splitter:

* ``"timed"``: per-word start and end (ASR with word times, e.g. Whisper output stripped of
  punctuation).
* ``"youtube"``: per-word start times only, as in YouTube's inline ``<00:00:01.230><c>`` tags: a
  word's end is the next word's start (a silence is folded into the word before it), and a line's
  last word ends when the line does.
* ``"howto"``: HowTo100M ``caption.json``: lines without word times, each shown until the line
  after the next starts (lines overlap in time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from videobert.text.sentences import Sentence, SentenceConfig, segments_to_sentences
from videobert.text.transcripts import Segment, TimedWord

LAYOUTS: tuple[str, ...] = ("timed", "youtube", "howto")
_SENT_END_RE = re.compile(r"(?<=[.?!])[\"')\]]*\s+")


@dataclass(frozen=True)
class BoundaryScores:
    """Precision, recall and F1 of predicted sentence boundaries (counts of boundaries)."""

    precision: float
    recall: float
    f1: float
    matched: int
    n_pred: int
    n_ref: int


def boundary_scores(pred: Iterable[int], ref: Iterable[int], tolerance: int = 0) -> BoundaryScores:
    """Score predicted boundary word indices against reference ones (one-to-one matching within
    ``tolerance`` words). Empty sets score 1.0 (nothing to find, nothing wrongly found)."""
    p, r = sorted(set(pred)), sorted(set(ref))
    i = j = matched = 0
    while i < len(p) and j < len(r):  # greedy two-pointer matching is maximal for interval tolerance
        if abs(p[i] - r[j]) <= tolerance:
            matched += 1
            i += 1
            j += 1
        elif p[i] < r[j]:
            i += 1
        else:
            j += 1
    precision = matched / len(p) if p else 1.0
    recall = matched / len(r) if r else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BoundaryScores(precision, recall, f1, matched, len(p), len(r))


def sentence_boundaries(lengths: Iterable[int]) -> list[int]:
    """Boundaries of consecutive sentences of ``lengths`` words (the last one's end left out)."""
    out, k = [], 0
    for n in lengths:
        k += int(n)
        out.append(k - 1)
    return out[:-1]


def predicted_boundaries(sentences: Sequence[Sentence]) -> list[int]:
    """Boundaries of the splitter's output (word counts of consecutive sentences)."""
    return sentence_boundaries(s.n_words for s in sentences)


def split_punctuated(text: str) -> list[str]:
    """Punctuated prose -> sentences (cut after ``.``, ``?``, ``!`` followed by white space)."""
    return [s.strip() for s in _SENT_END_RE.split(" ".join(text.split())) if s.strip()]


def asr_words(sentence: str) -> list[str]:
    """A sentence as YouTube ASR writes it: lower case, no punctuation (apostrophes kept, hyphens
    split words)."""
    s = sentence.lower().replace("-", " ")
    s = re.sub(r"[^\w' ]+", " ", s)
    return [w.strip("'") for w in s.split() if w.strip("'")]


@dataclass(frozen=True)
class AsrSample:
    """ASR-style input made from punctuated sentences: the segments, the words in order and the
    reference boundaries (word indices)."""

    segments: list[Segment]
    words: list[str]
    boundaries: list[int]


def asr_style(
    sentences: Sequence[str],
    rng: np.random.Generator,
    layout: str = "timed",
    line_seconds: tuple[float, float] = (2.0, 4.0),
    line_chars: int = 42,
) -> AsrSample:
    """Time the words of ``sentences`` as one speaker says them and cut them into caption lines.

    Speaking rate: a speaker factor in [0.8, 1.25]; a word lasts ``(0.10 + 0.055 * chars)`` s times
    that factor and a log-normal jitter (sigma 0.25), i.e. ~2.5-3 words/s with the silences.
    Silences (s) after a word inside a sentence: none (55%), short (log-normal, median 0.12 s, 38%)
    or a hesitation (median 0.5 s, 7%). After a sentence: run on like a word inside one (25%), else
    log-normal with median 0.45 s (sigma 0.6): about a third of sentence ends have less than 0.3 s
    of silence, and about 1 in 12 hesitations has more than 1 s. All silences scale with a
    per-speaker factor in [0.7, 1.4]. Times are rounded to 10 ms.

    Lines: words are added to a line until it lasts ``line_seconds`` (a target drawn uniformly per
    line) or would exceed ``line_chars`` characters.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    rate = rng.uniform(0.8, 1.25)
    pause_scale = rng.uniform(0.7, 1.4)

    def inner_gap() -> float:
        r = rng.random()
        if r < 0.55:
            return 0.0
        if r < 0.93:
            return float(rng.lognormal(np.log(0.12), 0.5))
        return float(rng.lognormal(np.log(0.5), 0.5))

    words: list[str] = []
    times: list[tuple[float, float]] = []
    lengths: list[int] = []
    t = float(rng.uniform(0.0, 2.0))
    for sent in sentences:
        ws = asr_words(sent)
        if not ws:
            continue
        lengths.append(len(ws))
        for k, w in enumerate(ws):
            dur = (0.10 + 0.055 * len(w)) * rate * float(rng.lognormal(0.0, 0.25))
            times.append((round(t, 2), round(t + dur, 2)))
            words.append(w)
            t += dur
            if k + 1 < len(ws):
                t += inner_gap() * pause_scale
        t += (inner_gap() if rng.random() < 0.25 else float(rng.lognormal(np.log(0.45), 0.6))) * pause_scale
    lines: list[list[int]] = []
    k = 0
    while k < len(words):
        target = rng.uniform(*line_seconds)
        line = [k]
        k += 1
        while k < len(words):
            chars = sum(len(words[i]) + 1 for i in line) + len(words[k])
            if times[k][1] - times[line[0]][0] > target or chars > line_chars:
                break
            line.append(k)
            k += 1
        lines.append(line)
    segments: list[Segment] = []
    for j, line in enumerate(lines):
        text = " ".join(words[i] for i in line)
        start = times[line[0]][0]
        if layout == "howto":
            end = lines[j + 2][0] if j + 2 < len(lines) else None
            seg_end = times[end][0] if end is not None else times[line[-1]][1] + 0.5
            segments.append(Segment(start, round(seg_end, 2), text))
            continue
        line_end = times[lines[j + 1][0]][0] if j + 1 < len(lines) else times[line[-1]][1]
        if layout == "timed":
            tw = tuple(TimedWord(times[i][0], times[i][1], words[i]) for i in line)
        else:  # youtube: starts only
            starts = [times[i][0] for i in line] + [line_end]
            tw = tuple(TimedWord(starts[q], starts[q + 1], words[i]) for q, i in enumerate(line))
        segments.append(Segment(start, line_end if layout == "youtube" else times[line[-1]][1], text, tw))
    return AsrSample(segments, words, sentence_boundaries(lengths))


def fixed_chunk_boundaries(n_words: int, size: int) -> list[int]:
    """The fixed-length baseline: a boundary every ``size`` words."""
    return list(range(size - 1, n_words - 1, size))


def kept_index_boundaries(
    words: Sequence[str], boundaries: Iterable[int], dropped: Iterable[str]
) -> list[int]:
    """Reference boundaries re-indexed over the words the splitter keeps (``dropped``: filler words
    it removes), so that they compare with :func:`predicted_boundaries`."""
    drop = {d.lower() for d in dropped}
    kept_before = np.cumsum([w.lower() not in drop for w in words])
    return sorted(
        {int(kept_before[b]) - 1 for b in boundaries if kept_before[b] > 0} - {int(kept_before[-1]) - 1}
    )


def splitter_boundaries(sample: AsrSample, cfg: SentenceConfig) -> tuple[list[int], list[int]]:
    """Run :func:`segments_to_sentences` on ``sample``: (predicted, reference) boundaries, both over
    the words the splitter keeps. Raises ``AssertionError`` if it lost, repeated or reordered a word."""
    sents = segments_to_sentences(sample.segments, cfg)
    dropped = cfg.fillers if cfg.drop_fillers else ()
    kept = [w for w in sample.words if w.lower() not in {d.lower() for d in dropped}]
    out = [w for s in sents for w in s.text.split()]
    assert out == kept, "the splitter must keep every word once, in order"
    return predicted_boundaries(sents), kept_index_boundaries(sample.words, sample.boundaries, dropped)


def micro_scores(pairs: Iterable[tuple[Sequence[int], Sequence[int]]], tolerance: int = 0) -> BoundaryScores:
    """Pooled scores over many transcripts: ``pairs`` of (predicted, reference) boundaries."""
    matched = n_pred = n_ref = 0
    for pred, ref in pairs:
        s = boundary_scores(pred, ref, tolerance)
        matched, n_pred, n_ref = matched + s.matched, n_pred + s.n_pred, n_ref + s.n_ref
    precision = matched / n_pred if n_pred else 1.0
    recall = matched / n_ref if n_ref else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BoundaryScores(precision, recall, f1, matched, n_pred, n_ref)
