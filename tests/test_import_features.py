"""``videobert import-features``: released per-video arrays as a feature set that fit-vocab, tokenize
and the processor read like extracted ones (real files, real PyAV videos, the classical backbone)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from videobert.cli import main
from videobert.datasets.synthetic import synthesize
from videobert.errors import InputFileError, VideoBertError
from videobert.features.importer import collect_arrays, grid_times, import_features
from videobert.processor import VideoBertProcessor, feature_spec_from_info
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.utils.manifest import Manifest
from videobert.vocab.hkmeans import HierarchicalKMeans
from videobert.workdir import WorkDir

D = 6


def _rows(work: Path, split: str) -> list[dict]:
    return pq.read_table(work / "corpus" / f"{split}.parquet").to_pylist()


def test_imported_arrays_give_the_corpus_extraction_gives(tmp_path: Path) -> None:
    """Extract on a 1 s grid, copy the arrays out as plain <id>.npy, import them with step=1 window=1:
    fit-vocab + tokenize give identical visual words, clip times and corpus rows."""
    src = tmp_path / "src"
    synthesize(src, n_videos=4, seed=1, width=64, height=48, max_steps_per_video=2, progress=False)
    videos, ann = src / "videos", src / "annotations.json"
    w1, w2, released = tmp_path / "extracted", tmp_path / "imported", tmp_path / "released" / "features"
    grid = ["clips.fps=10", "clips.frames=10", "clips.partial=drop"]  # 1 s clips every 1 s
    assert main(["-q", "extract", str(videos), "--work", str(w1), "--backbone", "classical", "--no-progress", *grid]) == 0
    ids = WorkDir(w1).feature_ids("classical")
    assert len(ids) == 4
    released.mkdir(parents=True)
    for vid in ids:  # what a release ships: the arrays alone, float32, no clip times
        np.save(released / f"{vid}.npy", np.load(WorkDir(w1).feature_file("classical", vid)).astype(np.float32))
    assert main(["-q", "import-features", str(released), "--work", str(w2), "--name", "released", "step=1",
                 "window=1", "--no-progress"]) == 0  # fmt: skip
    for work in (w1, w2):
        assert main(["-q", "fit-vocab", str(work), "--levels", "2", "--branching", "3", "niter=5"]) == 0
        assert main(["-q", "tokenize", str(work), "--transcripts", str(videos), "--annotations", str(ann)]) == 0
    for vid in ids:
        for f in (WorkDir.token_file, WorkDir.token_times_file):
            a, b = np.load(f(WorkDir(w1), vid)), np.load(f(WorkDir(w2), vid))
            assert a.dtype == b.dtype and np.array_equal(a, b), (vid, f.__name__)
    assert np.array_equal(np.load(WorkDir(w2).feature_times_file("released", ids[0]))[:3], [[0, 1], [1, 2], [2, 3]])
    for split in ("train", "val"):
        assert _rows(w1, split) == _rows(w2, split)
    # the clip times matter: 2 s windows on the same rows move the clips' midpoints, and the rows
    w3 = tmp_path / "wide"
    assert main(["-q", "import-features", str(released), "--work", str(w3), "--name", "released", "window=2",
                 "--no-progress"]) == 0  # fmt: skip
    assert main(["-q", "fit-vocab", str(w3), "--levels", "2", "--branching", "3", "niter=5"]) == 0
    assert main(["-q", "tokenize", str(w3), "--transcripts", str(videos), "--annotations", str(ann)]) == 0
    assert _rows(w3, "train") != _rows(w1, "train")
    train = _rows(w2, "train")
    assert len(train) > 4 and any(r["text"] and r["visual_ids"] for r in train)
    info = json.loads((w2 / "features" / "released" / "info.json").read_text())
    assert info == {"backbone": "released", "dim": int(np.load(released / f"{ids[0]}.npy").shape[1]), "imported": True,
                    "step": 1.0, "window": 1.0, "offset": 0.0, "source": [str(released.resolve())], "times": []}  # fmt: skip
    vocab = json.loads((w2 / "vocab" / "config.json").read_text())
    assert vocab["backbone"] == "released"


@pytest.fixture
def arrays(tmp_path: Path) -> Path:
    """A release folder with good and bad arrays of several kinds."""
    rng = np.random.default_rng(0)
    d = tmp_path / "features"
    (d / "part1").mkdir(parents=True)
    np.save(d / "part1" / "-GLd3aX16zB.npy", rng.normal(size=(5, D)).astype(np.float32))  # YouTube id with '-'
    np.save(d / "f64.npy", rng.normal(size=(3, D)))  # float64
    np.savez(d / "one.npz", rng.normal(size=(4, D)).astype(np.float16))  # its single array
    np.savez(d / "named.npz", feats=rng.normal(size=(2, D)), other=np.zeros(3))  # needs key=feats
    nan = rng.normal(size=(4, D)).astype(np.float32)
    nan[1, 2], nan[3, 0] = np.nan, np.inf
    np.save(d / "holes.npy", nan)
    np.save(d / "allnan.npy", np.full((2, D), np.nan, dtype=np.float32))
    np.save(d / "wide.npy", rng.normal(size=(3, D + 2)).astype(np.float32))  # another D
    np.save(d / "flat.npy", rng.normal(size=(7,)).astype(np.float32))  # 1-D
    np.save(d / "ints.npy", np.ones((3, D), dtype=np.int64))
    np.save(d / "huge.npy", np.full((2, D), 1e6, dtype=np.float32))  # beyond float16
    (d / "torn.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    np.save(d / "own.npy", rng.normal(size=(3, D)).astype(np.float32))
    np.save(d / "own.times.npy", np.array([[0.0, 2.0], [1.5, 3.0], [4.0, 4.5]]))  # per-clip times beside it
    np.save(d / "back.npy", rng.normal(size=(2, D)).astype(np.float32))
    np.save(d / "back.times.npy", np.array([[3.0, 4.0], [1.0, 2.0]]))  # not increasing
    return d


def test_import_checks_every_array_and_goes_on(arrays: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    work = tmp_path / "work"
    with caplog.at_level(logging.WARNING):
        summary = import_features(arrays, work, name="hm", step=0.5, window=1.5, offset=2.0, progress=False)
    wd = WorkDir(work)
    ok = {"-GLd3aX16zB", "f64", "one", "holes", "own"}
    assert set(wd.feature_ids("hm")) == ok and summary["done"] == 5 and summary["dim"] == D
    reasons = summary["skipped"]
    assert set(reasons) == {"named", "allnan", "wide", "flat", "ints", "huge", "torn", "back"}
    assert "holds 2 arrays (feats, other); name the features with key=NAME" in reasons["named"]
    assert "every one of its 2 rows holds NaN or inf" in reasons["allnan"]
    assert f"feature dim {D + 2} differs from the feature set's {D}" in reasons["wide"]
    assert "must be 2-D" in reasons["flat"] and "floating point" in reasons["ints"] and "cannot read" in reasons["torn"]
    assert "exceed float16's range" in reasons["huge"]
    assert reasons["back"].startswith(str(arrays / "back.times.npy")) and "clip starts must increase" in reasons["back"]
    for vid in ok:
        x, t = np.load(wd.feature_file("hm", vid)), np.load(wd.feature_times_file("hm", vid))
        assert x.dtype == np.float16 and x.shape[1] == D and t.dtype == np.float64 and t.shape == (x.shape[0], 2)
    # the grid: row k = [2 + 0.5 k, 2 + 0.5 k + 1.5)
    np.testing.assert_array_equal(np.load(wd.feature_times_file("hm", "f64")), [[2, 3.5], [2.5, 4], [3, 4.5]])
    np.testing.assert_array_equal(np.load(wd.feature_file("hm", "f64")), np.load(arrays / "f64.npy").astype(np.float16))
    np.testing.assert_array_equal(np.load(wd.feature_times_file("hm", "own")), np.load(arrays / "own.times.npy"))
    # NaN / inf rows are dropped with their times; the others keep theirs
    np.testing.assert_array_equal(np.load(wd.feature_times_file("hm", "holes")), [[2, 3.5], [3, 4.5]])
    np.testing.assert_array_equal(np.load(wd.feature_file("hm", "holes")), np.load(arrays / "holes.npy")[[0, 2]].astype(np.float16))
    assert summary["dropped_rows"] == 2 and any("dropped 2 of 4 rows" in r.getMessage() for r in caplog.records)
    records = Manifest(work).latest("extract/hm")
    assert records["holes"]["status"] == "ok" and records["holes"]["dropped_rows"] == 2 and records["holes"]["n_clips"] == 2
    assert records["own"]["times"] == str(arrays / "own.times.npy") and records["f64"]["times"] == "grid"
    assert records["wide"]["status"] == "skipped" and records["wide"]["array"] == str(arrays / "wide.npy")
    assert records["wide"]["error"] == reasons["wide"] and "\n" not in records["wide"]["error"]
    assert "own.times" not in records and "back.times" not in records  # times files are not videos
    info = json.loads((wd.features("hm") / "info.json").read_text())
    assert (info["step"], info["window"], info["offset"], info["dim"], info["imported"]) == (0.5, 1.5, 2.0, D, True)

    # the key names the .npz array; finished videos are not redone
    before = os.stat(wd.feature_file("hm", "f64")).st_mtime_ns
    again = import_features(arrays, work, name="hm", step=0.5, window=1.5, offset=2.0, key="feats", progress=False)
    assert again["already_done"] == 5 and again["done"] == 1 and "named" in wd.feature_ids("hm")
    assert os.stat(wd.feature_file("hm", "f64")).st_mtime_ns == before

    # other settings into the non-empty folder are refused, naming them
    with pytest.raises(VideoBertError, match=r"other settings \(step: \[0.5\] vs \[1.0\]\)"):
        import_features(arrays, work, name="hm", step=1.0, window=1.5, offset=2.0, progress=False)


def test_ids_times_folder_and_user_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a, b = tmp_path / "rel" / "a", tmp_path / "rel" / "b"
    for folder in (a, b):
        folder.mkdir(parents=True)
        np.save(folder / "x.npy", rng.normal(size=(2, D)).astype(np.float32))
    with pytest.raises(InputFileError, match=r"video id 'x' is also the id of .*a/x.npy"):
        collect_arrays(tmp_path / "rel")
    assert set(collect_arrays(tmp_path / "rel", ids="path")) == {"a__x", "b__x"}
    (b / "x.npy").unlink()
    np.save(a / "y.npy", rng.normal(size=(3, D)).astype(np.float32))
    times = tmp_path / "times"
    times.mkdir()
    np.save(times / "x.times.npy", np.array([[0.0, 0.5], [0.5, 1.0]]))
    work = tmp_path / "work"
    sources = tmp_path / "videos" / "training" / "101"
    sources.mkdir(parents=True)
    (sources / "x.webm").write_bytes(b"")  # the source video, for the gallery and transcripts beside it
    s = import_features(tmp_path / "rel", work, name="t", times=times, videos=tmp_path / "videos", progress=False)
    np.testing.assert_array_equal(np.load(WorkDir(work).feature_times_file("t", "x")), [[0, 0.5], [0.5, 1]])
    assert s["done"] == 1 and "no clip times <id>.npy for 'y'" in s["skipped"]["y"]
    assert WorkDir(work).source_videos() == {"x": sources / "x.webm"}
    assert Manifest(work).latest("extract/t")["y"]["path"] is None
    with pytest.raises(VideoBertError, match="name the feature set with --name"):
        import_features(tmp_path / "rel", work)
    with pytest.raises(VideoBertError, match="step must be a positive number"):
        import_features(tmp_path / "rel", work, name="u", step=0)
    with pytest.raises(VideoBertError, match="none of the 1 array"):
        np.save(tmp_path / "bad.npy", np.zeros(3))
        import_features([tmp_path / "bad.npy"], tmp_path / "w3", name="v", progress=False)
    np.testing.assert_array_equal(grid_times(2, 1.0, 2.0), [[0, 2], [1, 3]])


def test_cli_import_then_extract_refuses_the_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rel = tmp_path / "rel"
    rel.mkdir()
    np.save(rel / "v.npy", np.ones((3, D), dtype=np.float32))
    work = tmp_path / "work"
    assert main(["-q", "import-features", str(rel), "--work", str(work), "--name", "classical", "--step", "2",
                 "window=3", "--no-progress"]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.load(WorkDir(work).feature_times_file("classical", "v"))[:, 0], [0, 2, 4])
    caplog.clear()
    assert main(["import-features", str(rel), "--work", str(work), "--no-progress"]) == 1
    assert "name the feature set with --name" in caplog.text
    from videogen import write_video

    vids = tmp_path / "videos"
    vids.mkdir()
    write_video(vids / "w.mp4", np.full((20, 32, 32, 3), 90, dtype=np.uint8), fps=10)
    caplog.clear()
    assert main(["extract", str(vids), "--work", str(work), "--backbone", "classical", "--no-progress"]) == 1
    assert "existing features were made with other settings" in caplog.text


def test_processor_of_imported_features_says_it_cannot_extract(tmp_path: Path) -> None:
    info = {"backbone": "howto", "dim": D, "imported": True, "step": 1.0, "window": 1.0, "offset": 0.0}
    spec = feature_spec_from_info(info)
    assert spec["imported"] and spec["clips"] is None and spec["dim"] == D
    x = np.random.default_rng(0).normal(size=(40, D)).astype(np.float32)
    vocab = HierarchicalKMeans(levels=1, branching=4, seed=0, niter=3).fit(x)
    proc = VideoBertProcessor(VideoBertTokenizer.from_bert(None, num_visual_words=4), vocab, {"method": "tree"}, spec)
    words, times = proc.visual_words(features=x[:5])
    assert times is None and words.shape == (5,) and np.array_equal(words, vocab.assign(x[:5]))
    with pytest.raises(VideoBertError, match=r"'howto' were imported \(videobert import-features\), not extracted"):
        proc.visual_words(video=tmp_path / "new.mp4")
    with pytest.raises(VideoBertError, match="features=\\(n_clips, 6\\)"):
        proc.visual_words(frames=np.zeros((10, 8, 8, 3), np.uint8))
    assert proc.describe_features() == "`howto` (6-d), imported (one row per 1 s, 1 s windows)"
    proc.save_pretrained(tmp_path / "p")
    again = VideoBertProcessor.from_pretrained(tmp_path / "p")
    assert again.feature_spec["imported"] is True and np.array_equal(again.visual_words(features=x[:5])[0], words)
