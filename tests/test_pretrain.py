"""Pretraining on a small learnable parquet corpus: learning, checkpoints/logs, CLI, SIGKILL + resume.

The corpus (tests/corpora.py) follows docs/ARCHITECTURE.md's schema and goes through the real
tokenizer and ``PretrainStream``. It is learnable: every video has one verb, its sentences say that
verb, and its clips' visual words come from a pair of words owned by that verb — so a masked visual
word is predictable (chance 1/12, best ~1/2) and so is whether a text and a video belong together.

Run as a script (``python tests/test_pretrain.py train WORK [key=value ...]``) this file is the
subprocess that the SIGKILL test kills.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from corpora import TINY, copy_corpus, read_log, write_corpus
from safetensors.torch import load_file

from videobert.text.tokenizer import VideoBertTokenizer
from videobert.train.checkpoint import TRAINER_STATE, load_trainer_state
from videobert.train.config import PRESETS, PretrainConfig, load_pretrain_config
from videobert.train.pretrain import corpus_data, pretrain
from videobert.workdir import WorkDir


def _strip(entries: list[dict]) -> list[dict]:
    """Log entries without the wall-clock fields."""
    return [{k: v for k, v in e.items() if k not in ("time", "tokens_per_s")} for e in entries]


@pytest.fixture(scope="module")
def corpus_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("corpus")
    write_corpus(work)
    return work


@pytest.mark.slow  # 300 steps: ~1 min on 2 idle cores
def test_tiny_model_learns_visual_words_and_alignment(corpus_work: Path, tmp_path: Path) -> None:
    from videobert.cli import main

    work = copy_corpus(corpus_work, tmp_path / "w")
    cfg_file = tmp_path / "pretrain.yaml"
    cfg_file.write_text("batch_size: 32\nlr: 5.0e-3\nwarmup_steps: 10\neval_batches: 8\nlog_every: 20\n")
    overrides = [
        *TINY, "model.hidden_size=64", "model.intermediate_size=128", "model.num_attention_heads=4",
        "model.hidden_dropout_prob=0.0", "model.attention_probs_dropout_prob=0.0", "model.alignment_weight=3.0",
        "collate.subsample_range=[1,1]", "collate.mask_prob=0.3", "collate.regime_ratios=[0.1,0.1,0.8]",
        "max_steps=300", "checkpoint_every=150", "eval_every=100", "keep_last=1",
    ]
    assert main(["pretrain", str(work), "--config", str(cfg_file), "--device", "cpu", *overrides]) == 0

    evals = read_log(work, "eval")
    assert [e["step"] for e in evals] == [100, 200, 300]
    first, last = evals[0], evals[-1]
    assert last["val_n_video_mlm"] > 200 and last["val_n_alignment"] > 100
    # chance: 1/12 for a masked visual word (best possible ~0.5), 0.5 for alignment
    assert last["val_video_mlm_acc"] > 0.3, evals
    assert last["val_alignment_acc"] > 0.7, evals
    assert last["val_video_mlm_loss"] < first["val_video_mlm_loss"]
    train = read_log(work, "train")
    assert [e["step"] for e in train] == list(range(20, 301, 20))
    assert all(e["tokens_per_s"] > 0 and np.isfinite(e["loss"]) for e in train)
    assert train[-1]["loss"] < train[0]["loss"]

    # checkpoint layout: step-N with model, tokenizer and trainer state; keep_last=1; final.txt
    ckpts = work / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir() if p.is_dir()) == ["step-300"]
    final = WorkDir(work).resolve_checkpoint()
    assert final == ckpts / "step-300"
    for name in ("config.json", "model.safetensors", TRAINER_STATE, "videobert_tokenizer.json"):
        assert (final / name).is_file(), name
    state = load_trainer_state(final)
    assert state["step"] == 300 and state["ranks"][0]["data"]["batches_in_epoch"] >= 0
    assert any((work / "logs" / "tb").iterdir())

    from videobert.model import VideoBertForPreTraining

    model = VideoBertForPreTraining.from_pretrained(final)
    tok = VideoBertTokenizer.from_pretrained(final)
    assert model.config.vocab_size == tok.vocab_size and model.config.visual_offset == tok.visual_offset
    # a re-run with the same config finds the run finished and returns the same checkpoint
    n_lines = len((work / "logs" / "pretrain.jsonl").read_text().splitlines())
    assert pretrain(work, load_pretrain_config(cfg_file, overrides), device="cpu") == final
    assert len((work / "logs" / "pretrain.jsonl").read_text().splitlines()) == n_lines


RESUME = [*TINY, "batch_size=8", "lr=0.001", "warmup_steps=4", "max_steps=24", "checkpoint_every=8",
          "eval_every=8", "eval_batches=2", "log_every=2", "deterministic=true", "keep_last=0"]


class _SlowStream:
    """Wraps a stream so that batches after the first ``after`` take ``delay`` s (time to kill it)."""

    def __init__(self, inner, after: int, delay: float) -> None:  # noqa: ANN001
        self.inner, self.after, self.delay, self.n = inner, after, delay, 0

    def __iter__(self):  # noqa: ANN204
        for batch in self.inner:
            self.n += 1
            if self.n > self.after:
                time.sleep(self.delay)
            yield batch

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)


def _run_script(work: Path, overrides: list[str], slow_after: int) -> None:
    torch.set_num_threads(1)
    cfg = load_pretrain_config(None, overrides)
    data = corpus_data(work, cfg)
    make = data.make_train
    data.make_train = lambda rank, world: _SlowStream(make(rank, world), slow_after, 0.25)
    pretrain(work, cfg, data=data, device="cpu")


def test_sigkill_then_resume_equals_uninterrupted_run(corpus_work: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    ref = copy_corpus(corpus_work, tmp_path / "ref")
    cfg = load_pretrain_config(None, RESUME)
    pretrain(ref, cfg, device="cpu")

    work = copy_corpus(corpus_work, tmp_path / "killed")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, __file__, "train", str(work), *RESUME], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    target = work / "checkpoints" / "step-8" / TRAINER_STATE
    log_file = work / "logs" / "pretrain.jsonl"

    def past_checkpoint() -> bool:  # checkpoint 8 written and step 10 logged after it
        try:
            return target.exists() and log_file.exists() and any(e["step"] >= 10 for e in read_log(work, "train"))
        except ValueError:  # caught a line half-written
            return False

    deadline = time.time() + 120
    while not past_checkpoint() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert not (work / "checkpoints" / "step-24").exists()
    logged = [e["step"] for e in read_log(work, "train")]
    assert max(logged) > 8  # the killed run had logged past its checkpoint: resume must drop those

    final = pretrain(work, cfg, device="cpu")
    assert final.name == "step-24"
    ours, theirs = load_file(final / "model.safetensors"), load_file(ref / "checkpoints/step-24/model.safetensors")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    assert _strip(read_log(work, "train")) == _strip(read_log(ref, "train"))
    assert _strip(read_log(work, "eval")) == _strip(read_log(ref, "eval"))
    assert [e["step"] for e in read_log(work, "train")] == list(range(2, 25, 2))


def test_pretrain_config_overrides_and_presets(tmp_path: Path) -> None:
    from videobert.config import ConfigError

    cfg = load_pretrain_config(None, ["lr=3e-4", "model.num_hidden_layers=2", "collate.mask_prob=0.2"], "demo")
    assert isinstance(cfg, PretrainConfig)
    # a dotted override changes one key of the preset's model dict and keeps the others
    assert cfg.lr == pytest.approx(3e-4) and cfg.model == {**PRESETS["demo"]["model"], "num_hidden_layers": 2}
    assert len(PRESETS["demo"]["model"]) > 1
    assert cfg.collate == {**PRESETS["demo"]["collate"], "mask_prob": 0.2} and cfg.max_steps == PRESETS["demo"]["max_steps"] != PretrainConfig().max_steps
    with pytest.raises(ConfigError):
        load_pretrain_config(None, ["no_such_key=1"])
    with pytest.raises(ConfigError):
        load_pretrain_config(None, [], "no-such-preset")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "train":
        import logging

        logging.basicConfig(level=logging.INFO)
        _run_script(Path(sys.argv[2]), sys.argv[3:], slow_after=8)


def test_resume_only_with_the_same_settings(corpus_work: Path, tmp_path: Path, caplog) -> None:
    """Every checkpoint stores its run's settings; a changed setting stops a resume (naming it)
    unless --resume; --fresh keeps the old run aside and starts over."""
    from videobert.cli import main
    from videobert.train.checkpoint import CONFIG_FILE, VERSIONS_FILE, load_run_config

    torch.set_num_threads(1)
    work = copy_corpus(corpus_work, tmp_path / "w")
    run = ["pretrain", str(work), "--device", "cpu", *TINY, "batch_size=4", "warmup_steps=1", "eval_every=0",
           "eval_batches=1", "log_every=1", "checkpoint_every=2", "keep_last=0"]  # fmt: skip
    assert main([*run, "max_steps=4"]) == 0
    for step in (2, 4):
        d = work / "checkpoints" / f"step-{step}"
        saved = load_run_config(d)
        assert saved == yaml.safe_load(subprocess_free_print_config([*run, "max_steps=4"]))
        assert json.loads((d / VERSIONS_FILE).read_text())["torch"] == torch.__version__
        assert (d / CONFIG_FILE).is_file()
    # same settings (device and logging may differ): the finished run is found, nothing retrained
    assert main([*run, "max_steps=4", "log_every=2"]) == 0
    assert not (work / "checkpoints" / "step-6").exists()
    # another setting: stops, naming what differs
    caplog.set_level("ERROR", logger="videobert")
    assert main([*run, "max_steps=6", "lr=0.002"]) == 1
    message = caplog.records[-1].getMessage()
    assert "max_steps: 4 -> 6" in message and "lr: 0.0001 -> 0.002" in message and "--resume" in message
    assert not (work / "checkpoints" / "step-6").exists()
    # --resume: continue the old run with the new settings
    assert main([*run, "max_steps=6", "--resume"]) == 0
    assert load_run_config(work / "checkpoints" / "step-6")["max_steps"] == 6
    assert [e["step"] for e in read_log(work, "train")] == [1, 2, 3, 4, 5, 6]
    # --fresh: the old run moves aside whole, the new one starts at step 0
    assert main([*run, "max_steps=2", "lr=0.002", "--fresh"]) == 0
    assert sorted(p.name for p in (work / "checkpoints.old-1").iterdir() if p.is_dir()) == ["step-2", "step-4", "step-6"]
    assert (work / "logs.old-1" / "pretrain.jsonl").is_file()
    assert [e["step"] for e in read_log(work, "train")] == [1, 2]
    assert load_run_config(work / "checkpoints" / "step-2")["lr"] == pytest.approx(0.002)


def subprocess_free_print_config(argv: list[str]) -> str:
    """What ``videobert ARGV --print-config`` prints (in process)."""
    import contextlib
    import io

    from videobert.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["-q", *argv, "--print-config"]) == 0
    return buf.getvalue()
