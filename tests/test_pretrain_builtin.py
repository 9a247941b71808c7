"""Pretraining on the built-in corpus itself: real videos, classical features, visual words, narration.

The pipeline runs as a user would (``videobert synth / extract / fit-vocab / tokenize / pretrain``)
on a small built-in corpus, then the demo's model (MiniLM cut to 2 layers, visual words started
from the narration) is trained for a short while. Masked visual words must be predicted far above chance on
the validation videos, and improve between the two evaluations.

Alignment is not asserted here: at this scale it stays near chance for thousands of steps (see
README "Where it stands"); tests/test_pretrain.py checks that the alignment head learns on a corpus
where text and video determine each other.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videobert.cli import main

N_VIDEOS, LEVELS, BRANCHING = 30, 2, 6  # 36 visual words
SHORT = ["--preset", "demo", "max_steps=200", "eval_every=100", "eval_batches=20", "checkpoint_every=1000",
         "keep_last=1", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def builtin_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("builtin")
    src, videos = work / "source", work / "source" / "videos"
    ann = src / "annotations.json"
    assert main(["synth", str(src), "--videos", str(N_VIDEOS), "--seed", "1", "--subset-split", "0.6"]) == 0
    assert main(["extract", str(videos), "--backbone", "classical", "--work", str(work)]) == 0
    assert main(["fit-vocab", str(work), "--backbone", "classical", "--levels", str(LEVELS),
                 "--branching", str(BRANCHING), "--seed", "0"]) == 0  # fmt: skip
    assert main(["tokenize", str(work), "--transcripts", str(videos), "--annotations", str(ann)]) == 0
    return work


def _evals(work: Path) -> list[dict]:
    lines = (work / "logs" / "pretrain.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == "eval"]


def test_demo_model_learns_visual_words_on_the_builtin_corpus(builtin_work: Path) -> None:
    stats = json.loads((builtin_work / "corpus" / "stats.json").read_text())
    assert stats["val_videos"] >= 10 and stats["train_rows"] > 100
    assert main(["pretrain", str(builtin_work), *SHORT]) == 0
    first, last = _evals(builtin_work)
    assert last["val_n_video_mlm"] >= 40, last
    chance = 1 / BRANCHING**LEVELS
    # masked visual words: far above chance (1/36) and better than at the halfway evaluation
    assert last["val_video_mlm_acc"] > 5 * chance, (first, last)
    assert last["val_video_mlm_loss"] < first["val_video_mlm_loss"], (first, last)
    assert last["val_text_mlm_acc"] > 0.3, (first, last)
