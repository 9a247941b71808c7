"""Timed caption segments -> timed sentences.

ASR cues are neither sentences nor reliably punctuated. The rules, in order:

1. **Words and their times.** A segment with ``Segment.words`` (YouTube auto-captions, Whisper)
   gives each word its own ``[start, end)``; silences between words are then real, inside a cue
   as well as between cues. A segment without them spreads its words evenly over its span by
   position (word ``k`` of ``n`` over ``[s, e)`` gets ``[s + (e-s)*k/n, s + (e-s)*(k+1)/n)``),
   where ``e`` is cut back to the next cue's start when cues overlap (HowTo100M's rolling lines:
   the display end is not the speech end). A cue that starts no later than 50 ms after the
   previous one ends and begins with that whole cue's words (rolling display) loses the repeat; a timed word equal to one of the last few kept words within 50 ms is the same word
   shown twice and is dropped. Times are then made monotonic: a word's start is never before the
   previous word's, a word's end is cut back to the next word's start, so no silence is negative.
   Words timed by their starts only (YouTube: each lasts until the next begins, at least 90% of
   neighbours touch) are cut back to 1.5x the duration their length predicts (the transcript's
   median seconds per character), so a silence folded into a word shows as silence.
   Filler words (``SentenceConfig.fillers``) are dropped when ``drop_fillers`` (their time becomes
   silence).
2. **Where sentences end.**

   * *Punctuated* text (words ending in ``.``, ``?`` or ``!``, not counting abbreviations such as
     ``Mr.``, at least one per ``2 * max_words`` words, so a stray ``p.m.`` in ASR does not count):
     cut after those words.
   * *Unpunctuated* text with ``SentenceConfig.punctuation`` set: the punctuation model
     (:mod:`videobert.text.punctuation`) marks the words that end a sentence; a silence of at least
     ``max_merge_gap`` seconds also ends one (the text model cannot hear it).
   * *Unpunctuated* text otherwise, the timing-aware rules: the *strength* of the boundary before
     word ``i`` is the silence before it, plus ``pause - opener_pause`` when word ``i`` (or words
     ``i, i+1``) is a sentence opener (``openers``: "so", "now", "okay", "next", "and then", ...).
     A boundary of strength at least ``pause`` ends a sentence: a silence of ``pause`` seconds, or
     one of ``opener_pause`` before an opener. A run still longer than ``target_words`` is cut
     further at its strongest candidate (ties: a cue start, then nearest the middle) while every
     part keeps at least ``min_words`` words; candidates are cue starts, openers and (with real
     word times) every word. Without word times the only evidence inside a long run is the cue
     starts (ASR cues often are sentences) and the openers.
3. **Lengths.** Pieces shorter than ``min_words`` are merged with the neighbour across the shorter
   silence (not across a silence longer than ``max_merge_gap`` seconds); pieces longer than
   ``max_words`` are cut recursively at their strongest internal boundary (ties: nearest the
   middle), never leaving a part shorter than ``min_words`` when that can be avoided.

A sentence's time span is from its first word's start to its last word's end; its text is its
words joined by spaces, as written in the transcript (no punctuation is inserted).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from videobert.text.transcripts import Segment

_TERMINAL_RE = re.compile(r"[.?!]+[\"')\]]*$")
_STRIP = ",.;:?!\"'()[]"
#: Words ending in "." that do not end a sentence.
_ABBREVIATIONS = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "approx.", "no.", "tbsp.", "tsp.", "oz."}
)
_SAME_WORD_S = 0.05  # timed words this close with the same text are one word shown twice
_STRETCH = 1.5  # a start-timed word longer than this many times its expected length holds a silence
_ROLL_S = 0.05  # a cue starting this soon after the previous one ends may repeat its last words

DEFAULT_OPENERS: tuple[str, ...] = (
    "so", "now", "okay", "ok", "alright", "next", "then", "first", "finally", "and then", "after that",
    "once", "let's", "hi", "hey", "hello", "today", "well", "right so",
)  # fmt: skip


@dataclass
class SentenceConfig:
    """How ASR cues become sentences (word counts after filler removal; times in seconds).

    Attributes:
        min_words: shortest sentence in words (shorter pieces merge with a neighbour).
        max_words: longest sentence in words (longer ones are split).
        target_words: length aimed at when a long unpunctuated run is split.
        pause: silence (s) that ends an unpunctuated sentence.
        opener_pause: silence (s) that ends an unpunctuated sentence when the next word is an opener.
        openers: words (or two-word phrases) that usually open a sentence in spoken instructions.
        max_merge_gap: largest silence (s) a short piece is merged across.
        drop_fillers: remove filler words (``fillers``) before counting.
        fillers: the filler words.
        punctuation: a token-classification punctuation model (local folder or hub name) used on
            unpunctuated text; None: the timing-aware rules.
        punctuation_ends: the model labels that end a sentence (see videobert.text.punctuation).
        punctuation_batch_size: model windows per forward pass.
        punctuation_window: most words per model window.
        punctuation_overlap: words shared by neighbouring model windows.
        punctuation_device: torch device of the model (None: CUDA when available).
    """

    min_words: int = 4
    max_words: int = 25
    target_words: int = 10
    pause: float = 1.0
    opener_pause: float = 0.3
    openers: tuple[str, ...] = DEFAULT_OPENERS
    max_merge_gap: float = 3.0
    drop_fillers: bool = True
    fillers: tuple[str, ...] = ("uh", "um", "umm", "er", "erm", "ah", "hmm", "mm", "uhm")
    punctuation: str | None = None
    punctuation_ends: tuple[str, ...] = (".", "?", "!", "PERIOD", "QUESTION", "EXCLAMATION")
    punctuation_batch_size: int = 8
    punctuation_window: int = 150
    punctuation_overlap: int = 20
    punctuation_device: str | None = None

    def __post_init__(self) -> None:
        if self.min_words < 1 or self.max_words < self.min_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {self.min_words} and {self.max_words}")
        if self.pause < 0 or self.max_merge_gap < 0 or not 0 <= self.opener_pause <= self.pause:
            raise ValueError("pause, opener_pause and max_merge_gap are seconds >= 0, opener_pause <= pause")


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``[start, end)`` seconds, its text and its word count."""

    start: float
    end: float
    text: str

    @property
    def n_words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class _Word:
    start: float
    end: float
    text: str
    cue_start: bool = False  # first kept word of a caption cue
    timed: bool = False  # its time is its own (Segment.words), not interpolated


def _bare(tok: str) -> str:
    return tok.strip(_STRIP).lower()


def _cue_tokens(segments: Sequence[Segment]) -> list[list[tuple[float, float, str, bool]]]:
    """Per cue, its ``(start, end, text, timed)`` tokens with times (rule 1, before fillers)."""
    cues: list[list[tuple[float, float, str, bool]]] = []
    prev_words: list[str] = []
    prev_end = float("-inf")
    for j, seg in enumerate(segments):
        if seg.words:
            toks: list[tuple[float, float, str, bool]] = []
            for w in seg.words:
                parts = w.text.split()
                dur = max(w.end - w.start, 0.0)
                for k, p in enumerate(parts):
                    toks.append(
                        (w.start + dur * k / len(parts), w.start + dur * (k + 1) / len(parts), p, True)
                    )
            cues.append(toks)
            prev_words, prev_end = [t[2] for t in toks], max(prev_end, seg.end)
            continue
        words = seg.text.split()
        k = len(prev_words)
        if (
            k
            and seg.start <= prev_end + _ROLL_S
            and [_bare(x) for x in words[:k]] == [_bare(x) for x in prev_words]
        ):
            words = words[k:]  # rolling display: the cue repeats the whole previous line first
        end = seg.end
        nxt = next((s.start for s in segments[j + 1 :] if s.start > seg.start), None)
        if nxt is not None and nxt < end:
            end = nxt
        dur = max(end - seg.start, 0.0)
        n = len(words)
        cues.append(
            [(seg.start + dur * k / n, seg.start + dur * (k + 1) / n, t, False) for k, t in enumerate(words)]
        )
        prev_words = seg.text.split()
        prev_end = max(prev_end, seg.end)
    return cues


def _words(segments: Sequence[Segment], cfg: SentenceConfig) -> list[_Word]:
    fillers = {f.lower() for f in cfg.fillers} if cfg.drop_fillers else set()
    flat: list[tuple[float, int, int, tuple[float, float, str, bool], bool]] = []
    for c, toks in enumerate(_cue_tokens(segments)):
        for k, tok in enumerate(toks):
            flat.append((tok[0], c, k, tok, k == 0))
    flat.sort(key=lambda x: (x[0], x[1], x[2]))  # timed words of overlapping cues interleave by time
    out: list[_Word] = []
    pending_cue_start = False
    for _, _, _, (start, end, text, timed), first in flat:
        pending_cue_start = pending_cue_start or first
        if timed and any(
            w.timed and _bare(w.text) == _bare(text) and abs(w.start - start) <= _SAME_WORD_S
            for w in out[-4:]
        ):
            continue
        if _bare(text) in fillers:
            # keep a sentence terminal that was attached to a filler ("so um.")
            if _TERMINAL_RE.search(text) and out and not _TERMINAL_RE.search(out[-1].text):
                last = out[-1]
                out[-1] = _Word(last.start, last.end, last.text + ".", last.cue_start, last.timed)
            continue
        if out:
            start = max(start, out[-1].start)
            if out[-1].end > start:
                last = out[-1]
                out[-1] = _Word(last.start, start, last.text, last.cue_start, last.timed)
        out.append(_Word(start, max(end, start), text, pending_cue_start, timed))
        pending_cue_start = False
    return _unfold_silences(out)


def _unfold_silences(words: list[_Word]) -> list[_Word]:
    """Words timed by their starts only (YouTube's inline tags: each word lasts until the next
    starts) hide silences inside word durations. When at least 90% of consecutive timed words
    touch, a word is cut back to ``_STRETCH`` times the duration expected from its length (the
    transcript's median seconds per character + 2), so the rest shows as silence."""
    pairs = [(a, b) for a, b in zip(words, words[1:], strict=False) if a.timed and b.timed]
    if len(pairs) < 5 or sum(abs(b.start - a.end) < 1e-3 for a, b in pairs) < 0.9 * len(pairs):
        return words
    per_char = float(np.median([(w.end - w.start) / (len(w.text) + 2) for w in words if w.timed]))
    out = []
    for w in words:
        longest = _STRETCH * per_char * (len(w.text) + 2)
        out.append(
            dataclasses.replace(w, end=w.start + longest) if w.timed and w.end - w.start > longest else w
        )
    return out


def _gap(words: list[_Word], i: int) -> float:
    """Silence between word ``i-1`` and word ``i`` (seconds, >= 0)."""
    return max(0.0, words[i].start - words[i - 1].end)


@lru_cache(maxsize=8)
def _opener_set(openers: tuple[str, ...]) -> frozenset[str]:
    return frozenset(" ".join(o.lower().split()) for o in openers)


def _is_opener(words: list[_Word], i: int, cfg: SentenceConfig) -> bool:
    openers = _opener_set(tuple(cfg.openers))
    one = _bare(words[i].text)
    two = f"{one} {_bare(words[i + 1].text)}" if i + 1 < len(words) else one
    return one in openers or two in openers


def _strength(words: list[_Word], i: int, cfg: SentenceConfig) -> float:
    """Evidence (in seconds of silence) for a sentence boundary before word ``i``."""
    return _gap(words, i) + ((cfg.pause - cfg.opener_pause) if _is_opener(words, i, cfg) else 0.0)


def _best_cut(words: list[_Word], cands: Sequence[int], cfg: SentenceConfig) -> int:
    mid = len(words) / 2
    return max(cands, key=lambda i: (round(_strength(words, i, cfg), 6), words[i].cue_start, -abs(i - mid)))


def _split_long(words: list[_Word], cfg: SentenceConfig) -> list[list[_Word]]:
    n = len(words)
    if n <= cfg.max_words:
        return [words]
    lo = max(1, min(cfg.min_words, n // 2))
    best = _best_cut(words, range(lo, n - lo + 1), cfg)
    return _split_long(words[:best], cfg) + _split_long(words[best:], cfg)


def _split_run(words: list[_Word], cfg: SentenceConfig) -> list[list[_Word]]:
    """Cut a run longer than ``target_words`` at its strongest candidate (cue starts, openers, timed
    words), keeping every part at least ``min_words`` long."""
    n = len(words)
    if n <= cfg.target_words:
        return [words]
    cands = [
        i
        for i in range(cfg.min_words, n - cfg.min_words + 1)
        if words[i].cue_start or (words[i].timed and words[i - 1].timed) or _is_opener(words, i, cfg)
    ]
    if not cands:
        return [words]
    best = _best_cut(words, cands, cfg)
    return _split_run(words[:best], cfg) + _split_run(words[best:], cfg)


def _merge_short(pieces: list[list[_Word]], cfg: SentenceConfig) -> list[list[_Word]]:
    pieces = [p for p in pieces if p]
    changed = True
    while changed and len(pieces) > 1:
        changed = False
        for k, piece in enumerate(pieces):
            if len(piece) >= cfg.min_words:
                continue
            left_gap = pieces[k][0].start - pieces[k - 1][-1].end if k > 0 else float("inf")
            right_gap = pieces[k + 1][0].start - pieces[k][-1].end if k + 1 < len(pieces) else float("inf")
            if min(left_gap, right_gap) > cfg.max_merge_gap:
                continue
            if left_gap <= right_gap:
                pieces[k - 1] = pieces[k - 1] + piece
            else:
                pieces[k + 1] = piece + pieces[k + 1]
            del pieces[k]
            changed = True
            break
    return pieces


def _ends_sentence(tok: str) -> bool:
    return bool(_TERMINAL_RE.search(tok)) and tok.lower().strip("\"')]") not in _ABBREVIATIONS


def is_punctuated(texts: Sequence[str], max_words: int = 25) -> bool:
    """Whether words ``texts`` carry sentence punctuation: at least one sentence-ending word per
    ``2 * max_words`` words (at least one in all)."""
    ends = sum(1 for t in texts if _ends_sentence(t))
    return ends >= 1 and ends * 2 * max_words >= len(texts)


def _cut_flags(words: list[_Word], cfg: SentenceConfig) -> tuple[list[bool], bool]:
    """``flags[i]``: a sentence ends before word ``i`` (rule 2); and whether the timing rules decided."""
    texts = [w.text for w in words]
    n = len(words)
    if is_punctuated(texts, cfg.max_words):
        return [False] + [_ends_sentence(texts[i - 1]) for i in range(1, n)], False
    if cfg.punctuation:
        from videobert.text.punctuation import load_punctuation_model

        model = load_punctuation_model(
            cfg.punctuation,
            device=cfg.punctuation_device,
            ends=cfg.punctuation_ends,
            window=cfg.punctuation_window,
            overlap=cfg.punctuation_overlap,
            batch_size=cfg.punctuation_batch_size,
        )
        ends = model.sentence_ends([w.text.strip(_STRIP) or w.text for w in words])
        return [False] + [ends[i - 1] or _gap(words, i) >= cfg.max_merge_gap for i in range(1, n)], False
    return [False] + [_strength(words, i, cfg) >= cfg.pause for i in range(1, n)], True


def _words_to_sentences(words: list[_Word], cfg: SentenceConfig) -> list[Sentence]:
    """Rules 2 and 3 over prepared words (see the module docstring)."""
    if not words:
        return []
    flags, timing_rules = _cut_flags(words, cfg)
    pieces: list[list[_Word]] = []
    for i, w in enumerate(words):
        if i == 0 or flags[i]:
            pieces.append([w])
        else:
            pieces[-1].append(w)
    if timing_rules:
        pieces = [part for piece in pieces for part in _split_run(piece, cfg)]
    pieces = _merge_short(pieces, cfg)
    out: list[Sentence] = []
    for piece in pieces:
        for part in _split_long(piece, cfg):
            out.append(Sentence(part[0].start, part[-1].end, " ".join(w.text for w in part)))
    return out


def segments_to_sentences(segments: Sequence[Segment], cfg: SentenceConfig | None = None) -> list[Sentence]:
    """Split/merge time-ordered caption segments into sentences (see the module docstring)."""
    cfg = cfg or SentenceConfig()
    ordered = sorted(segments, key=lambda s: (s.start, s.end))
    return _words_to_sentences(_words(ordered, cfg), cfg)
