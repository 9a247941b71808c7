"""Packed pretraining batches: the same losses, gradients and validation metrics as padded ones.

A packed batch holds the examples of a padded batch (same masks, same labels) several to a row,
attention kept within each example; the model must give every objective's loss, each example's
alignment logits and every parameter's gradient as on the padded batch (fp32, dropout off, a tiny
real model). Also: the packer's rows, worker-built streams equal to in-process ones (and resume
alike), activation checkpointing's gradients.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from corpora import TINY, write_corpus

from videobert.data.collate import CollateConfig
from videobert.data.dataset import PretrainStream
from videobert.data.packing import concat_batches, pack_batch, pack_rows
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.train.config import load_pretrain_config
from videobert.train.distributed import DistInfo
from videobert.train.pretrain import (
    accumulate_gradients,
    build_model,
    corpus_data,
    enable_activation_checkpointing,
    evaluate,
    sparse_embedding_grad,
)

NO_DROPOUT = ["model.hidden_dropout_prob=0.0", "model.attention_probs_dropout_prob=0.0"]
ROW = 48  # TINY's collate.max_length


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = tmp_path_factory.mktemp("packing")
    write_corpus(w, n_train=40, n_val=24)
    return w


def _weights(model) -> torch.Tensor:  # noqa: ANN001
    c = model.config
    return torch.tensor([c.text_mlm_weight, c.video_mlm_weight, c.alignment_weight], dtype=torch.float64)


def _streams(work: Path, **kw) -> tuple[PretrainStream, PretrainStream]:  # noqa: ANN003
    tok = VideoBertTokenizer.from_pretrained(work / "corpus" / "tokenizer")
    cfg = CollateConfig(
        max_length=ROW, max_text_tokens=20, max_video_tokens=20, regime_ratios=(0.2, 0.2, 0.6)
    )
    args = (work / "corpus", "train", tok, cfg, 16)
    return PretrainStream(*args, seed=3, **kw), PretrainStream(
        *args, seed=3, pack=True, pack_length=ROW, **kw
    )


def test_pack_rows_best_fit_fills_rows_never_longer_than_asked() -> None:
    lengths = np.array([30, 18, 20, 28, 12, 36])
    row, offset, n = pack_rows(lengths, 48)
    ends = offset + lengths
    assert ends.max() <= 48 and n == 3  # 144 tokens in 3 full rows of 48
    for r in range(n):  # no two sequences of a row overlap
        spans = sorted((int(o), int(e)) for o, e, rr in zip(offset, ends, row, strict=True) if rr == r)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    row, offset, n = pack_rows(lengths)  # default: rows as long as the longest sequence (36)
    assert (offset + lengths).max() <= 36 and n == 5
    row, offset, n = pack_rows(np.array([49, 30, 19]), 48)  # a longer sequence widens the rows
    assert n == 2 and row.tolist() == [0, 1, 1] and offset.tolist() == [0, 0, 30]


def test_packed_batches_hold_the_same_examples_in_fewer_rows(work: Path) -> None:
    plain, packed = _streams(work)
    real = total_plain = total_packed = 0
    for a, p in zip(plain, packed, strict=False):
        att = a["attention_mask"].bool()
        lengths = att.sum(1)
        b = len(lengths)
        assert p["example_starts"].shape == (b,) and torch.equal(p["alignment_labels"], a["alignment_labels"])
        assert p["input_ids"].shape[1] <= ROW and p["input_ids"].shape[0] < b
        narrow = pack_batch(a, 0, 0)  # default: rows as wide as the padded batch's, never more of them
        assert narrow["input_ids"].shape[1] == a["input_ids"].shape[1] and narrow["input_ids"].shape[0] <= b
        ex = p["example_ids"]
        for i in range(b):  # example i is a contiguous run starting with [CLS] at position 0
            where = (ex.reshape(-1) == i).nonzero().squeeze(1)
            assert len(where) == lengths[i] and int(where[0]) == int(p["example_starts"][i])
            assert torch.equal(where, torch.arange(int(where[0]), int(where[0]) + len(where)))
            for key in ("input_ids", "token_type_ids", "labels"):
                assert torch.equal(p[key].reshape(-1)[where], a[key][i, : lengths[i]]), key
            assert torch.equal(p["position_ids"].reshape(-1)[where], torch.arange(len(where)))
        assert torch.equal(p["attention_mask"].bool(), ex >= 0)
        assert torch.equal(p["mlm_positions"], (p["labels"].reshape(-1) != -100).nonzero().squeeze(1))
        real += int(lengths.sum())
        total_plain += att.numel()
        total_packed += p["input_ids"].numel()
        if total_plain > 3000:
            break
    assert real / total_packed > 0.85 > 0.7 > real / total_plain, (real / total_packed, real / total_plain)


@pytest.mark.parametrize(("pooling", "attn"), [("mean", "sdpa"), ("cls", "eager")])
def test_packed_losses_and_gradients_equal_padded(work: Path, pooling: str, attn: str) -> None:
    torch.manual_seed(0)
    cfg = load_pretrain_config(None, [*TINY, *NO_DROPOUT, f"model.alignment_pooling={pooling}"])
    model = build_model(work, cfg, corpus_data(work, cfg)).train()
    model.set_attn_implementation(attn)
    plain, packed = _streams(work)
    for (a, p), _ in zip(zip(plain, packed, strict=False), range(3), strict=False):
        assert p["input_ids"].numel() < a["input_ids"].numel()
        results = []
        for batch in (a, p):
            model.zero_grad(set_to_none=True)
            out = model(**batch)
            out.loss.backward()
            grads = {n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None}
            results.append((out, grads))
        (oa, ga), (op, gp) = results
        for name in ("text_mlm_loss", "video_mlm_loss", "alignment_loss", "loss"):
            torch.testing.assert_close(getattr(op, name), getattr(oa, name), atol=1e-6, rtol=1e-5, msg=name)
        for name in ("num_text_labels", "num_video_labels", "num_alignment_labels"):
            assert int(getattr(op, name)) == int(getattr(oa, name)) > 0, name
        torch.testing.assert_close(op.alignment_logits, oa.alignment_logits, atol=1e-5, rtol=1e-5)
        assert op.alignment_logits.shape == (a["input_ids"].shape[0], 2)
        assert ga.keys() == gp.keys() and len(ga) > 10
        for name, g in ga.items():
            torch.testing.assert_close(gp[name], g, atol=1e-6, rtol=1e-4, msg=name)
        assert max(float(g.abs().max()) for g in ga.values()) > 1e-3


def test_packed_validation_metrics_equal_padded(work: Path) -> None:
    results = []
    for pack in ("true", "false"):
        cfg = load_pretrain_config(
            None, [*TINY, *NO_DROPOUT, "eval_batches=4", "batch_size=16", f"pack={pack}"]
        )
        data = corpus_data(work, cfg)
        batches = list(data.make_eval())
        assert ("example_ids" in batches[0]) == (pack == "true")
        model = build_model(work, cfg, data)
        results.append(evaluate(model, batches, torch.device("cpu")))
    packed, plain = results
    assert packed.keys() == plain.keys()
    for key, value in plain.items():
        if key.startswith("val_n_"):
            assert packed[key] == value > 0, key
        else:
            assert packed[key] == pytest.approx(value, abs=1e-6), key


def test_concatenated_packed_batches_give_the_accumulated_gradient(work: Path) -> None:
    cfg = load_pretrain_config(None, [*TINY, *NO_DROPOUT])
    data = corpus_data(work, cfg)
    _, packed = _streams(work)
    it = iter(packed)
    b0, b1 = next(it), next(it)
    grads = []
    for micro in ([concat_batches([b0, b1])], [b0, b1]):
        model = build_model(work, cfg, data)
        accumulate_gradients(
            model, micro, DistInfo(), _weights(model), model.config.visual_offset, torch.device("cpu")
        )
        grads.append({n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None})
    for name, g in grads[1].items():
        torch.testing.assert_close(grads[0][name], g, atol=2e-6, rtol=1e-4, msg=name)


def test_worker_processes_give_the_same_stream_and_resume(work: Path) -> None:
    _, serial = _streams(work)
    _, workers = _streams(work, num_workers=2)
    ref = [b for b, _ in zip(serial, range(13), strict=False)]  # crosses an epoch (10 batches per epoch)
    it = iter(workers)
    got = [next(it) for _ in range(11)]
    state = workers.state_dict()
    it.close()
    assert state == {**serial.state_dict(), "epoch": 1, "batches_in_epoch": 1}
    for a, b in zip(ref, got, strict=False):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    _, resumed = _streams(work, num_workers=2)
    resumed.load_state_dict(state)
    it = iter(resumed)
    rest = [next(it) for _ in range(2)]
    it.close()
    for a, b in zip(ref[11:], rest, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_activation_checkpointing_keeps_the_gradients(work: Path) -> None:
    cfg = load_pretrain_config(None, [*TINY, *NO_DROPOUT])
    data = corpus_data(work, cfg)
    batch = next(iter(_streams(work)[1]))
    grads = []
    for checkpointing in (False, True):
        model = build_model(work, cfg, data).train()
        if checkpointing:
            enable_activation_checkpointing(model)
            assert all(layer.gradient_checkpointing for layer in model.bert.encoder.layer)
        calls = []
        model.bert.encoder.layer[0].attention.register_forward_hook(lambda *_, seen=calls: seen.append(1))
        model(**batch).loss.backward()
        assert len(calls) == (2 if checkpointing else 1)  # recomputed in the backward pass
        grads.append({n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None})
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-7, rtol=1e-5, msg=name)


def test_sparse_embedding_gradient_gives_the_same_dense_gradient_and_step(work: Path) -> None:
    cfg = load_pretrain_config(None, [*TINY, *NO_DROPOUT])
    data = corpus_data(work, cfg)
    batch = next(iter(_streams(work)[1]))
    results = []
    for sparse in (False, True):
        model = build_model(work, cfg, data).train()
        assert sparse_embedding_grad(model, sparse) == sparse  # TINY ties the decoder to the embedding
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
        model(**batch).loss.backward()
        grad = model.bert.embeddings.word_embeddings.weight.grad
        assert grad is not None and grad.layout == torch.strided  # dense: clipping / fused AdamW / DDP as always
        grads = {n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None}
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        results.append((grads, {n: q.detach().clone() for n, q in model.named_parameters()}))
    (g0, w0), (g1, w1) = results
    assert g0.keys() == g1.keys()
    for name, g in g0.items():
        torch.testing.assert_close(g1[name], g, atol=1e-7, rtol=1e-5, msg=name)
    for name, w in w0.items():
        torch.testing.assert_close(w1[name], w, atol=1e-7, rtol=1e-5, msg=name)
    # untied, a sparse gradient would reach AdamW: it is left dense
    model = build_model(work, cfg, data)
    model.cls.predictions.decoder.weight = torch.nn.Parameter(model.cls.predictions.decoder.weight.detach().clone())
    assert not sparse_embedding_grad(model, True) and not model.bert.embeddings.word_embeddings.sparse
