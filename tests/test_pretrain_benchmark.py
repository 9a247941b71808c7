"""benchmarks/pretrain.py's comparison at a tiny size: the three steps see the same examples, packed
batches carry the same real tokens in fewer computed ones, and the figures are derived from them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "pretrain.py"


@pytest.fixture(scope="module")
def bench():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("_bench_pretrain_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_batches_pack_the_same_examples(bench) -> None:  # noqa: ANN001
    s = bench.Shape(2, 32, 2, 64, visual_words=64, batch=16)
    tok = bench.VideoBertTokenizer.from_bert(None, s.visual_words)
    for padded, packed, seqs in bench.make_batches(s, tok, 3, torch.device("cpu")):
        real = int(padded["attention_mask"].sum())
        assert real == int(packed["attention_mask"].sum()) == sum(seqs)
        assert packed["input_ids"].numel() < padded["input_ids"].numel()
        assert packed["input_ids"].shape[1] <= padded["input_ids"].shape[1]
        assert int((packed["labels"] != -100).sum()) == int((padded["labels"] != -100).sum()) > 0
        assert sorted(packed["input_ids"][packed["attention_mask"] != 0].tolist()) == sorted(
            padded["input_ids"][padded["attention_mask"] != 0].tolist()
        )


def test_compare_reports_the_three_steps(bench) -> None:  # noqa: ANN001
    s = bench.Shape(2, 32, 2, 64, visual_words=64, batch=16)
    r = bench.compare(s, torch.device("cpu"), steps=2)
    assert r["packed_tokens"] < r["padded_tokens"] and r["real_tokens"] < r["padded_tokens"]
    assert r["real_tokens"] <= r["packed_tokens"]
    for name, *_ in bench.STEPS:
        m = r[name]
        assert m["step_s"] > 0 and 0 < m["mfu"] < 1.5 and m["tokens_per_s"] > 0
    assert r["ours"]["computed_tokens"] == r["packed_tokens"]
    assert r["plain"]["computed_tokens"] == r["ours_padded"]["computed_tokens"] == r["padded_tokens"]
    assert r["speedup"] == pytest.approx(r["ours"]["tokens_per_s"] / r["plain"]["tokens_per_s"])
    assert r["packing_speedup"] == pytest.approx(r["ours"]["tokens_per_s"] / r["ours_padded"]["tokens_per_s"])
