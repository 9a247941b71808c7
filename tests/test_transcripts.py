"""Transcript readers: SRT, WebVTT, JSON (both layouts), encodings, tags, malformed entries."""

from __future__ import annotations

import json
import logging

import pytest

from videobert.errors import TranscriptError
from videobert.text.transcripts import (
    Segment,
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
    assert read_transcript(path).segments == [Segment(1.0, 3.5, "we stir & wait")]


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
