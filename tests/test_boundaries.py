"""Boundary precision/recall, ASR-style input from punctuated text, and the rules vs a baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videobert.text.boundaries import (
    asr_style,
    asr_words,
    boundary_scores,
    fixed_chunk_boundaries,
    kept_index_boundaries,
    micro_scores,
    sentence_boundaries,
    split_punctuated,
    splitter_boundaries,
)
from videobert.text.sentences import SentenceConfig

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "cooking_narration.txt"


def test_boundary_scores_hand_computed() -> None:
    # reference sentences of 3, 4, 6, 3 words end after words 2, 6, 12 (the last end is not counted)
    ref = sentence_boundaries([3, 4, 6, 3])
    assert ref == [2, 6, 12]
    pred = [2, 5, 9]
    exact = boundary_scores(pred, ref)
    assert (exact.matched, exact.precision, exact.recall) == (1, pytest.approx(1 / 3), pytest.approx(1 / 3))
    near = boundary_scores(pred, ref, tolerance=1)  # 2-2 and 5-6 match, 9 is 3 words from 12
    assert (near.matched, near.precision, near.recall, near.f1) == (2, 2 / 3, 2 / 3, pytest.approx(2 / 3))
    # one to one: two predictions next to one reference boundary count once
    s = boundary_scores([4, 5], [5], tolerance=1)
    assert (s.matched, s.precision, s.recall, s.f1) == (1, 0.5, 1.0, pytest.approx(2 / 3))
    assert boundary_scores([], []).f1 == 1.0 and boundary_scores([3], []).precision == 0.0
    pooled = micro_scores([([2], [2]), ([1, 4], [3])])  # 1 of 3 predictions, 1 of 2 references
    assert (pooled.precision, pooled.recall) == (pytest.approx(1 / 3), 0.5)
    assert fixed_chunk_boundaries(25, 10) == [9, 19]
    # fillers the splitter drops shift the word indices: "so um | then" -> boundary after "so"
    assert kept_index_boundaries(["so", "um", "then", "we", "go"], [1, 3], ["um"]) == [0, 2]


def test_asr_style_input_from_punctuated_text() -> None:
    sents = split_punctuated("Add the salt. Is it hot? Yes! Stir-fry the onions, don't burn them.")
    assert sents == ["Add the salt.", "Is it hot?", "Yes!", "Stir-fry the onions, don't burn them."]
    assert asr_words(sents[3]) == ["stir", "fry", "the", "onions", "don't", "burn", "them"]
    for layout in ("timed", "youtube", "howto"):
        s = asr_style(sents * 5, np.random.default_rng(0), layout)
        assert s.boundaries == sentence_boundaries([3, 3, 1, 7] * 5)
        assert " ".join(seg.text for seg in s.segments).split() == s.words
        assert all(seg.text == seg.text.lower() and "." not in seg.text for seg in s.segments)
        durations = [seg.end - seg.start for seg in s.segments]
        assert max(durations) < 9.0 and len(s.segments) >= 5
        if layout == "howto":
            assert not any(seg.words for seg in s.segments)
            assert any(b.start < a.end for a, b in zip(s.segments, s.segments[1:], strict=False))  # overlapping
        else:
            tw = [w for seg in s.segments for w in seg.words]
            assert [w.text for w in tw] == s.words
            assert all(b.start >= a.start for a, b in zip(tw, tw[1:], strict=False))
            touching = sum(abs(b.start - a.end) < 1e-9 for a, b in zip(tw, tw[1:], strict=False))
            assert (touching == len(tw) - 1) == (layout == "youtube")
    # sentence-final silences are not a clean signal: some sentence ends have less silence than
    # some pauses inside sentences
    s = asr_style(split_punctuated(DATA.read_text().split("\n\n")[1]) * 2, np.random.default_rng(1), "timed")
    tw = [w for seg in s.segments for w in seg.words]
    gaps = np.array([b.start - a.end for a, b in zip(tw, tw[1:], strict=False)])
    at_end = np.zeros(len(gaps), bool)
    at_end[s.boundaries] = True
    assert gaps[at_end].min() < 0.3 < gaps[~at_end].max()


def _cooking(n: int) -> list[list[str]]:
    text = "\n".join(line for line in DATA.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return [split_punctuated(b) for b in text.split("\n\n") if b.strip()][:n]


@pytest.mark.parametrize("layout", ["timed", "youtube", "howto"])
def test_rules_beat_fixed_chunks_on_f1(layout: str) -> None:
    cfg = SentenceConfig()
    videos = _cooking(12)
    assert sum(len(v) for v in videos) > 200
    rules, chunks = [], []
    for k, v in enumerate(videos):
        sample = asr_style(v, np.random.default_rng(k), layout)
        pred, ref = splitter_boundaries(sample, cfg)  # also checks every word comes out once, in order
        rules.append((pred, ref))
        chunks.append((fixed_chunk_boundaries(len(sample.words), cfg.target_words), ref))
    r, c = micro_scores(rules), micro_scores(chunks)
    assert r.f1 > c.f1 + 0.08, (r, c)
    assert micro_scores(rules, 1).f1 > micro_scores(chunks, 1).f1 + 0.1
