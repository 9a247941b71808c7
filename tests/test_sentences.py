"""Cues -> sentences: punctuation, pauses, merging fragments, splitting runs, time interpolation."""

from __future__ import annotations

import pytest

from videobert.text.sentences import SentenceConfig, is_punctuated, segments_to_sentences
from videobert.text.transcripts import Segment, TimedWord


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


def _timed(start: float, spec: list[tuple[str, float, float]]) -> Segment:
    """A cue with its own word times: ``spec`` = (word, start, end)."""
    words = tuple(TimedWord(s, e, w) for w, s, e in spec)
    return Segment(start, spec[-1][2], " ".join(w for w, _, _ in spec), words)


def test_word_times_are_used_and_a_pause_inside_a_cue_ends_a_sentence() -> None:
    seg = _timed(
        0.0,
        [("we", 0.0, 0.2), ("slice", 0.2, 0.6), ("the", 0.6, 0.7), ("bread", 0.7, 1.1),
         ("then", 2.5, 2.7), ("we", 2.7, 2.8), ("toast", 2.8, 3.2), ("it", 3.2, 3.3)],
    )  # fmt: skip
    out = segments_to_sentences([seg], SentenceConfig(min_words=3))
    assert [s.text for s in out] == ["we slice the bread", "then we toast it"]
    assert [(s.start, s.end) for s in out] == [(0.0, 1.1), (2.5, 3.3)]
    # the same words without their times: interpolated over the cue, no pause to see
    flat = Segment(0.0, 3.3, seg.text)
    assert [s.n_words for s in segments_to_sentences([flat], SentenceConfig(min_words=3))] == [8]


def test_overlapping_howto_lines_are_cut_back_to_the_next_line_start() -> None:
    # HowTo100M caption.json: each line is shown until the line after next starts
    segs = [
        Segment(0.0, 4.0, "now we take the"),
        Segment(2.0, 6.0, "red cube and cut"),
        Segment(4.0, 7.0, "it in half"),
    ]
    out = segments_to_sentences(segs, SentenceConfig(min_words=2, target_words=20))
    assert [s.text for s in out] == ["now we take the red cube and cut it in half"]
    assert (out[0].start, out[0].end) == (0.0, 7.0)
    from videobert.text.sentences import _words

    words = _words(segs, SentenceConfig())
    assert [w.text for w in words] == "now we take the red cube and cut it in half".split()
    assert [w.start for w in words[:5]] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])  # 4 words over 0-2 s
    assert all(b.start >= a.end - 1e-9 and a.end >= a.start for a, b in zip(words, words[1:], strict=False))


def test_rolling_repeats_and_doubled_timed_words_come_out_once() -> None:
    # a rolling display converted to cues: the 10 ms transition cue and the next cue repeat the line
    segs = [
        Segment(0.03, 2.07, "hey guys today we"),
        Segment(2.07, 2.08, "hey guys today we"),
        Segment(2.08, 4.23, "hey guys today we are making pancakes"),
    ]
    out = segments_to_sentences(segs, SentenceConfig(min_words=2))
    assert [s.text for s in out] == ["hey guys today we are making pancakes"]
    assert out[0].end == pytest.approx(4.23)
    # a legitimate repeat that is not the whole previous line is kept
    segs = [Segment(0.0, 2.0, "stir it on and off"), Segment(2.0, 3.0, "on and off again")]
    assert segments_to_sentences(segs)[0].text == "stir it on and off on and off again"
    # the same timed word in two overlapping cues is one word
    a = _timed(0.0, [("add", 0.0, 0.3), ("the", 0.3, 0.4), ("salt", 0.4, 0.8)])
    b = _timed(0.4, [("salt", 0.41, 0.8), ("and", 0.8, 0.9), ("pepper", 0.9, 1.3)])
    out = segments_to_sentences([a, b], SentenceConfig(min_words=2))
    assert [s.text for s in out] == ["add the salt and pepper"]


def test_start_only_word_times_show_the_silence_folded_into_a_word() -> None:
    # YouTube inline tags give starts only: "bread" lasts until "then" starts, 1.6 s later
    spec = [("we", 0.0), ("slice", 0.2), ("the", 0.55), ("bread", 0.7), ("then", 2.3), ("we", 2.45),
            ("toast", 2.6), ("it", 2.95), ("until", 3.1), ("golden", 3.45)]  # fmt: skip
    ends = [s for _, s in spec[1:]] + [3.9]
    seg = _timed(0.0, [(w, s, e) for (w, s), e in zip(spec, ends, strict=True)])
    out = segments_to_sentences([seg], SentenceConfig(min_words=3))
    assert [s.text for s in out] == ["we slice the bread", "then we toast it until golden"]
    assert out[0].end < 1.3  # the sentence ends with the speech, not with the silence after it


def test_openers_end_a_sentence_after_a_shorter_pause() -> None:
    def cues(second: str) -> list[Segment]:
        return [Segment(0.0, 2.0, "we slice the green onion"), Segment(2.45, 4.0, second)]

    cfg = SentenceConfig(min_words=3, target_words=20)
    assert [s.n_words for s in segments_to_sentences(cues("now add the garlic"), cfg)] == [5, 4]
    assert [s.n_words for s in segments_to_sentences(cues("very thin and long"), cfg)] == [9]
    no_openers = SentenceConfig(min_words=3, target_words=20, openers=())
    assert [s.n_words for s in segments_to_sentences(cues("now add the garlic"), no_openers)] == [9]


def test_a_stray_abbreviation_does_not_make_asr_punctuated() -> None:
    # 60 unpunctuated words with one "p.m." and one "mr.": still ASR, split by the timing rules
    words = [f"w{i}" for i in range(60)]
    words[20], words[40] = "p.m.", "mr."
    segs = [Segment(i * 3.0, i * 3.0 + 2.0, " ".join(words[i * 6 : i * 6 + 6])) for i in range(10)]
    out = segments_to_sentences(segs, SentenceConfig(min_words=4, pause=1.0))
    assert [s.n_words for s in out] == [6] * 10
    assert is_punctuated(["Mr.", "Smith", "cooks", "rice."]) and not is_punctuated(["Mr.", "Smith", "cooks"])
