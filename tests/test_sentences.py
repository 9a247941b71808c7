"""Cues -> sentences: punctuation, pauses, merging fragments, splitting runs, time interpolation."""

from __future__ import annotations

import pytest

from videobert.text.sentences import SentenceConfig, segments_to_sentences
from videobert.text.transcripts import Segment


def test_punctuated_text_splits_at_terminals_and_interpolates_times() -> None:
    segs = [
        Segment(0.0, 4.0, "Cut the onion finely. Now heat the"),  # 7 words over 4 s
        Segment(4.0, 6.0, "pan with oil! Is it hot yet?"),
    ]
    out = segments_to_sentences(segs, SentenceConfig(min_words=2))
    assert [s.text for s in out] == ["Cut the onion finely.", "Now heat the pan with oil!", "Is it hot yet?"]
    assert out[0].start == 0.0
    assert out[0].end == pytest.approx(4 * 4 / 7)
    assert out[1].start == pytest.approx(4 * 4 / 7)
    assert out[1].end == pytest.approx(4.0 + 2 * 3 / 7)
    assert out[2].end == pytest.approx(6.0)


def test_unpunctuated_asr_splits_at_pauses_and_cue_splits_are_joined() -> None:
    segs = [
        Segment(0.0, 1.0, "now we take the"),
        Segment(1.1, 2.5, "red cube and cut it"),  # cue split mid-sentence, short gap
        Segment(4.0, 6.0, "then put it in the bowl"),  # 1.5 s pause before: new sentence
        Segment(6.2, 7.0, "uh carefully um"),  # fillers dropped, fragment merged
    ]
    out = segments_to_sentences(segs, SentenceConfig(min_words=4, pause=1.0))
    assert [s.text for s in out] == [
        "now we take the red cube and cut it",
        "then put it in the bowl carefully",
    ]
    assert (out[0].start, out[0].end) == (0.0, 2.5)
    assert out[1].start == 4.0
    assert out[1].end == pytest.approx(6.2 + 0.8 * 2 / 3)


def test_fragments_merge_with_nearer_neighbour_and_not_across_long_gaps() -> None:
    segs = [
        Segment(0.0, 2.0, "we slice the green ball"),
        Segment(3.2, 3.6, "quickly"),  # 1.2 s after the first, 2.4 s before the next
        Segment(6.0, 8.0, "and then we wash the knife"),
        Segment(20.0, 20.5, "bye"),  # isolated by 12 s: kept alone
    ]
    out = segments_to_sentences(segs, SentenceConfig(min_words=3, pause=1.0, max_merge_gap=3.0))
    assert [s.text for s in out] == ["we slice the green ball quickly", "and then we wash the knife", "bye"]


def test_long_runs_split_at_longest_internal_silence_within_limits() -> None:
    # 30 words in 6 cues of 5 words, the only notable silence (0.6 s < pause) after cue 3
    segs = []
    t = 0.0
    for k in range(6):
        segs.append(Segment(t, t + 1.0, " ".join(f"w{k}{i}" for i in range(5))))
        t += 1.0 + (0.6 if k == 2 else 0.1)
    cfg = SentenceConfig(min_words=4, max_words=20, target_words=100, pause=1.0)
    out = segments_to_sentences(segs, cfg)
    assert [s.n_words for s in out] == [15, 15]
    assert out[1].text.startswith("w30")
    # no silence at all: split near the middle, all pieces within [min_words, max_words]
    long = [Segment(0.0, 60.0, " ".join(f"x{i}" for i in range(61)))]
    out = segments_to_sentences(long, cfg)
    assert all(cfg.min_words <= s.n_words <= cfg.max_words for s in out)
    assert sum(s.n_words for s in out) == 61
    assert out[0].start == 0.0 and out[-1].end == pytest.approx(60.0)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(out, out[1:], strict=False))


def test_empty_and_filler_only_input() -> None:
    assert segments_to_sentences([]) == []
    assert segments_to_sentences([Segment(0, 1, "uh um")]) == []
    cfg = SentenceConfig(drop_fillers=False)
    assert [s.text for s in segments_to_sentences([Segment(0, 1, "uh um")], cfg)] == ["uh um"]


def test_runs_without_pauses_are_cut_at_cue_starts() -> None:
    # ASR with no silence between sentences: cues are the best sentence evidence left;
    # a sentence split over two cues ("cut the" | "red cube slowly") is rejoined (fragment < min_words).
    segs = [
        Segment(0.0, 2.0, "first we shake the red diamond"),
        Segment(2.0, 4.0, "okay now let me show you how to grow the cross"),
        Segment(4.0, 4.5, "cut the"),
        Segment(4.5, 6.0, "red cube slowly"),
        Segment(6.0, 8.0, "and then you drop it in"),
    ]
    out = segments_to_sentences(segs, SentenceConfig(min_words=4, target_words=8, pause=1.0))
    assert [s.text for s in out] == [
        "first we shake the red diamond",
        "okay now let me show you how to grow the cross",
        "cut the red cube slowly",
        "and then you drop it in",
    ]
    assert [(s.start, s.end) for s in out] == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0)]
