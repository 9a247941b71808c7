"""HowTo100M caption.json: a streaming index of byte ranges, reused while the file is unchanged, read
one video at a time; the corpus it gives equals the one of the same captions as per-video files."""

from __future__ import annotations

import json
import logging
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from videobert.cli import main
from videobert.errors import TranscriptError
from videobert.text import caption_index
from videobert.text.caption_index import CaptionRef, load_caption_index, scan_caption_json
from videobert.text.transcripts import find_transcripts, read_transcript
from videobert.utils.io import atomic_save_npy, atomic_write_json
from videobert.workdir import WorkDir

N_WORDS = 50


def _captions(n: int, t0: float = 0.0, word: str = "stir") -> dict:
    """HowTo100M-style columns: overlapping lines, lower case, no punctuation."""
    starts = [round(t0 + 1.5 * k, 2) for k in range(n)]
    return {"start": starts, "end": [round(s + 2.5, 2) for s in starts],
            "text": [f"now we {word} the pan number {k} slowly" for k in range(n)]}  # fmt: skip


VIDEOS = {
    "-GLd3aX16zB": _captions(6),
    "a_b-c": {"start": [0.5, 2.0], "end": [3.0, 4.5], "text": ["crème \"brûlée\" with a \\ back slash", "日本の料理"]},
    "plain": _captions(4, 1.0, "chop"),
}


def _write_caption_json(path: Path, videos: dict, extra: str = "") -> None:
    body = ",\n ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in videos.items())
    path.write_text("{" + body + extra + "}\n", encoding="utf-8")


@pytest.mark.parametrize("chunk_size", [7, 64, 1 << 20])
def test_index_gives_each_video_its_bytes(tmp_path, chunk_size) -> None:
    path = tmp_path / "caption.json"
    _write_caption_json(path, VIDEOS)
    index = scan_caption_json(path, chunk_size=chunk_size)
    assert sorted(index.entries) == sorted(VIDEOS) and index.bad == {}
    raw = path.read_bytes()
    for vid, (offset, length) in index.entries.items():  # the slice is that video's value, exactly
        assert json.loads(raw[offset : offset + length].decode("utf-8")) == VIDEOS[vid]
    refs = find_transcripts(path)
    assert isinstance(refs["a_b-c"], CaptionRef) and str(refs["a_b-c"]) == f"{path}#a_b-c"
    tr = read_transcript(refs["a_b-c"])
    assert [(s.start, s.end, s.text) for s in tr.segments] == [
        (0.5, 3.0, 'crème "brûlée" with a \\ back slash'), (2.0, 4.5, "日本の料理")]  # fmt: skip


def test_bad_entries_are_skipped_naming_file_and_id(tmp_path, caplog) -> None:
    path = tmp_path / "caption.json"
    videos = dict(VIDEOS)
    videos["short"] = {"start": [0, 1], "end": [1], "text": ["a", "b"]}
    videos["listy"] = [{"start": 0, "end": 1, "text": "a"}]
    videos["notext"] = {"start": [0], "end": [1]}
    _write_caption_json(path, videos)
    with caplog.at_level(logging.WARNING):
        refs = find_transcripts(path, ["plain", "short", "listy", "notext", "absent"])
    assert sorted(refs) == ["plain"]
    msgs = [r.getMessage() for r in caplog.records]
    assert any(f"{path}: video short: start/end/text lengths differ (2, 1, 2)" in m for m in msgs)
    assert any(f"{path}: video listy: value is a JSON list" in m for m in msgs)
    assert any(f"{path}: video notext: no list under text" in m for m in msgs)
    assert [s.text for s in read_transcript(refs["plain"]).segments][0] == "now we chop the pan number 0 slowly"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": {"start": [0], "end": [1], "text": ["x"]} "b": 1}', "expected ',' or '}' after an entry at byte"),
        ('{"a": {"start": [0], "end": [1], "text": ["x"]}, "b": {"start": [0,}}', "invalid JSON"),
        ('{"a": {"start": [0], "end": [1], "text": ["x"', "invalid JSON"),
        ('{"a": {"start": [0], "end": [1], "text": ["x"]}', "file ends inside the object"),
        ('{"a": {"start": [], "end": [], "text": []}} trailing', "data after the JSON object"),
        ('{a: 1}', "expected a video id"),
        ("", "empty"),
    ],
)
def test_damaged_caption_file_is_one_clear_error(tmp_path, text, reason) -> None:
    path = tmp_path / "caption.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TranscriptError, match=reason) as err:
        scan_caption_json(path, chunk_size=16)
    assert str(err.value).startswith(f"{path}: ")


def test_large_caption_json_memory_bounded_and_index_reused(tmp_path, monkeypatch) -> None:
    path = tmp_path / "caption.json"
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as fh:  # ~40 MB: 1,500 videos of 300 captions
        fh.write("{")
        for v in range(1500):
            n = 300
            starts = np.round(np.cumsum(rng.uniform(0.5, 3.0, n)), 2).tolist()
            cols = {"start": starts, "end": [round(s + 3.1, 2) for s in starts],
                    "text": [f"and then you want to take the {v} pan and add some {k} oil to it" for k in range(n)]}  # fmt: skip
            fh.write(("," if v else "") + json.dumps(f"vid{v:05d}") + ": " + json.dumps(cols))
        fh.write("}")
    size = path.stat().st_size
    assert 30e6 < size < 50e6
    index_file = WorkDir(tmp_path / "work").caption_index(path)
    tracemalloc.start()
    try:
        index = load_caption_index(path, index_file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index.entries) == 1500
    print(f"caption.json {size / 1e6:.1f} MB: tracemalloc peak {peak / 1e6:.2f} MB")
    assert peak < size / 20, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
    assert index_file.is_file() and index_file.parent.name == "caption_index"
    stamp = index_file.stat().st_mtime_ns

    def no_rescan(*args, **kwargs):
        raise AssertionError("rescanned")

    monkeypatch.setattr(caption_index, "scan_caption_json", no_rescan)
    again = load_caption_index(path, index_file)  # reused: no scan, index file untouched
    assert again.entries == index.entries and index_file.stat().st_mtime_ns == stamp
    ref = find_transcripts(path, ["vid01234"], index_file)["vid01234"]
    assert read_transcript(ref).segments[0].text == "and then you want to take the 1234 pan and add some 0 oil to it"
    os.utime(path, ns=(stamp, stamp + 10**9))  # the caption file changed: indexed again
    with pytest.raises(AssertionError, match="rescanned"):
        load_caption_index(path, index_file)


def _make_work(root: Path, videos: dict[str, int]) -> None:
    atomic_write_json(root / "vocab" / "config.json", {"n_words": N_WORDS})
    wd = WorkDir(root)
    for vid, n in videos.items():
        starts = np.arange(n, dtype=np.float64)
        atomic_save_npy(wd.token_file(vid), (np.arange(n) * 7 % N_WORDS).astype(np.int32))
        atomic_save_npy(wd.token_times_file(vid), np.stack([starts, starts + 1.0], axis=1))


def test_caption_json_corpus_equals_per_video_files(tmp_path) -> None:
    videos = {**VIDEOS, "bad": {"start": [0, 1], "end": [1], "text": ["x", "y"]}, "not_in_work": _captions(3)}
    cap = tmp_path / "caption.json"
    _write_caption_json(cap, videos)
    folder = tmp_path / "per_video"
    folder.mkdir()
    for vid, cols in videos.items():
        (folder / f"{vid}.json").write_text(json.dumps(cols), encoding="utf-8")
    clips = {"-GLd3aX16zB": 14, "a_b-c": 6, "plain": 9, "bad": 5, "no_captions": 8}
    rows = {}
    for name, source in (("file", cap), ("folder", folder)):
        work = tmp_path / name
        _make_work(work, clips)
        assert main(["-q", "tokenize", str(work), "--transcripts", str(source), "--val-fraction", "0.25"]) == 0
        rows[name] = {s: pq.read_table(work / "corpus" / f"{s}.parquet").to_pylist() for s in ("train", "val")}
        stats = json.loads((work / "corpus" / "stats.json").read_text())
        # the bad entry: left out of the index; its own file is found, fails to read and is reported
        assert stats["videos_with_transcript"] == {"file": 3, "folder": 4}[name] and stats["videos_with_text"] == 3
        assert len(stats["bad_transcripts"]) == {"file": 0, "folder": 1}[name]
    assert rows["file"] == rows["folder"]
    texts = [r["text"] for split in rows["file"].values() for r in split if r["video_id"] == "a_b-c"]
    assert " ".join(texts) == 'crème "brûlée" with a \\ back slash 日本の料理'
    assert sum(r["sentence_index"] >= 0 for split in rows["file"].values() for r in split) >= 4
    assert (tmp_path / "file" / "caption_index").is_dir() and not (tmp_path / "folder" / "caption_index").exists()
    for split in ("train", "val"):  # the same bytes too
        assert (tmp_path / "file" / "corpus" / f"{split}.parquet").read_bytes() == (
            tmp_path / "folder" / "corpus" / f"{split}.parquet"
        ).read_bytes()
