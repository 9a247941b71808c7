"""Alignment and the parquet corpus: exact visual words, splits, video-only rows, CLI."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from videobert.cli import main
from videobert.data.corpus import CORPUS_SCHEMA, align_sentence, build_corpus, split_videos
from videobert.errors import StageMissingError
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.text.transcripts import Segment, write_srt
from videobert.utils.io import atomic_save_npy, atomic_write_json
from videobert.utils.manifest import Manifest
from videobert.workdir import WorkDir

N_WORDS = 50


@pytest.fixture(scope="module")
def tok() -> VideoBertTokenizer:
    return VideoBertTokenizer.from_bert(None, num_visual_words=N_WORDS)


def _clip_times(n: int, length: float = 1.0) -> np.ndarray:
    starts = np.arange(n, dtype=np.float64) * length
    return np.stack([starts, starts + length], axis=1)  # (n,) x2 -> (n, 2)


def _make_work(root, videos: dict[str, np.ndarray]) -> None:
    atomic_write_json(root / "vocab" / "config.json", {"n_words": N_WORDS})
    for vid, words in videos.items():
        (root / "tokens").mkdir(parents=True, exist_ok=True)
        atomic_save_npy(WorkDir(root).token_file(vid), words.astype(np.int32))
        atomic_save_npy(WorkDir(root).token_times_file(vid), _clip_times(len(words)))


def test_align_sentence_rule() -> None:
    times = _clip_times(10)  # clip i spans [i, i+1), midpoint i + 0.5
    assert align_sentence(2.0, 5.0, times) == (2, 5)
    assert align_sentence(2.5, 5.5, times) == (2, 5)  # midpoint 2.5 in, 5.5 out
    assert align_sentence(2.6, 5.6, times) == (3, 6)
    assert align_sentence(3.1, 3.4, times) == (3, 4)  # no midpoint inside: nearest
    assert align_sentence(30.0, 31.0, times) == (9, 10)  # after the video: the last clip
    assert align_sentence(-5.0, -4.0, times) == (0, 1)
    assert align_sentence(-5.0, 100.0, times) == (0, 10)


def test_split_videos_by_annotation_then_fraction() -> None:
    ids = [f"v{i}" for i in range(20)]
    train, val = split_videos(ids, {"v0": "validation", "v1": "training", "v2": "testing"}, 0.25, seed=3)
    assert {"v0", "v2"} <= val and "v1" in train
    assert train | val == set(ids) and not train & val
    assert len(val) == 2 + round(0.25 * 17)
    again = split_videos(ids, {"v0": "validation", "v1": "training", "v2": "testing"}, 0.25, seed=3)
    assert again == (train, val)
    assert split_videos(ids, {}, 0.25, seed=4)[1] != split_videos(ids, {}, 0.25, seed=3)[1] - {"v0", "v2"}


def test_known_transcript_gives_expected_visual_words(tmp_path, tok) -> None:
    words_a = np.arange(12) * 3 % N_WORDS  # 12 clips of 1 s: words 0,3,6,...
    _make_work(tmp_path, {"a": words_a, "b": np.arange(40) % N_WORDS})
    tdir = tmp_path / "transcripts"
    tdir.mkdir()
    write_srt(
        tdir / "a.srt",
        [
            Segment(0.0, 1.2, "now we take"),  # cue split, joined with the next (gap 0.2 s)
            Segment(1.4, 3.0, "the red cube"),
            Segment(5.0, 8.0, "and we cut it slowly"),
            Segment(9.1, 9.4, "then we wash the knife"),  # covers no clip midpoint: nearest clip 9
            Segment(14.5, 16.0, "thanks for watching my video"),  # > 2 s after the last clip: dropped
        ],
    )
    (tdir / "b.json").write_text('[{"start": 1, "end": 2}]', encoding="utf-8")  # no usable sentence
    stats = build_corpus(tmp_path, transcripts_dir=tdir, tokenizer=tok, val_fraction=0.0)
    table = pq.read_table(tmp_path / "corpus" / "train.parquet")
    assert table.schema.equals(CORPUS_SCHEMA)
    rows = table.to_pylist()
    a_rows = [r for r in rows if r["video_id"] == "a"]
    assert [r["text"] for r in a_rows] == [
        "now we take the red cube",
        "and we cut it slowly",
        "then we wash the knife",
    ]
    assert [r["visual_ids"] for r in a_rows] == [[0, 3, 6], [15, 18, 21], [27]]
    assert [r["clip_start"] for r in a_rows] == [0, 5, 9]
    assert [r["sentence_index"] for r in a_rows] == [0, 1, 2]
    assert a_rows[0]["text_ids"] == tok.encode_text("now we take the red cube")
    assert (a_rows[1]["start"], a_rows[1]["end"]) == (5.0, 8.0)
    b_rows = [r for r in rows if r["video_id"] == "b"]  # video-only chunks of 16 clips
    assert [r["sentence_index"] for r in b_rows] == [-1, -1, -1]
    assert [len(r["visual_ids"]) for r in b_rows] == [16, 16, 8]
    assert [r["clip_start"] for r in b_rows] == [0, 16, 32]
    assert b_rows[2]["visual_ids"] == (np.arange(32, 40) % N_WORDS).tolist()
    assert all(r["text"] == "" and r["text_ids"] == [] for r in b_rows)
    assert rows.index(a_rows[0]) < rows.index(b_rows[0])  # videos contiguous, sorted
    assert stats["sentences"] == 3 and stats["video_only_rows"] == 3 and stats["skipped_entries"] == 1
    assert stats["sentences_outside_video"] == 1
    assert stats["train_rows"] == 6 and stats["val_rows"] == 0
    assert stats["mean_words"] == pytest.approx((6 + 5 + 5) / 3)
    assert json.loads((tmp_path / "corpus" / "stats.json").read_text())["pairs"] == 3
    loaded = VideoBertTokenizer.from_pretrained(tmp_path / "corpus" / "tokenizer")
    assert loaded.num_visual_words == N_WORDS
    assert {r["video_id"] for r in Manifest(tmp_path).records("tokenize")} == {"a", "b"}


def test_annotations_subset_and_bad_tokens(tmp_path, tok) -> None:
    _make_work(tmp_path, {f"v{i}": np.arange(5) for i in range(4)})
    atomic_save_npy(WorkDir(tmp_path).token_file("bad"), np.array([1, 2, 999], dtype=np.int32))
    atomic_save_npy(WorkDir(tmp_path).token_times_file("bad"), _clip_times(3))
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"database": {"v1": {"subset": "validation"}, "v2": {"subset": "training"}}}))
    stats = build_corpus(tmp_path, annotations=ann, tokenizer=tok, val_fraction=0.0)
    val = pq.read_table(tmp_path / "corpus" / "val.parquet").column("video_id").to_pylist()
    assert set(val) == {"v1"}
    assert len(stats["skipped_videos"]) == 1 and "bad.npy" in stats["skipped_videos"][0]
    assert Manifest(tmp_path).latest("tokenize")["bad"]["status"] == "skipped"


def test_missing_stage(tmp_path, tok) -> None:
    with pytest.raises(StageMissingError):
        build_corpus(tmp_path, tokenizer=tok)


def test_cli_finds_transcripts_beside_videos(tmp_path) -> None:
    _make_work(tmp_path, {"clip": np.arange(6)})
    vids = tmp_path / "videos"
    vids.mkdir()
    (vids / "clip.mp4").write_bytes(b"")
    write_srt(vids / "clip.srt", [Segment(0.0, 3.0, "stir the yellow sauce")])
    Manifest(tmp_path).append(
        {"stage": "extract/x", "video_id": "clip", "path": str(vids / "clip.mp4"), "status": "ok"}
    )
    assert main(["tokenize", str(tmp_path), "--val-fraction", "0"]) == 0
    rows = pq.read_table(tmp_path / "corpus" / "train.parquet").to_pylist()
    assert [(r["text"], r["visual_ids"]) for r in rows] == [("stir the yellow sauce", [0, 1, 2])]


def test_transcribe_output_in_work_is_read_and_missing_transcripts_are_counted(tmp_path, tok, caplog) -> None:
    """``videobert transcribe``'s ``WORK/transcripts/<id>.json`` (Whisper layout, word times) is
    found without --transcripts; videos without any transcript are counted and named."""
    _make_work(tmp_path, {"-yt1": np.arange(10) % N_WORDS, "yt2": np.arange(8) % N_WORDS})
    whisper = {
        "text": " Cut the onion. Now fry it.", "language": "en",
        "segments": [{"start": 1.0, "end": 5.0, "text": " Cut the onion. Now fry it.", "words": [
            {"word": " Cut", "start": 1.0, "end": 1.4, "probability": 0.9},
            {"word": " the", "start": 1.4, "end": 1.6, "probability": 0.9},
            {"word": " onion.", "start": 1.6, "end": 2.2, "probability": 0.9},
            {"word": " Now", "start": 3.6, "end": 3.9, "probability": 0.9},
            {"word": " fry", "start": 3.9, "end": 4.3, "probability": 0.9},
            {"word": " it.", "start": 4.3, "end": 5.0, "probability": 0.9}]}],
    }  # fmt: skip
    atomic_write_json(WorkDir(tmp_path).transcript_file("-yt1"), whisper)
    caplog.set_level("WARNING")
    stats = build_corpus(tmp_path, tokenizer=tok, val_fraction=0.0, sentences=None)
    rows = pq.read_table(tmp_path / "corpus" / "train.parquet").to_pydict()
    texts = [t for v, t in zip(rows["video_id"], rows["text"], strict=True) if v == "-yt1"]
    assert " ".join(texts).split() == ["Cut", "the", "onion.", "Now", "fry", "it."]
    assert stats["videos_with_transcript"] == 1
    assert stats["videos_without_transcript"] == 1 and stats["first_without_transcript"] == ["yt2"]
    assert "1 of 2 videos have no transcript (first: yt2)" in caplog.text
    # no transcript anywhere: said loudly, with what to do
    (WorkDir(tmp_path).transcript_file("-yt1")).unlink()
    caplog.clear()
    stats = build_corpus(tmp_path, tokenizer=tok, val_fraction=0.0)
    assert stats["videos_with_text"] == 0
    assert "none of the 2 videos has a transcript" in caplog.text and "videobert transcribe" in caplog.text
