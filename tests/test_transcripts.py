"""Transcript readers: SRT, WebVTT, JSON (lists, Whisper, HowTo100M columns), encodings, tags,
malformed entries, and finding transcripts in folders."""

from __future__ import annotations

import json
import logging

import pytest

from videobert.errors import TranscriptError
from videobert.text.transcripts import (
    Segment,
    TimedWord,
    find_transcripts,
    parse_timestamp,
    read_transcript,
    write_srt,
)

SEGMENTS = [
    Segment(0.5, 2.25, "first we cut the onion"),
    Segment(2.25, 4.0, "then we fry it gently"),
    Segment(61.001, 3725.5, "and serve"),
]


def _ts(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def test_parse_timestamp() -> None:
    assert parse_timestamp("01:02:03,456") == pytest.approx(3723.456)
    assert parse_timestamp("02:03.5") == pytest.approx(123.5)
    assert parse_timestamp("00:00:07") == 7.0
    assert parse_timestamp("1:2") == 62.0
    for bad in ("00:61:00.000", "abc", "1:2:3:4", "00:00:-1"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_srt_round_trip(tmp_path) -> None:
    path = tmp_path / "v.srt"
    write_srt(path, SEGMENTS)
    tr = read_transcript(path)
    assert tr.segments == [Segment(s.start, s.end, s.text) for s in SEGMENTS]
    assert tr.skipped == []


def test_vtt_round_trip_with_tags_settings_notes(tmp_path) -> None:
    cues = []
    for k, s in enumerate(SEGMENTS):
        cues.append(
            f"cue-{k}\n{_ts(s.start, '.')} --> {_ts(s.end, '.')} align:start position:0%\n<c.yellow>{s.text}</c>\n"
        )
    text = "WEBVTT - demo\nKind: captions\n\nNOTE a comment\nspanning lines\n\n" + "\n".join(cues)
    path = tmp_path / "v.vtt"
    path.write_text(text, encoding="utf-8")
    tr = read_transcript(path)
    assert tr.segments == SEGMENTS
    assert tr.skipped == []


def test_vtt_short_timestamps_and_inline_timing_tags(tmp_path) -> None:
    path = tmp_path / "a.vtt"
    path.write_text(
        "WEBVTT\n\n00:01.000 --> 00:03.500\nwe <00:00:02.000><c>stir</c> &amp; <i>wait</i>\n",
        encoding="utf-8",
    )
    (seg,) = read_transcript(path).segments
    assert (seg.start, seg.end, seg.text) == (1.0, 3.5, "we stir & wait")
    # words after one timestamp share the time up to the next equally; the first gets the cue start
    assert seg.words == (TimedWord(1.0, 2.0, "we"), TimedWord(2.0, 2.5, "stir"), TimedWord(2.5, 3.0, "&"),
                         TimedWord(3.0, 3.5, "wait"))  # fmt: skip


def test_vtt_without_header_is_an_error(tmp_path) -> None:
    path = tmp_path / "a.vtt"
    path.write_text("00:01.000 --> 00:03.500\nhello\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match="a.vtt"):
        read_transcript(path)


def test_json_list_and_howto100m_layouts(tmp_path) -> None:
    as_list = [{"start": s.start, "end": s.end, "text": s.text} for s in SEGMENTS]
    as_columns = {
        "start": [s.start for s in SEGMENTS],
        "end": [s.end for s in SEGMENTS],
        "text": [s.text for s in SEGMENTS],
    }
    as_whisper = {"text": "all", "segments": as_list}
    for name, obj in (("list.json", as_list), ("cols.json", as_columns), ("whisper.json", as_whisper)):
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        tr = read_transcript(path)
        assert tr.segments == SEGMENTS, name
        assert tr.skipped == []


def test_json_malformed_entries_are_skipped_and_reported(tmp_path, caplog) -> None:
    data = [
        {"start": 0, "end": 1, "text": "good one"},
        {"start": "x", "end": 1, "text": "bad start"},
        {"start": 5, "end": 2, "text": "reversed"},
        {"start": 3, "end": 4},
        "not an object",
        {"start": 6, "end": 7, "text": "<b>also</b> good"},
    ]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        tr = read_transcript(path)
    assert tr.segments == [Segment(0, 1, "good one"), Segment(6, 7, "also good")]
    assert len(tr.skipped) == 4
    assert all(str(path) in msg for msg in tr.skipped)
    assert any("entry 1" in m for m in tr.skipped) and any("entry 4" in m for m in tr.skipped)
    assert sum("skipped transcript entry" in r.message for r in caplog.records) == 4


def test_json_unreadable_raises_with_path(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(TranscriptError, match="broken.json"):
        read_transcript(path)
    path.write_text(json.dumps({"start": [0, 1], "end": [1], "text": ["a", "b"]}), encoding="utf-8")
    with pytest.raises(TranscriptError, match="lengths differ"):
        read_transcript(path)
    with pytest.raises(TranscriptError, match="unknown transcript format"):
        read_transcript(tmp_path / "x.txt")


def test_srt_malformed_cues_reported_with_line_numbers(tmp_path) -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nok one\n\n"
        "2\n00:00:03,000 -> 00:00:04,000\nbad arrow\n\n"  # line 5: no timing line
        "3\n00:00:05,000 --> 00:00:0x,000\nbad time\n\n"  # line 10
        "4\n00:00:09,000 --> 00:00:08,000\nreversed\n\n"  # line 14
        "5\n00:00:10,000 --> 00:00:11,000\n\n"  # empty text: block ends at the timing line (line 18)
        "6\n00:00:12,000 --> 00:00:13,000\n<i>ok</i> two\nsecond line\n"
    )
    path = tmp_path / "m.srt"
    path.write_bytes(text.encode("utf-8"))
    tr = read_transcript(path)
    assert tr.segments == [Segment(1, 2, "ok one"), Segment(12, 13, "ok two second line")]
    lines = sorted(int(m.split(":")[1]) for m in tr.skipped)
    assert lines == [5, 10, 14, 18]


def test_bom_crlf_and_non_utf8(tmp_path, caplog) -> None:
    srt = "1\r\n00:00:00,000 --> 00:00:01,500\r\ncrème brûlée\r\n"
    bom = tmp_path / "bom.srt"
    bom.write_bytes(b"\xef\xbb\xbf" + srt.encode("utf-8"))
    assert read_transcript(bom).segments == [Segment(0.0, 1.5, "crème brûlée")]
    latin = tmp_path / "latin.srt"
    latin.write_bytes(srt.encode("cp1252"))
    with caplog.at_level(logging.WARNING):
        assert read_transcript(latin).segments == [Segment(0.0, 1.5, "crème brûlée")]
    assert any("not valid UTF-8" in r.message for r in caplog.records)
    utf16 = tmp_path / "u16.srt"
    utf16.write_bytes(srt.encode("utf-16"))
    assert read_transcript(utf16).segments == [Segment(0.0, 1.5, "crème brûlée")]
    vtt = tmp_path / "bom.vtt"
    vtt.write_bytes(b"\xef\xbb\xbfWEBVTT\n\n00:00.000 --> 00:01.500\nhi\n")
    assert read_transcript(vtt).segments == [Segment(0.0, 1.5, "hi")]


def test_find_transcripts_recursive_ids_and_priority(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    write_srt(tmp_path / "a" / "v1.srt", SEGMENTS[:1])
    (tmp_path / "a" / "v1.json").write_text("[]", encoding="utf-8")
    (tmp_path / "v2.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (tmp_path / "v3.mp4").write_bytes(b"")
    found = find_transcripts(tmp_path)
    assert found == {"v1": tmp_path / "a" / "v1.srt", "v2": tmp_path / "v2.vtt"}


def test_vtt_header_metadata_ids_settings_blocks_and_spaces(tmp_path) -> None:
    """What webvtt-py reads: metadata lines, cue ids, settings, NOTE/STYLE/REGION, MM:SS.mmm, and a
    cue id line after a line of spaces (a hand-written file that "separates" cues with spaces)."""
    text = (
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "STYLE\n::cue { color: yellow }\n\n"
        "REGION\nid:fred width:40%\n\n"
        "NOTE\nsome comment\n\n"
        "intro\n00:00.500 --> 00:02.000 region:fred align:left\n<v Roger>hello <b>there</b>\n\n"
        "00:02.000 --> 00:03.000 line:0\nsecond &lt;cue&gt;\n \n"
        "3\n00:03.000 --> 00:04.000\nthird\n"
    )
    path = tmp_path / "a.vtt"
    path.write_text(text, encoding="utf-8")
    tr = read_transcript(path)
    assert tr.segments == [Segment(0.5, 2.0, "hello there"), Segment(2.0, 3.0, "second <cue>"), Segment(3.0, 4.0, "third")]
    assert tr.skipped == []


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_srt_from_any_tool(tmp_path, newline) -> None:
    """BOM, any newline, tags, ASS overrides, multi-line cues, missing and wrong numbers, a blank line
    inside a cue's text, '.' before the milliseconds, coordinates after the timing."""
    lines = [
        "1", "00:00:01,000 --> 00:00:02,500", "<i>first</i> <font color=\"#ffff00\">line</font>", "and more", "",
        "00:00:03,000 --> 00:00:04,000", "{\\an8}no number", "",  # no cue number
        "7", "00:00:05,000 --> 00:00:06,000 X1:100 X2:200 Y1:10 Y2:20", "wrong number", "",
        "", "4", "00:00:07.000 --> 00:00:09,000", "text before a blank line", "", "and after it", "",
        "5", "00:00:10,000 --> 00:00:11,000", "[Music]", "",  # a sound event only: nothing said
        "6", "00:00:12,000 --> 00:00:13,000", "- Hi.", "- Hello!", "",
        "8", "00:00:14,000 --> 00:00:15,000", " ", "text after a line of spaces", "",
    ]  # fmt: skip
    path = tmp_path / "any.srt"
    path.write_bytes(b"\xef\xbb\xbf" + newline.join(lines).encode("utf-8"))
    tr = read_transcript(path)
    assert tr.segments == [
        Segment(1.0, 2.5, "first line and more"),
        Segment(3.0, 4.0, "no number"),
        Segment(5.0, 6.0, "wrong number"),
        Segment(7.0, 9.0, "text before a blank line and after it"),
        Segment(12.0, 13.0, "- Hi. - Hello!"),
        Segment(14.0, 15.0, "text after a line of spaces"),
    ]
    assert tr.skipped == []


def test_srt_cues_without_blank_lines_between(tmp_path) -> None:
    path = tmp_path / "packed.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\none\n2\n00:00:02,000 --> 00:00:03,000\ntwo\n", encoding="utf-8")
    assert read_transcript(path).segments == [Segment(1.0, 2.0, "one"), Segment(2.0, 3.0, "two")]


def _whisper(segments: list[dict]) -> dict:
    return {"text": " ".join(s["text"] for s in segments), "language": "en", "segments": segments}


def test_whisper_words_become_timed_words(tmp_path) -> None:
    seg = {
        "id": 0, "start": 0.0, "end": 2.0, "text": " Cut the onion.",
        "words": [{"word": " Cut", "start": 0.0, "end": 0.4, "probability": 0.9},
                  {"word": " the", "start": 0.4, "end": 0.6, "probability": 0.8},
                  {"word": " onion.", "start": 0.7, "end": 1.5, "probability": 0.95}],
    }  # fmt: skip
    plain = {"id": 1, "start": 2.5, "end": 4.0, "text": " Then fry it."}  # openai-whisper without word_timestamps
    path = tmp_path / "w.json"
    path.write_text(json.dumps(_whisper([seg, plain])), encoding="utf-8")
    tr = read_transcript(path)
    assert tr.segments == [
        Segment(0.0, 2.0, "Cut the onion.", (TimedWord(0.0, 0.4, "Cut"), TimedWord(0.4, 0.6, "the"),
                                             TimedWord(0.7, 1.5, "onion."))),
        Segment(2.5, 4.0, "Then fry it."),
    ]  # fmt: skip


def test_whisperx_words_without_times_are_interpolated(tmp_path) -> None:
    words = [
        {"word": "In", "start": 1.0, "end": 1.2, "score": 0.9},
        {"word": "1990"},  # WhisperX leaves numbers it cannot align without times
        {"word": "2000"},
        {"word": "we", "start": 2.0, "end": 2.2, "score": 0.8},
        {"word": "cooked", "start": "x", "end": 2.5},  # not a number: interpolated too
    ]
    path = tmp_path / "wx.json"
    path.write_text(json.dumps({"segments": [{"start": 1.0, "end": 3.0, "text": "In 1990 2000 we cooked",
                                              "words": words}], "language": "en"}), encoding="utf-8")  # fmt: skip
    (seg,) = read_transcript(path).segments
    assert seg.text == "In 1990 2000 we cooked"
    got = [(w.text, round(w.start, 6), round(w.end, 6)) for w in seg.words]
    assert got == [("In", 1.0, 1.2), ("1990", 1.2, 1.6), ("2000", 1.6, 2.0), ("we", 2.0, 2.2), ("cooked", 2.2, 3.0)]


def test_find_transcripts_same_name_in_two_folders_warns_and_picks_the_first(tmp_path, caplog) -> None:
    for sub in ("b", "a"):
        (tmp_path / sub).mkdir()
        write_srt(tmp_path / sub / "v1.srt", [Segment(0, 1, f"from {sub}")])
    (tmp_path / "c").mkdir()
    write_srt(tmp_path / "c" / "v1.en.srt", [Segment(0, 1, "tagged")])  # another role: not reported
    with caplog.at_level(logging.WARNING):
        found = find_transcripts(tmp_path, ["v1"])
    assert found == {"v1": tmp_path / "a" / "v1.srt"}
    (msg,) = [r.getMessage() for r in caplog.records if "same name" in r.getMessage()]
    assert str(tmp_path / "a" / "v1.srt") in msg and str(tmp_path / "b" / "v1.srt") in msg


def test_find_transcripts_refuses_a_source_that_is_neither(tmp_path) -> None:
    with pytest.raises(TranscriptError, match="transcripts folder not found"):
        find_transcripts(tmp_path / "missing")
    (tmp_path / "a.srt").write_text("", encoding="utf-8")
    with pytest.raises(TranscriptError, match="a.srt: not a transcripts folder or a HowTo100M caption.json"):
        find_transcripts(tmp_path / "a.srt")
    (tmp_path / "one.json").write_text(json.dumps([{"start": 0, "end": 1, "text": "hi"}]), encoding="utf-8")
    with pytest.raises(TranscriptError, match="one.json: not a HowTo100M caption.json"):
        find_transcripts(tmp_path / "one.json")
    (tmp_path / "cols.json").write_text(json.dumps({"start": [0], "end": [1], "text": ["hi"]}), encoding="utf-8")
    with pytest.raises(TranscriptError, match="one video's transcript"):
        find_transcripts(tmp_path / "cols.json")
