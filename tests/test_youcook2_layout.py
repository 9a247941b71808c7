"""A user's YouCook2 download as it comes: ``raw_videos/<subset>/<recipe_type>/<youtube_id>.<ext>``
(mp4, mkv and webm mixed), the real annotation file's fields (no verb/noun), annotated videos that
are missing from the download, transcripts for some videos only. Every stage runs through the CLI,
videos are named by their YouTube ids (one starts with ``-``), the annotations' subsets decide the
split, and tokenize and the tasks state what they found and what is missing."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from videobert.cli import main
from videobert.datasets.synthetic import synthesize
from videobert.utils.manifest import Manifest

# YouTube ids: 11 characters of [A-Za-z0-9_-]; one starts with "-" (an argparse hazard), one has "_"
IDS = ["-3dLx9Qp1aZ", "GLd3aX16zBg", "xHr8X2Wpmno", "Zg_7aa9QnEw", "oDsUh1es_lo", "9sT2kLmNoPq",
       "a1B2c3D4e5F", "QWERTYuiop1", "mnbVCXz_123", "Lk-JhGfDsA0", "pO9iU8yT7rE", "zzTop0Rock1"]  # fmt: skip
MISSING = ["NotDownload", "GoneVideo01", "PrivateVid2"]  # annotated, not in the download
EXTS = {"h264": ".mp4", "ffv1": ".mkv", "vp9": ".webm"}
TINY_PRETRAIN = [
    "init=random", "model.hidden_size=32", "model.num_hidden_layers=2", "model.num_attention_heads=2",
    "model.intermediate_size=64", "max_steps=20", "batch_size=8", "warmup_steps=2", "eval_every=10",
    "eval_batches=2", "checkpoint_every=20", "log_every=5",
]  # fmt: skip


@pytest.fixture(scope="module")
def youcook2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The download: 12 videos in the real tree, 3 more annotated but absent; transcripts (SRT named
    by YouTube id) for all but two videos, in a separate folder as a user's ASR output would be."""
    root = tmp_path_factory.mktemp("yc2")
    gen = {}
    for codec in EXTS:  # the same 12 videos in three codecs; video i uses codec i % 3
        gen[codec] = root / f"gen-{codec}"
        synthesize(gen[codec], n_videos=len(IDS), seed=3, max_steps_per_video=3, subset_split=0.67,
                   codec=codec, progress=False)  # fmt: skip
    synth_db = json.loads((gen["h264"] / "annotations.json").read_text())["database"]
    raw, transcripts = root / "raw_videos", root / "asr"
    transcripts.mkdir()
    database = {}
    codecs = list(EXTS)
    for i, (synth_id, yid) in enumerate(zip(sorted(synth_db), IDS, strict=True)):
        entry = synth_db[synth_id]
        codec = codecs[i % 3]
        subset = entry["subset"]
        folder = raw / subset / str(entry["recipe_type"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(gen[codec] / "videos" / f"{synth_id}{EXTS[codec]}", folder / f"{yid}{EXTS[codec]}")
        if i not in (4, 9):
            shutil.copy(gen["h264"] / "videos" / f"{synth_id}.srt", transcripts / f"{yid}.srt")
        database[yid] = {  # the real file's fields: no verb, no noun
            "duration": entry["duration"], "subset": subset, "recipe_type": entry["recipe_type"],
            "video_url": f"https://www.youtube.com/watch?v={yid}",
            "annotations": [{"segment": a["segment"], "id": a["id"], "sentence": a["sentence"]}
                            for a in entry["annotations"]],
        }  # fmt: skip
    for k, yid in enumerate(MISSING):
        database[yid] = {"duration": 100.0, "subset": ["training", "validation", "validation"][k],
                         "recipe_type": "101", "video_url": "", "annotations": [{"segment": [1, 5], "id": 0,
                         "sentence": "chop the onion"}]}  # fmt: skip
    ann = root / "annotations" / "youcookii_annotations_trainval.json"
    ann.parent.mkdir()
    ann.write_text(json.dumps({"database": database}))
    return {"raw": raw, "ann": ann, "transcripts": transcripts, "root": root, "db": database}


def test_youcook2_download_runs_with_its_ids_and_split(youcook2: dict[str, Path], caplog) -> None:
    db = youcook2["db"]
    work = youcook2["root"] / "work"
    ann = str(youcook2["ann"])
    exts = sorted({p.suffix for p in youcook2["raw"].rglob("*.*")})
    assert exts == [".mkv", ".mp4", ".webm"]
    assert main(["extract", str(youcook2["raw"]), "--work", str(work), "backbone=classical", "progress=false"]) == 0
    extracted = Manifest(work).latest("extract/classical")
    assert sorted(extracted) == sorted(IDS) and all(r["status"] == "ok" for r in extracted.values())
    assert main(["fit-vocab", str(work), "levels=1", "branching=8", "backbone=classical"]) == 0

    caplog.set_level(logging.INFO)
    assert main(["tokenize", str(work), "--transcripts", str(youcook2["transcripts"]), "--annotations", ann]) == 0
    stats = json.loads((work / "corpus" / "stats.json").read_text())
    cov = stats["annotations"]
    n_train = sum(db[v]["subset"] == "training" for v in IDS)
    assert (cov["annotated"], cov["found"], cov["missing"]) == (15, 12, 3)
    assert sorted(cov["first_missing"]) == sorted(MISSING)
    assert cov["by_subset"]["training"] == {"annotated": n_train + 1, "found": n_train}
    assert cov["by_subset"]["validation"] == {"annotated": 12 - n_train + 2, "found": 12 - n_train}
    assert stats["videos_without_transcript"] == 2
    assert sorted(stats["first_without_transcript"]) == sorted([IDS[4], IDS[9]])
    assert "12 of 15 annotated videos have visual words" in caplog.text
    # the split follows the annotations' subset, video by video
    splits = {r["video_id"]: r["split"] for r in Manifest(work).latest("tokenize").values()}
    assert splits == {v: "train" if db[v]["subset"] == "training" else "val" for v in IDS}
    for split, want in (("train", "training"), ("val", "validation")):
        rows = pq.read_table(work / "corpus" / f"{split}.parquet").to_pydict()
        assert {db[v]["subset"] for v in rows["video_id"]} == {want}
        assert any(t for t in rows["text"])  # the transcripts were found by YouTube id

    assert main(["pretrain", str(work), *TINY_PRETRAIN]) == 0
    for task, extra in (("classify", ["folds=2"]), ("retrieve", ["epochs=1", "max_segments=16"])):
        assert main([task, str(work), "--annotations", ann, *extra]) == 0
        report = json.loads((work / "reports" / f"{task}.json").read_text())
        assert report["coverage"]["found"] == 12 and report["coverage"]["missing"] == 3
    # zero-shot on the real file's fields: verbs and nouns come from the captions (POS tagger)
    pytest.importorskip("spacy")
    assert main(["zero-shot", str(work), "--annotations", ann]) == 0
    zs = json.loads((work / "reports" / "zero-shot.json").read_text())
    assert zs["labels"]["source"] == "tagger" and zs["n"] > 0
    for key in ("verb_top1", "verb_top5", "noun_top1", "noun_top5"):
        lo, hi = zs["intervals"]["metrics"][key]
        assert lo <= zs["metrics"][key] <= hi
    classify = json.loads((work / "reports" / "classify.json").read_text())
    assert classify["n"] == 12 - n_train  # every validation video of the download, and only those
    retrieve = json.loads((work / "reports" / "retrieve.json").read_text())
    assert retrieve["n"] > 0
