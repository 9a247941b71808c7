"""Text <-> video retrieval end to end on the tiny pretrained model of ``task_world``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tinymodels import task_inputs

from videobert.cli import main
from videobert.model.inference import alignment_log_probs
from videobert.model.loading import load_model
from videobert.tasks.retrieve import RetrieveConfig, retrieve, score_matrix, select_segments
from videobert.workdir import WorkDir


@pytest.fixture(scope="module")
def setup(task_world):
    work = task_world
    model, tok, _ = load_model(WorkDir(work).resolve_checkpoint())
    inputs = task_inputs(work)
    return work, model, tok, inputs.segments, inputs.train_segments, inputs


def test_select_segments(setup):
    segs = setup[3]
    uniq = select_segments(segs, RetrieveConfig(max_segments=1000))
    assert len({s.sentence for s in uniq}) == len(uniq) < len(segs)
    assert len(select_segments(segs, RetrieveConfig(max_segments=7, unique_sentences=False))) == 7


def test_score_matrix_is_alignment_probability(setup):
    """Entry (i, j) = log P(aligned) of sentence i with segment j's visual words, row = text."""
    _, model, tok, segs, _, _ = setup
    few = segs[:4]
    zs, ft = score_matrix(model, tok, few, RetrieveConfig(batch_size=5))
    assert zs.shape == (4, 4) and ft is None
    pairs = [(0, 0), (1, 3), (3, 2)]
    encs = [tok.encode_pair(few[i].sentence, few[j].visual_words, 64, fit="subsample") for i, j in pairs]
    batched = alignment_log_probs(model, tok, encs, batch_size=2)  # the model-level helper agrees
    for (i, j), enc, lp in zip(pairs, encs, batched, strict=True):
        with torch.inference_mode():
            logits = model(**tok.pad([enc])).alignment_logits[0].double()
        assert zs[i, j] == pytest.approx(float(torch.log_softmax(logits, -1)[1]), abs=1e-5)
        assert lp == pytest.approx(zs[i, j], abs=1e-5)
    # with a fine-tuned scorer the zero-shot part is unchanged (split forward == full forward)
    from videobert.tasks.retrieve import finetune_alignment

    cfg = RetrieveConfig(batch_size=5, epochs=1, max_train_segments=8)
    zs2, ft2 = score_matrix(model, tok, few, cfg, finetune_alignment(model, tok, setup[4], cfg))
    np.testing.assert_allclose(zs2, zs, atol=1e-5)
    assert ft2 is not None and ft2.shape == (4, 4) and not np.allclose(ft2, zs)


def test_retrieve_finetuned_beats_chance(setup):
    _, model, tok, segs, _, inputs = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = RetrieveConfig(top_layers=2, epochs=30, lr=3e-3)
    r = retrieve(model, tok, inputs, cfg)
    n = r.n
    assert n == len({s.sentence for s in segs}) and r.details["n_train"] == len(inputs.train_segments)
    m, c = r.metrics, r.baseline
    assert c["zs_t2v_R@5"] == pytest.approx(5 / n) and c["ft_v2t_median_rank"] == pytest.approx((n + 1) / 2)
    for d in ("t2v", "v2t"):
        assert set(m) >= {f"zs_{d}_R@1", f"zs_{d}_R@10", f"ft_{d}_R@5", f"ft_{d}_median_rank"}
        assert m[f"ft_{d}_R@1"] <= m[f"ft_{d}_R@5"] <= m[f"ft_{d}_R@10"]
        # fine-tuning the alignment head on training pairs gives far better than chance retrieval
        assert m[f"ft_{d}_R@10"] >= 1.5 * c[f"ft_{d}_R@10"], m
        assert m[f"ft_{d}_median_rank"] < 0.75 * c[f"ft_{d}_median_rank"], m
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_cli_retrieve(setup):
    work = setup[0]
    assert main(["-q", "retrieve", str(work), "--max-segments", "10", "--no-finetune"]) == 0
    rep = json.loads((work / "reports" / "retrieve.json").read_text())
    assert rep["task"] == "retrieve" and rep["n"] == 10
    assert rep["baseline"]["zs_t2v_R@1"] == pytest.approx(0.1)
    assert not any(k.startswith("ft_") for k in rep["metrics"])
    assert {"video_id", "segment", "query", "pred", "rank"} <= set(rep["examples"][0])
    # the same settings as key=value items
    assert main(["-q", "retrieve", str(work), "max_segments=10", "finetune=false"]) == 0
    again = json.loads((work / "reports" / "retrieve.json").read_text())
    assert again["metrics"] == rep["metrics"]
