"""YouTube auto-captions (yt-dlp --write-auto-subs): rolling cues, 10 ms transitions, one-space lines,
inline word timestamps; and the older rolling layout without them. Every spoken word comes out once."""

from __future__ import annotations

import pytest

from videobert.text.transcripts import Segment, read_transcript

# The real layout: every cue shows the previous line again; 10 ms cues are transitions; " " lines
# are content (written "~" below); `[Music]` is a sound event; one new line holds a single word without a tag.
AUTO_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:01.500 align:start position:0%
~
[Music]

00:00:01.500 --> 00:00:01.510 align:start position:0%
[Music]
~

00:00:01.510 --> 00:00:03.070 align:start position:0%
[Music]
hey<00:00:01.869><c> guys</c><00:00:02.109><c> today</c><00:00:02.350><c> we</c>

00:00:03.070 --> 00:00:03.080 align:start position:0%
hey guys today we
~

00:00:03.080 --> 00:00:05.230 align:start position:0%
hey guys today we
are<00:00:03.399><c> making</c><00:00:03.800><c> pancakes</c>

00:00:05.230 --> 00:00:05.240 align:start position:0%
are making pancakes
~

00:00:05.240 --> 00:00:07.510 align:start position:0%
are making pancakes
first<00:00:05.600><c> we</c><00:00:05.840><c> mix</c><00:00:06.100><c> the</c><00:00:06.380><c> flour</c>

00:00:07.510 --> 00:00:07.520 align:start position:0%
first we mix the flour
~

00:00:07.520 --> 00:00:09.870 align:start position:0%
first we mix the flour
and<00:00:07.900><c> the</c><00:00:08.150><c> eggs</c>

00:00:09.870 --> 00:00:09.880 align:start position:0%
and the eggs
~

00:00:09.880 --> 00:00:11.990 align:start position:0%
and the eggs
okay

00:00:11.990 --> 00:00:12.000 align:start position:0%
okay
~

00:00:12.000 --> 00:00:14.200 align:start position:0%
okay
then<00:00:12.400><c> we</c><00:00:12.700><c> pour</c><00:00:13.000><c> it</c><00:00:13.300><c> in</c><00:00:13.500><c> the</c><00:00:13.800><c> pan</c>

00:00:14.200 --> 00:00:14.210 align:start position:0%
then we pour it in the pan
~

00:00:14.210 --> 00:00:16.000 align:start position:0%
then we pour it in the pan
[Music]

00:00:16.000 --> 00:00:16.010 align:start position:0%
[Music]
~

00:00:16.010 --> 00:00:18.500 align:start position:0%
[Music]
and<00:00:16.400><c> flip</c><00:00:16.900><c> it</c><00:00:17.300><c> and</c><00:00:17.600><c> the</c>

00:00:18.500 --> 00:00:18.510 align:start position:0%
and flip it and the
~

00:00:18.510 --> 00:00:20.000 align:start position:0%
and flip it and the
the<00:00:18.800><c> end</c>

00:00:20.000 --> 00:00:20.010 align:start position:0%
the end
~
""".replace("\n~\n", "\n \n")  # "~": a line of one space, as YouTube writes it

# (word, start, end): a word ends where the next begins, the last of a cue at the cue's end
EXPECTED = [
    ("hey", 1.51, 1.869), ("guys", 1.869, 2.109), ("today", 2.109, 2.35), ("we", 2.35, 3.07),
    ("are", 3.08, 3.399), ("making", 3.399, 3.8), ("pancakes", 3.8, 5.23),
    ("first", 5.24, 5.6), ("we", 5.6, 5.84), ("mix", 5.84, 6.1), ("the", 6.1, 6.38), ("flour", 6.38, 7.51),
    ("and", 7.52, 7.9), ("the", 7.9, 8.15), ("eggs", 8.15, 9.87),
    ("okay", 9.88, 11.99),
    ("then", 12.0, 12.4), ("we", 12.4, 12.7), ("pour", 12.7, 13.0), ("it", 13.0, 13.3), ("in", 13.3, 13.5),
    ("the", 13.5, 13.8), ("pan", 13.8, 14.2),
    ("and", 16.01, 16.4), ("flip", 16.4, 16.9), ("it", 16.9, 17.3), ("and", 17.3, 17.6), ("the", 17.6, 18.5),
    ("the", 18.51, 18.8), ("end", 18.8, 20.0),
]  # fmt: skip


def test_auto_captions_give_every_spoken_word_once_with_its_time(tmp_path) -> None:
    path = tmp_path / "-GLd3aX16zB.en.vtt"
    path.write_text(AUTO_VTT, encoding="utf-8")
    assert AUTO_VTT.count("-->") == 20
    tr = read_transcript(path)
    assert tr.skipped == []
    words = [w for s in tr.segments for w in s.words]
    assert [w.text for w in words] == [w for w, _, _ in EXPECTED]  # 30 words, not 78
    assert [t for w in words for t in (w.start, w.end)] == pytest.approx([t for _, s, e in EXPECTED for t in (s, e)])
    assert [s.text for s in tr.segments] == [
        "hey guys today we", "are making pancakes", "first we mix the flour", "and the eggs", "okay",
        "then we pour it in the pan", "and flip it and the", "the end",
    ]  # fmt: skip
    for seg in tr.segments:  # the new words only, timed from the first of them to the cue's end
        assert seg.text == " ".join(w.text for w in seg.words)
        assert (seg.start, seg.end) == (seg.words[0].start, seg.words[-1].end)


def test_first_cue_after_a_one_space_line_is_kept(tmp_path) -> None:
    path = tmp_path / "a.vtt"
    path.write_text(
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "00:00:00.030 --> 00:00:02.070 align:start position:0%\n \n"
        "hey<00:00:00.359><c> guys</c><00:00:00.599><c> today</c><00:00:00.840><c> we</c>\n\n"
        "00:00:02.070 --> 00:00:02.080 align:start position:0%\nhey guys today we\n \n\n"
        "00:00:02.080 --> 00:00:04.230 align:start position:0%\nhey guys today we\n"
        "are<00:00:02.399><c> making</c><00:00:02.800><c> pancakes</c>\n",
        encoding="utf-8",
    )
    tr = read_transcript(path)
    assert [w.text for s in tr.segments for w in s.words] == "hey guys today we are making pancakes".split()
    assert tr.segments[0].words[0].start == pytest.approx(0.03) and tr.segments[0].words[1].start == pytest.approx(0.359)
    assert tr.segments[1].start == pytest.approx(2.08) and tr.skipped == []


def test_older_rolling_captions_without_word_times_are_deduplicated(tmp_path) -> None:
    cues = [
        ("00:01.000", "00:03.000", "hey guys today we"),
        ("00:03.000", "00:05.000", "hey guys today we\nare making pancakes"),
        ("00:05.000", "00:07.000", "are making pancakes\nfirst we mix the flour"),
        ("00:07.000", "00:09.500", "first we mix the flour\nwith the flour"),  # a genuine repeat of 2 words
    ]
    text = "WEBVTT\n\n" + "\n".join(f"{s} --> {e}\n{t}\n" for s, e, t in cues)
    for suffix, body in ((".vtt", text), (".srt", text.replace("WEBVTT\n\n", "").replace(".", ","))):
        path = tmp_path / f"old{suffix}"
        path.write_text(body, encoding="utf-8")
        assert read_transcript(path).segments == [
            Segment(1.0, 3.0, "hey guys today we"),
            Segment(3.0, 5.0, "are making pancakes"),
            Segment(5.0, 7.0, "first we mix the flour"),
            Segment(7.0, 9.5, "with the flour"),
        ], suffix


def test_cues_that_do_not_roll_are_kept_whole(tmp_path) -> None:
    """Two cues that repeat by chance are not a rolling layout: nothing is removed."""
    path = tmp_path / "a.vtt"
    path.write_text(
        "WEBVTT\n\n00:01.000 --> 00:02.000\nyes\n\n00:02.000 --> 00:03.000\nyes\nreally\n\n"
        "00:03.000 --> 00:04.000\nstir it now\n",
        encoding="utf-8",
    )
    assert [s.text for s in read_transcript(path).segments] == ["yes", "yes really", "stir it now"]


def test_corpus_of_an_auto_caption_file_holds_each_spoken_word_once(tmp_path) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from videobert.cli import main
    from videobert.utils.io import atomic_save_npy, atomic_write_json
    from videobert.workdir import WorkDir

    work = WorkDir(tmp_path / "work")
    atomic_write_json(work.vocab_config, {"n_words": 20})
    starts = np.arange(21, dtype=np.float64)
    atomic_save_npy(work.token_file("-GLd3aX16zB"), (np.arange(21) % 20).astype(np.int32))
    atomic_save_npy(work.token_times_file("-GLd3aX16zB"), np.stack([starts, starts + 1.0], axis=1))
    subs = tmp_path / "subs" / "101"
    subs.mkdir(parents=True)
    (subs / "-GLd3aX16zB.en.vtt").write_text(AUTO_VTT, encoding="utf-8")
    assert main(["-q", "tokenize", str(work.root), "--transcripts", str(tmp_path / "subs"), "--val-fraction", "0"]) == 0
    rows = pq.read_table(work.corpus_split("train")).to_pylist()
    assert " ".join(r["text"] for r in rows).split() == [w for w, _, _ in EXPECTED]
    assert sum(len(r["text"].split()) for r in rows) == 30  # the reader before this one gave 93 (shown lines, [Music])
