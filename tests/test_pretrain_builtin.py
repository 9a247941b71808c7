"""Pretraining on the built-in corpus itself: real videos, classical features, visual words, narration.

The pipeline runs as a user would (``videobert synth / extract / fit-vocab / tokenize / pretrain``)
on a demo-sized built-in corpus drawn with another seed than the demo's (60 videos, 144 visual
words), then the demo's model (MiniLM cut to 2 layers, visual words started from the narration) is
trained with the demo preset: 600 steps of 32, about 6 minutes on 2 CPU cores. On the validation
videos, masked visual words must be predicted far above chance, and the linguistic-visual
alignment accuracy must rise above chance (0.5, at the 1% level) and above its first evaluation
(at 600 steps it is the slow objective: 0.57 on this corpus, 0.73 on the demo's). Validation
passes the small split several times (``eval_batches``), so that accuracy rests on about 500 pairs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from videobert.cli import main

N_VIDEOS, LEVELS, BRANCHING, SEED = 60, 2, 12, 1  # 144 visual words, as in the demo
RUN = ["--preset", "demo", "checkpoint_every=1000", "keep_last=1", "--device", "cpu"]


@pytest.fixture(scope="module")
def builtin_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("builtin")
    src, videos = work / "source", work / "source" / "videos"
    ann = src / "annotations.json"
    assert main(["synth", str(src), "--videos", str(N_VIDEOS), "--seed", str(SEED)]) == 0
    assert main(["extract", str(videos), "--backbone", "classical", "--work", str(work)]) == 0
    assert main(["fit-vocab", str(work), "--backbone", "classical", "--levels", str(LEVELS),
                 "--branching", str(BRANCHING), "--seed", "0"]) == 0  # fmt: skip
    assert main(["tokenize", str(work), "--transcripts", str(videos), "--annotations", str(ann)]) == 0
    return work


def _evals(work: Path) -> list[dict]:
    lines = (work / "logs" / "pretrain.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == "eval"]


@pytest.mark.slow  # about 6 minutes on 2 cores
def test_demo_model_learns_visual_words_and_alignment_on_the_builtin_corpus(builtin_work: Path) -> None:
    torch.set_num_threads(2)  # a real-sized model: both cores, as the demo runs (conftest sets 1 per test)
    stats = json.loads((builtin_work / "corpus" / "stats.json").read_text())
    assert stats["val_videos"] >= 5 and stats["train_rows"] > 300
    assert main(["pretrain", str(builtin_work), *RUN]) == 0
    evals = _evals(builtin_work)
    assert [e["step"] for e in evals] == [200, 400, 600]
    first, last = evals[0], evals[-1]
    assert last["val_n_video_mlm"] >= 200 and last["val_n_alignment"] >= 200, last
    chance = 1 / BRANCHING**LEVELS
    # masked visual words: far above chance (1/144) and better than at the first evaluation
    assert last["val_video_mlm_acc"] > 10 * chance, (first, last)
    assert last["val_video_mlm_loss"] < first["val_video_mlm_loss"], (first, last)
    assert last["val_text_mlm_acc"] > 0.5, (first, last)
    # alignment: chance is 0.5 (negatives are half the pairs); the accuracy must be above chance at
    # the 1% level (one-sided, normal approximation on its n pairs: ~0.55 for 500 pairs)
    acc, n = last["val_alignment_acc"], last["val_n_alignment"]
    assert acc - 2.33 * (acc * (1 - acc) / n) ** 0.5 > 0.5, [e["val_alignment_acc"] for e in evals]
    assert last["val_alignment_acc"] > first["val_alignment_acc"], [e["val_alignment_acc"] for e in evals]
    # Not asserted: the alignment loss. At 600 steps the objective sits at the edge of taking off and
    # where it lands depends on the corpus's details: on this corpus accuracy 0.57 at a loss of ln 2
    # (0.693); the same videos with six fewer sentences (the sentence rules before 0.2) 0.66 at 0.62;
    # 1,000 steps 0.62-0.64 with an overconfident loss. The demo's corpus: 0.73.
