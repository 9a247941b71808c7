"""Video classification (recipe_type) end to end on the tiny pretrained model of the zero-shot tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from test_tasks_zero_shot import RECIPE_NOUNS, one_thread, pretrained_world  # noqa: F401 (autouse fixture)

from videobert.cli import main
from videobert.errors import VideoBertError
from videobert.tasks.classify import (
    ClassifyConfig,
    _Cache,
    _fit_finetune,
    classify,
    video_items,
)
from videobert.tasks.common import load_annotations, load_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = pretrained_world(tmp_path_factory)
    model, tok, _ = load_checkpoint(work)
    db = load_annotations(work / "annotations.json")
    train = video_items(db, work, "training", "recipe_type")
    test = video_items(db, work, "validation", "recipe_type")
    return work, model, tok, train, test


def test_items(setup):
    _, _, _, train, test = setup
    assert len(train) == 24 and len(test) == 9
    assert {it.label for it in test} == set(RECIPE_NOUNS)


def test_classify_cv_picks_best_and_beats_chance(setup):
    _, model, tok, train, test = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grid = [
        {"mode": "finetune", "top_layers": 1, "lr": 1e-5, "epochs": 1},  # too little to learn
        {"mode": "finetune", "top_layers": 2, "lr": 3e-3, "epochs": 15},
        {"mode": "logreg", "C": 1.0},
    ]
    r = classify(model, tok, train, test, ClassifyConfig(folds=3, grid=grid))
    assert len(r["cv"]) == 3 and all(len(c["folds"]) == 3 for c in r["cv"])
    means = [c["mean_accuracy"] for c in r["cv"]]
    assert r["best"] == grid[int(np.argmax(means))]
    assert r["metrics"]["cv_accuracy"] == pytest.approx(max(means))
    assert r["chance"]["accuracy"] == pytest.approx(1 / 3)
    # recipe types are visible in the visual words: well above chance
    assert r["metrics"]["accuracy"] >= 2 * r["chance"]["accuracy"]
    cm = np.array(r["confusion"])
    assert cm.sum() == 9 and np.trace(cm) / 9 == pytest.approx(r["metrics"]["accuracy"])
    # metrics agree with scikit-learn on the same predictions (rebuilt from the confusion matrix)
    y_true = np.repeat(np.arange(3), cm.sum(1))
    y_pred = np.concatenate([np.repeat(np.arange(3), row) for row in cm])
    p, rc, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert r["metrics"]["macro_precision"] == pytest.approx(p)
    assert r["metrics"]["macro_recall"] == pytest.approx(rc)
    assert r["metrics"]["macro_f1"] == pytest.approx(f)
    # the loaded model is untouched (fine-tuning works on copies)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_finetune_is_real(setup):
    """Fine-tuning changes the copied top layer and drives the training loss down."""
    _, model, tok, train, _ = setup
    cfg = ClassifyConfig()
    cache = _Cache(model, tok, train, 1, cfg)
    y = np.array([sorted(RECIPE_NOUNS).index(it.label) for it in train])
    idx = np.arange(len(train))
    clf0 = _fit_finetune(model, cache, idx, y, 3, {"top_layers": 1, "lr": 3e-3, "epochs": 0}, cfg)
    clf = _fit_finetune(model, cache, idx, y, 3, {"top_layers": 1, "lr": 3e-3, "epochs": 20}, cfg)
    w0 = dict(clf0.top.named_parameters())
    assert any(not torch.equal(w0[k], v) for k, v in clf.top.named_parameters())

    def loss(c):
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(c(cache.hidden, cache.mask), torch.as_tensor(y)))

    assert loss(clf) < 0.5 * loss(clf0)


def test_cli_classify(setup):
    work = setup[0]
    grid = '[{"mode": "logreg", "C": 0.5}, {"mode": "finetune", "top_layers": 1, "lr": 0.001, "epochs": 3}]'
    assert main(["-q", "classify", str(work), "--set", "folds=2", "--set", f"grid={grid}"]) == 0
    rep = json.loads((work / "reports" / "classify.json").read_text())
    assert rep["task"] == "classify" and rep["n"] == 9 and rep["n_train"] == 24
    assert set(rep["metrics"]) >= {"accuracy", "macro_precision", "macro_recall", "macro_f1", "cv_accuracy"}
    assert len(rep["cv"]) == 2 and rep["classes"] == sorted(RECIPE_NOUNS)
    assert (work / "reports" / "classify" / "confusion.png").stat().st_size > 1000


def test_empty_grid(setup):
    _, model, tok, train, test = setup
    with pytest.raises(VideoBertError, match="grid"):
        classify(model, tok, train, test, ClassifyConfig(grid=[]))
