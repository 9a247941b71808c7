"""Timed caption segments -> timed sentences.

ASR cues are neither sentences nor reliably punctuated. The rules:

1. Every cue is split into words; word ``k`` of a cue with ``n`` words spoken over ``[s, e)`` is
   given the time ``[s + (e-s)*k/n, s + (e-s)*(k+1)/n)`` (linear interpolation by word position).
   Filler words (``SentenceConfig.fillers``) are dropped when ``drop_fillers``.
2. Punctuated text (at least one word ending in ``.``, ``?`` or ``!``) is cut after those words.
   Unpunctuated text is cut wherever the silence between two consecutive words is at least
   ``pause`` seconds (only cue boundaries can have silence); a run still longer than
   ``target_words`` is cut further at cue starts (longest silence first, then nearest the middle)
   while every part keeps at least ``min_words`` words (ASR cues often are sentences).
3. Pieces shorter than ``min_words`` are merged with the neighbour across the shorter silence
   (not across a silence longer than ``max_merge_gap`` seconds); pieces longer than ``max_words``
   are cut recursively at their longest internal silence (ties: nearest the middle), never
   leaving a part shorter than ``min_words`` when that can be avoided.

A sentence's time span is from its first word's start to its last word's end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from videobert.text.transcripts import Segment

_TERMINAL_RE = re.compile(r"[.?!]+[\"')\]]*$")


@dataclass
class SentenceConfig:
    """How ASR cues become sentences (word counts after filler removal; times in seconds).

    Attributes:
        min_words: shortest sentence in words (shorter pieces merge with a neighbour).
        max_words: longest sentence in words (longer ones are split).
        target_words: length aimed at when a long unpunctuated run is split.
        pause: silence (s) that ends an unpunctuated sentence.
        max_merge_gap: largest silence (s) a short piece is merged across.
        drop_fillers: remove filler words (``fillers``) before counting.
        fillers: the filler words.
    """

    min_words: int = 4
    max_words: int = 25
    target_words: int = 10
    pause: float = 1.0
    max_merge_gap: float = 3.0
    drop_fillers: bool = True
    fillers: tuple[str, ...] = ("uh", "um", "umm", "er", "erm", "ah", "hmm", "mm", "uhm")

    def __post_init__(self) -> None:
        if self.min_words < 1 or self.max_words < self.min_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {self.min_words} and {self.max_words}")
        if self.pause < 0 or self.max_merge_gap < 0:
            raise ValueError("pause and max_merge_gap are seconds >= 0")


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


def _words(segments: Sequence[Segment], cfg: SentenceConfig) -> list[_Word]:
    fillers = {f.lower() for f in cfg.fillers} if cfg.drop_fillers else set()
    out: list[_Word] = []
    for seg in segments:
        toks = seg.text.split()
        n = len(toks)
        dur = max(seg.end - seg.start, 0.0)
        first = True
        for k, tok in enumerate(toks):
            bare = tok.strip(",.;:?!\"'()").lower()
            if bare in fillers:
                # keep a sentence terminal that was attached to a filler ("so um.")
                if _TERMINAL_RE.search(tok) and out:
                    last = out[-1]
                    if not _TERMINAL_RE.search(last.text):
                        out[-1] = _Word(last.start, last.end, last.text + ".", last.cue_start)
                continue
            out.append(_Word(seg.start + dur * k / n, seg.start + dur * (k + 1) / n, tok, first))
            first = False
    return out


def _gap(words: list[_Word], i: int) -> float:
    """Silence between word ``i-1`` and word ``i`` (seconds, >= 0)."""
    return max(0.0, words[i].start - words[i - 1].end)


def _split_long(words: list[_Word], cfg: SentenceConfig) -> list[list[_Word]]:
    n = len(words)
    if n <= cfg.max_words:
        return [words]
    lo = min(cfg.min_words, n // 2)
    cands = range(max(1, lo), n - max(1, lo) + 1)
    mid = n / 2
    best = max(cands, key=lambda i: (round(_gap(words, i), 6), -abs(i - mid)))
    return _split_long(words[:best], cfg) + _split_long(words[best:], cfg)


def _split_at_cues(words: list[_Word], cfg: SentenceConfig) -> list[list[_Word]]:
    """Cut a run longer than ``target_words`` at cue starts (longest silence first, then nearest
    the middle), keeping every part at least ``min_words`` long."""
    n = len(words)
    if n <= cfg.target_words:
        return [words]
    cands = [i for i in range(cfg.min_words, n - cfg.min_words + 1) if words[i].cue_start]
    if not cands:
        return [words]
    mid = n / 2
    best = max(cands, key=lambda i: (round(_gap(words, i), 6), -abs(i - mid)))
    return _split_at_cues(words[:best], cfg) + _split_at_cues(words[best:], cfg)


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


def segments_to_sentences(segments: Sequence[Segment], cfg: SentenceConfig | None = None) -> list[Sentence]:
    """Split/merge time-ordered caption segments into sentences (see the module docstring)."""
    cfg = cfg or SentenceConfig()
    words = _words(sorted(segments, key=lambda s: (s.start, s.end)), cfg)
    if not words:
        return []
    punctuated = any(_TERMINAL_RE.search(w.text) for w in words)
    pieces: list[list[_Word]] = [[words[0]]]
    for i in range(1, len(words)):
        if punctuated:
            boundary = bool(_TERMINAL_RE.search(words[i - 1].text))
        else:
            boundary = _gap(words, i) >= cfg.pause
        if boundary:
            pieces.append([words[i]])
        else:
            pieces[-1].append(words[i])
    if not punctuated:
        pieces = [part for piece in pieces for part in _split_at_cues(piece, cfg)]
    pieces = _merge_short(pieces, cfg)
    out: list[Sentence] = []
    for piece in pieces:
        for part in _split_long(piece, cfg):
            out.append(Sentence(part[0].start, part[-1].end, " ".join(w.text for w in part)))
    return out
