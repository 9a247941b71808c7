"""Fault injection: bad inputs, damaged files, interrupted and failing writes, through every stage.

Each case starts from a copy of one small real pipeline run (synthetic videos -> classical features
-> visual words -> corpus -> a tiny pretrained model) and asserts the contract of issue 18: a
one-line message naming the file, key or id (never a traceback), the batch finishing where it can,
results that were already good unchanged (hashes), and no id or file reaching outside WORK.
The SIGKILL-and-resume cases of extraction and pretraining live in test_features_extract.py and
test_pretrain.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videobert.cli import main
from videobert.datasets.synthetic import synthesize
from videobert.workdir import WorkDir

PRETRAIN = ["init=random", "model.hidden_size=32", "model.num_hidden_layers=2", "model.num_attention_heads=2",
            "model.intermediate_size=64", "max_steps=4", "batch_size=4", "warmup_steps=1", "eval_every=0",
            "eval_batches=1", "log_every=1", "checkpoint_every=2", "keep_last=0", "deterministic=true",
            "--device", "cpu"]  # fmt: skip


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree_digests(folder: Path, pattern: str = "*.npy") -> dict[str, str]:
    return {str(p.relative_to(folder)): _digest(p) for p in sorted(folder.rglob(pattern)) if p.is_file()}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    torch.set_num_threads(1)  # as every test runs (conftest): the fallback resume is then bit-identical
    root = tmp_path_factory.mktemp("faults")
    src, work = root / "src", root / "work"
    synthesize(src, n_videos=6, seed=5, width=64, height=48, max_steps_per_video=2, progress=False)
    videos, ann = src / "videos", src / "annotations.json"
    assert main(["-q", "extract", str(videos), "--work", str(work), "--backbone", "classical", "--no-progress"]) == 0
    assert main(["-q", "fit-vocab", str(work), "--levels", "2", "--branching", "3", "niter=5"]) == 0
    assert main(["-q", "tokenize", str(work), "--transcripts", str(videos), "--annotations", str(ann)]) == 0
    assert main(["-q", "pretrain", str(work), *PRETRAIN]) == 0
    return {"root": root, "work": work, "videos": videos, "annotations": ann}


@pytest.fixture
def work(base: dict[str, Path], tmp_path: Path) -> Path:
    """A fresh copy of the base run's work directory."""
    return Path(shutil.copytree(base["work"], tmp_path / "work", symlinks=True))


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]


def _fails_with(argv: list[str], caplog: pytest.LogCaptureFixture, *parts: str) -> str:
    """Run the CLI in process: exit status 1 and exactly one error line holding ``parts``."""
    caplog.clear()
    caplog.set_level("WARNING")
    assert main([str(a) for a in argv]) == 1
    errors = _errors(caplog)
    assert len(errors) == 1 and "\n" not in errors[0], errors
    for part in parts:
        assert part in errors[0], (part, errors[0])
    return errors[0]


# ----------------------------------------------------------------------------------------------
# 1. a file contract that cannot collide; ids checked before any path
# ----------------------------------------------------------------------------------------------


def test_x_and_x_times_are_two_videos(base: dict[str, Path], tmp_path: Path) -> None:
    vids = tmp_path / "vids"
    vids.mkdir()
    one = sorted(base["videos"].glob("*.mp4"))
    shutil.copy(one[0], vids / "x.mp4")
    shutil.copy(one[1], vids / "x.times.mp4")
    work = tmp_path / "w"
    assert main(["-q", "extract", str(vids), "--work", str(work), "--backbone", "classical", "--no-progress"]) == 0
    assert main(["-q", "fit-vocab", str(work), "--levels", "1", "--branching", "2"]) == 0
    assert main(["-q", "tokenize", str(work), "val_fraction=0"]) == 0
    import pyarrow.parquet as pq

    ids = set(pq.read_table(work / "corpus" / "train.parquet").column("video_id").to_pylist())
    assert ids == {"x", "x.times"}
    wd = WorkDir(work)
    assert len(np.load(wd.feature_file("classical", "x"))) != len(np.load(wd.feature_file("classical", "x.times")))


@pytest.mark.parametrize("bad_id", ["../../outside", "/abs/outside", "a/b", ".hidden", ""])
def test_traversal_ids_never_reach_the_filesystem(work: Path, base: dict[str, Path], bad_id: str, caplog) -> None:
    # an annotation key, a manifest record and a corpus-side id naming a file outside WORK
    (work.parent / "outside.npy").write_bytes(b"not a numpy file")
    db = json.loads(base["annotations"].read_text())
    db["database"][bad_id] = {"subset": "validation", "annotations": [{"segment": [0, 2], "sentence": "x", "verb": "cut", "noun": "egg"}]}
    ann = work / "annotations.json"
    ann.write_text(json.dumps(db))
    WorkDir(work).manifest.append({"stage": "extract/classical", "video_id": bad_id, "path": "/etc/passwd", "status": "ok"})
    # transcript files whose names are no video id ("..srt" has the id ".")
    subs = work.parent / "subs"
    shutil.copytree(base["videos"], subs, ignore=shutil.ignore_patterns("*.mp4"))
    (subs / "..srt").write_text((sorted(subs.glob("*.srt"))[0]).read_text())
    (subs / "nested" / "..").mkdir(parents=True, exist_ok=True)
    caplog.set_level("WARNING")
    assert main(["-q", "tokenize", str(work), "--transcripts", str(subs), "--annotations", str(ann)]) == 0
    assert main(["-q", "zero-shot", str(work), "--annotations", str(ann)]) == 0
    assert main(["-q", "gallery", str(work), "top_n=2", "per_word=1"]) == 0
    assert (work.parent / "outside.npy").read_bytes() == b"not a numpy file"
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot name a file" in warnings
    from videobert.workdir import InvalidVideoIdError, check_video_id

    with pytest.raises(InvalidVideoIdError):
        check_video_id(bad_id)


def test_an_older_layout_is_upgraded_in_place(work: Path) -> None:
    wd = WorkDir(work)
    before = _tree_digests(wd.tokens)
    for folder in (wd.tokens, wd.features("classical")):  # back to the layout of videobert 0.1
        for p in (folder / "clip_times").glob("*.npy"):
            os.replace(p, folder / f"{p.stem}.times.npy")
        (folder / "clip_times").rmdir()
    assert wd.require().upgrade() == 0  # require() did it
    assert _tree_digests(wd.tokens) == before
    assert main(["-q", "tokenize", str(work)]) == 0


# ----------------------------------------------------------------------------------------------
# 2. stages check what the stage before them left
# ----------------------------------------------------------------------------------------------


def test_one_work_dir_holds_one_set_of_clip_settings(work: Path, base: dict[str, Path], tmp_path: Path, caplog) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(sorted(base["videos"].glob("*.mp4"))[0], other / "new.mp4")  # not one of the run's videos
    before = _tree_digests(work / "features")
    _fails_with(["extract", other, "--work", work, "--backbone", "classical", "--clip-frames", "20"], caplog,
                "other settings", "clip_frames")  # fmt: skip
    assert _tree_digests(work / "features") == before


def test_tokenize_refuses_a_half_assigned_vocabulary(work: Path, caplog) -> None:
    wd = WorkDir(work)
    for vid in wd.token_ids()[:2]:  # as a killed fit-vocab leaves it
        wd.token_file(vid).unlink()
    _fails_with(["tokenize", work], caplog, "2 of 6 extracted videos have no visual words", "fit-vocab")
    assert main(["-q", "fit-vocab", str(work), "--levels", "2", "--branching", "3", "niter=5"]) == 0
    assert main(["-q", "tokenize", str(work)]) == 0


def test_transcripts_as_users_name_them(work: Path, base: dict[str, Path], tmp_path: Path, caplog) -> None:
    from videobert.text.transcripts import find_transcripts

    _fails_with(["tokenize", work, "--transcripts", tmp_path / "missing"], caplog, "missing", "transcripts folder not found")
    t = tmp_path / "subs"
    t.mkdir()
    srt = sorted(base["videos"].glob("*.srt"))
    shutil.copy(srt[0], t / f"{srt[0].stem}.en.srt")  # as yt-dlp names subtitles: name.en.srt
    shutil.copy(srt[1], t / f"{srt[1].stem}.de.srt")  # the only language: used
    shutil.copy(srt[2], t / f"{srt[2].stem}.de.srt")
    shutil.copy(srt[2], t / f"{srt[2].stem}.fr.srt")  # two, neither English: reported, none used
    shutil.copy(srt[3], t / f"{srt[3].stem}.srt")
    shutil.copy(srt[3], t / f"{srt[3].stem}.en.srt")  # the plain name wins
    caplog.set_level("WARNING")
    found = find_transcripts(t, [p.stem for p in srt])
    assert found == {srt[0].stem: t / f"{srt[0].stem}.en.srt", srt[1].stem: t / f"{srt[1].stem}.de.srt",
                     srt[3].stem: t / f"{srt[3].stem}.srt"}  # fmt: skip
    assert any("none in English" in r.getMessage() for r in caplog.records)
    # beside the videos (no --transcripts): the video's own folder, named the same ways
    from videobert.data.corpus import transcripts_beside_videos

    vid = sorted(base["videos"].glob("*.mp4"))[0]
    beside = tmp_path / "beside"
    beside.mkdir()
    shutil.copy(vid, beside / vid.name)
    shutil.copy(srt[0], beside / f"{vid.stem}.en.srt")
    WorkDir(work).manifest.append({"stage": "extract/classical", "video_id": vid.stem, "path": str(beside / vid.name), "status": "ok"})
    assert transcripts_beside_videos(WorkDir(work), [vid.stem]) == {vid.stem: beside / f"{vid.stem}.en.srt"}


def test_unusable_annotation_segments_are_left_out(work: Path, base: dict[str, Path], caplog) -> None:
    from videobert.data.annotations import load_annotations, load_segments

    db = json.loads(base["annotations"].read_text())
    vid = sorted(v for v, e in db["database"].items() if e["subset"] == "validation")[0]
    anns = db["database"][vid]["annotations"]
    good = len(anns)
    anns += [{"segment": [5, 2], "sentence": "reversed"}, {"segment": [-3, -1], "sentence": "negative"},
             {"segment": [1e6, 1e6 + 3], "sentence": "after the end"}, {"sentence": "no segment"},
             {"segment": ["a", 2], "sentence": "not numbers"}, {"segment": [0, "Infinity"], "sentence": "inf"}]  # fmt: skip
    ann = work / "annotations.json"
    ann.write_text(json.dumps(db).replace('"Infinity"', "Infinity"))
    caplog.set_level("WARNING")
    segs = [s for s in load_segments(load_annotations(ann), work, "validation") if s.video_id == vid]
    assert len(segs) == good
    assert sum("skipped" in r.getMessage() for r in caplog.records) >= 6


def test_subset_aliases(work: Path, base: dict[str, Path]) -> None:
    db = json.loads(base["annotations"].read_text())
    alias = {"training": "train", "validation": "val"}
    for e in db["database"].values():
        e["subset"] = alias.get(e["subset"], e["subset"])
    ann = work / "aliases.json"
    ann.write_text(json.dumps(db))
    assert main(["-q", "tokenize", str(work), "--annotations", str(ann)]) == 0
    stats = json.loads((work / "corpus" / "stats.json").read_text())
    n_val = sum(e["subset"] == "val" for e in db["database"].values())
    assert stats["val_videos"] == n_val and stats["train_videos"] == 6 - n_val  # not every video in val


def test_transcript_times_that_are_not_finite(tmp_path: Path) -> None:
    from videobert.text.transcripts import read_transcript

    p = tmp_path / "t.json"
    p.write_text('[{"start": 0, "end": 2, "text": "cut it"}, {"start": 4, "end": Infinity, "text": "forever"},'
                 ' {"start": NaN, "end": 5, "text": "never"}]')  # fmt: skip
    tr = read_transcript(p)
    assert [s.text for s in tr.segments] == ["cut it"] and len(tr.skipped) == 2


def test_extract_fails_when_no_input_is_usable(tmp_path: Path, caplog) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.mp4").write_bytes(b"\x00" * 100)
    (bad / "b.3gp").write_bytes(b"not a video")  # .3gp and .MTS are videos too
    (bad / "c.MTS").write_bytes(b"")
    (bad / "gone.mp4").symlink_to(bad / "nowhere.mp4")  # a link to nothing: reported
    caplog.set_level("WARNING")
    _fails_with(["extract", bad, "--work", tmp_path / "w", "--backbone", "classical", "--no-progress"], caplog,
                "none of the 3 video(s) could be used")  # fmt: skip
    assert any("does not exist" in r.getMessage() for r in caplog.records)
    records = WorkDir(tmp_path / "w").manifest.latest("extract/classical")
    assert set(records) == {"a", "b", "c"} and all(r["status"] == "skipped" for r in records.values())


def test_an_empty_transcript_is_reported(work: Path, base: dict[str, Path], tmp_path: Path) -> None:
    t = tmp_path / "subs"
    shutil.copytree(base["videos"], t, ignore=shutil.ignore_patterns("*.mp4"))
    empty = sorted(t.glob("*.srt"))[0]
    empty.write_text("")
    assert main(["-q", "tokenize", str(work), "--transcripts", str(t)]) == 0
    stats = json.loads((work / "corpus" / "stats.json").read_text())
    assert stats["empty_transcripts"] == [str(empty)] and stats["video_only_rows"] >= 1


# ----------------------------------------------------------------------------------------------
# 3. one bad item never stops a batch; nothing good is lost
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "wrong_dim", "not_numpy"])
def test_a_bad_features_file_does_not_stop_fit_vocab(work: Path, damage: str) -> None:
    wd = WorkDir(work)
    vids = wd.feature_ids("classical")
    victim = wd.feature_file("classical", vids[0])
    data = victim.read_bytes()
    if damage == "truncated":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "wrong_dim":
        np.save(victim, np.zeros((3, 7), np.float16))
    else:
        victim.write_bytes(b"garbage")
    assert main(["-q", "fit-vocab", str(work), "--levels", "2", "--branching", "3", "niter=5"]) == 0
    records = wd.manifest.latest("tokens")
    assert records[vids[0]]["status"] == "skipped" and records[vids[0]]["error"]
    assert all(records[v]["status"] == "ok" and wd.token_file(v).is_file() for v in vids[1:])
    assert main(["-q", "tokenize", str(work)]) == 0  # the skipped video is known, not missing


def test_resume_falls_back_to_the_newest_intact_checkpoint(work: Path, base: dict[str, Path], caplog) -> None:
    from safetensors.numpy import load_file

    good = load_file(str(base["work"] / "checkpoints" / "step-4" / "model.safetensors"))
    newest = work / "checkpoints" / "step-4" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])  # a truncated newest checkpoint
    (work / "checkpoints" / "final.txt").write_text("step-2\n")
    caplog.set_level("WARNING")
    assert main(["-q", "pretrain", str(work), *PRETRAIN]) == 0
    assert any("damaged" in r.getMessage() and "step-4" in r.getMessage() for r in caplog.records)
    again = load_file(str(newest))
    assert again.keys() == good.keys() and all(np.array_equal(again[k], good[k]) for k in good)  # same run


# ----------------------------------------------------------------------------------------------
# 4. one line, never a traceback
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "parts"),
    [
        (["extract", "{videos}", "--work", "{tmp}/w", "--fps", "0"], ["fps must be positive"]),
        (["extract", "{videos}", "--work", "{tmp}/w", "--clip-frames", "0"], ["frames must be >= 1"]),
        (["extract", "{videos}", "--work", "{tmp}/w", "--stride", "0"], ["stride must be >= 1"]),
        (["extract", "{videos}", "--work", "{file}", "--backbone", "classical"], ["not a directory"]),
        (["pretrain", "{work}", "lr=-1"], ["lr must be > 0"]),
        (["fit-vocab", "{work}", "--levels", "0"], ["levels must be >= 1"]),
        (["fit-vocab", "{work}", "--branching", "1"], ["branching must be >= 2"]),
        (["tokenize", "{work}", "--val-fraction", "1.5"], ["val_fraction must be in [0, 1)"]),
        (["tokenize", "{work}", "--annotations", "{broken_json}"], ["broken.json", "not valid JSON"]),
        (["zero-shot", "{work}", "--annotations", "{no_db}"], ["no_db.json", "YouCook2 layout"]),
        (["extract", "{videos}", "--work", "{work}", "--backbone", "classical", "--shard", "3/2"], ["shard 3/2"]),
    ],
)
def test_bad_values_are_one_line(argv: list[str], parts: list[str], work: Path, base: dict[str, Path], tmp_path: Path, caplog) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "broken.json").write_text('{"database": {')
    (tmp_path / "no_db.json").write_text('{"videos": []}')
    names = {"videos": base["videos"], "tmp": tmp_path, "work": work, "file": tmp_path / "file",
             "broken_json": tmp_path / "broken.json", "no_db": tmp_path / "no_db.json"}  # fmt: skip
    _fails_with([a.format(**names) for a in argv], caplog, *parts)


def test_torchrun_variables_that_are_not_numbers(work: Path, base: dict[str, Path], tmp_path: Path, caplog, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "x")
    _fails_with(["extract", base["videos"], "--work", tmp_path / "w", "--backbone", "classical"], caplog, "RANK='x'")


@pytest.mark.parametrize("target", ["manifest", "info", "vocab", "tokens", "corpus", "checkpoint", "tokenizer", "trainer_state"])
def test_damaged_stage_outputs(work: Path, base: dict[str, Path], target: str, caplog) -> None:
    """Each file type the pipeline reads, damaged: one line naming it (or, for a torn manifest
    line, a warning and the run goes on)."""
    wd = WorkDir(work)
    ckpt = wd.resolve_checkpoint()
    new_video = work.parent / "new.mp4"  # one to extract, so that the feature settings are read
    shutil.copy(sorted(base["videos"].glob("*.mp4"))[0], new_video)
    if target == "manifest":
        with open(wd.manifest.path, "a", encoding="utf-8") as fh:
            fh.write('["not", "a", "record"]\n{"torn": \n')
        assert main(["-q", "fit-vocab", str(work), "--levels", "2", "--branching", "3", "niter=5"]) == 0
        warned = {r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "manifest" in r.getMessage()}
        assert any("not a record" in w for w in warned) and any("torn" in w for w in warned)
        return
    argv: list = {
        "info": ["extract", new_video, "--work", work, "--backbone", "classical"],
        "vocab": ["tokenize", work],
        "tokens": ["tokenize", work],
        "corpus": ["pretrain", work, *PRETRAIN, "max_steps=6", "--resume"],
        "checkpoint": ["zero-shot", work, "--annotations", base["annotations"]],
        "tokenizer": ["zero-shot", work, "--annotations", base["annotations"]],
        "trainer_state": ["pretrain", work, *PRETRAIN, "max_steps=6", "--resume"],
    }[target]
    path = {
        "info": wd.features("classical") / "info.json",
        "vocab": wd.vocab_config,
        "tokens": wd.token_times_file(wd.token_ids()[0]),
        "corpus": wd.corpus_split("train"),
        "checkpoint": ckpt / "model.safetensors",
        "tokenizer": ckpt / "tokenizer.json",
        "trainer_state": ckpt / "trainer_state.pt",
    }[target]
    if target == "trainer_state":
        for other in wd.checkpoints.glob("step-*"):  # every checkpoint damaged: nothing to resume
            (other / "trainer_state.pt").write_bytes(b"\x80\x04garbage")
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    caplog.clear()
    caplog.set_level("WARNING")
    rc = main([str(a) for a in argv])
    if target == "tokens":  # one bad video is skipped, the corpus is built from the others
        assert rc == 0 and any(wd.token_ids()[0] in r.getMessage() for r in caplog.records)
        return
    errors = _errors(caplog)
    assert rc == 1 and len(errors) == 1 and "\n" not in errors[0], errors


def test_malicious_pickles_and_yaml_tags_do_not_run(work: Path, tmp_path: Path, caplog) -> None:
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ckpt = WorkDir(work).resolve_checkpoint()
    for other in WorkDir(work).checkpoints.glob("step-*"):
        (other / "trainer_state.pt").write_bytes(pickle.dumps({"step": 2, "x": Evil()}))
    _fails_with(["pretrain", work, *PRETRAIN, "max_steps=6", "--resume"], caplog, "no checkpoint to resume")
    assert not marker.exists() and ckpt.is_dir()
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"lr: !!python/object/apply:os.system ['touch {marker}']\n")
    _fails_with(["pretrain", work, "--config", cfg], caplog, "evil.yaml", "not a valid YAML config file")
    assert not marker.exists()


# ----------------------------------------------------------------------------------------------
# 5. read-only and full file systems (a tmpfs the test mounts; skipped where it cannot)
# ----------------------------------------------------------------------------------------------


def _mount_tmpfs(where: Path, size: str, read_only: bool = False) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True).returncode == 0


@pytest.fixture
def small_fs(tmp_path: Path, request: pytest.FixtureRequest):
    mnt = tmp_path / "mnt"
    if os.geteuid() != 0 or not _mount_tmpfs(mnt, getattr(request, "param", "3m")):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_fails_with_one_line_and_keeps_the_run(work: Path, small_fs: Path, caplog) -> None:
    """Pretraining whose checkpoint does not fit: one line naming it; the checkpoints before stay."""
    (small_fs / "work").mkdir()
    for name in ("corpus", "vocab"):
        shutil.copytree(work / name, small_fs / "work" / name)
    wide = [*PRETRAIN, "model.hidden_size=256", "model.intermediate_size=512", "model.num_attention_heads=4"]
    msg = _fails_with(["pretrain", small_fs / "work", *wide], caplog, "cannot write")
    assert "disk" in msg or "No space" in msg
    assert not any(p.name.startswith(".tmp-") for p in (small_fs / "work" / "checkpoints").glob("*"))


@pytest.mark.parametrize("small_fs", ["64m"], indirect=True)
def test_a_read_only_work_dir_is_one_line(work: Path, small_fs: Path, caplog) -> None:
    shutil.copytree(work, small_fs / "work")
    before = _tree_digests(small_fs / "work", "*")
    assert subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], capture_output=True).returncode == 0
    msg = _fails_with(["tokenize", small_fs / "work"], caplog, "Read-only file system")
    assert str(small_fs) in msg
    _fails_with(["zero-shot", small_fs / "work", "--annotations", work / ".." / ".." / "none.json"], caplog, "not found")
    assert _tree_digests(small_fs / "work", "*") == before


def test_every_case_gives_one_line_as_a_user_sees_it(work: Path) -> None:
    """Through the real console entry point in a fresh process: stderr is one line, no traceback."""
    for argv in (["pretrain", str(work), "lr=-1"], ["report", str(work / "nowhere")], ["fit-vocab", str(work), "--levels", "0"]):
        proc = subprocess.run([sys.executable, "-m", "videobert.cli", *argv], capture_output=True, text=True, timeout=120)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
