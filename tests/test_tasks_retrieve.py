"""Text <-> video retrieval end to end on the tiny pretrained model of the zero-shot tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_tasks_zero_shot import one_thread, pretrained_world  # noqa: F401 (autouse fixture)

from videobert.cli import main
from videobert.tasks.common import encode, load_annotations, load_checkpoint, load_segments, pad_batch
from videobert.tasks.retrieve import RetrieveConfig, retrieve, score_matrix, select_segments


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = pretrained_world(tmp_path_factory)
    model, tok, _ = load_checkpoint(work)
    db = load_annotations(work / "annotations.json")
    return work, model, tok, load_segments(db, work, "validation"), load_segments(db, work, "training")


def test_select_segments(setup):
    segs = setup[3]
    uniq = select_segments(segs, RetrieveConfig(max_segments=1000))
    assert len({s.sentence for s in uniq}) == len(uniq) < len(segs)
    assert len(select_segments(segs, RetrieveConfig(max_segments=7, unique_sentences=False))) == 7


def test_score_matrix_is_alignment_probability(setup):
    """Entry (i, j) = log P(aligned) of sentence i with segment j's visual words, row = text."""
    _, model, tok, segs, _ = setup
    few = segs[:4]
    zs, ft = score_matrix(model, tok, few, RetrieveConfig(batch_size=5))
    assert zs.shape == (4, 4) and ft is None
    for i, j in [(0, 0), (1, 3), (3, 2)]:
        ids = encode(tok, tok.encode_text(few[i].sentence), few[j].visual_words, 64)
        with torch.inference_mode():
            logits = model(**pad_batch([ids], tok.pad_token_id)).alignment_logits[0].double()
        assert zs[i, j] == pytest.approx(float(torch.log_softmax(logits, -1)[1]), abs=1e-5)
    # with a fine-tuned scorer the zero-shot part is unchanged (split forward == full forward)
    from videobert.tasks.retrieve import finetune_alignment

    cfg = RetrieveConfig(batch_size=5, epochs=1, max_train_segments=8)
    zs2, ft2 = score_matrix(model, tok, few, cfg, finetune_alignment(model, tok, setup[4], cfg))
    np.testing.assert_allclose(zs2, zs, atol=1e-5)
    assert ft2 is not None and ft2.shape == (4, 4) and not np.allclose(ft2, zs)


def test_retrieve_finetuned_beats_chance(setup):
    _, model, tok, segs, train = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = RetrieveConfig(top_layers=2, epochs=30, lr=3e-3)
    r = retrieve(model, tok, segs, cfg, train)
    n = r["n"]
    assert n == len({s.sentence for s in segs})
    m, c = r["metrics"], r["chance"]
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
    assert rep["chance"]["zs_t2v_R@1"] == pytest.approx(0.1)
    assert not any(k.startswith("ft_") for k in rep["metrics"])
    assert {"video_id", "segment", "truth", "pred", "rank"} <= set(rep["examples"][0])
