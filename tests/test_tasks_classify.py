"""Video classification (recipe_type) end to end on the tiny pretrained model of ``task_world``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from tinymodels import RECIPE_NOUNS, task_inputs

from videobert.cli import main
from videobert.errors import VideoBertError
from videobert.model.loading import load_model
from videobert.tasks.classify import (
    ClassifyConfig,
    _Cache,
    _fit_finetune,
    classify,
    video_items,
)
from videobert.workdir import WorkDir


@pytest.fixture(scope="module")
def setup(task_world):
    work = task_world
    model, tok, _ = load_model(WorkDir(work).resolve_checkpoint())
    inputs = task_inputs(work)
    train = video_items(inputs.train_videos, "recipe_type")
    return work, model, tok, train, inputs


def test_items(setup):
    _, _, _, train, inputs = setup
    test = video_items(inputs.videos, "recipe_type")
    assert len(train) == 24 and len(test) == 9
    assert {it.label for it in test} == set(RECIPE_NOUNS)


def test_classify_cv_picks_best_and_beats_chance(setup):
    _, model, tok, _, inputs = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grid = [
        {"mode": "finetune", "top_layers": 1, "lr": 1e-5, "epochs": 1},  # too little to learn
        {"mode": "finetune", "top_layers": 2, "lr": 3e-3, "epochs": 15},
        {"mode": "logreg", "C": 1.0},
    ]
    rep = classify(model, tok, inputs, ClassifyConfig(folds=3, grid=grid))
    r = rep.details
    assert len(r["cv"]) == 3 and all(len(c["folds"]) == 3 for c in r["cv"])
    means = [c["mean_accuracy"] for c in r["cv"]]
    assert r["best"] == grid[int(np.argmax(means))]
    assert rep.metrics["cv_accuracy"] == pytest.approx(max(means))
    assert rep.baseline["accuracy"] == pytest.approx(1 / 3)
    # recipe types are visible in the visual words: well above chance
    assert rep.metrics["accuracy"] >= 2 * rep.baseline["accuracy"]
    cm = np.array(r["confusion"])
    assert cm.sum() == 9 and np.trace(cm) / 9 == pytest.approx(rep.metrics["accuracy"])
    assert rep.figures == ["confusion.png"] and rep.images["confusion.png"][:4] == b"\x89PNG"
    # metrics agree with scikit-learn on the same predictions (rebuilt from the confusion matrix)
    y_true = np.repeat(np.arange(3), cm.sum(1))
    y_pred = np.concatenate([np.repeat(np.arange(3), row) for row in cm])
    p, rc, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert rep.metrics["macro_precision"] == pytest.approx(p)
    assert rep.metrics["macro_recall"] == pytest.approx(rc)
    assert rep.metrics["macro_f1"] == pytest.approx(f)
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
    assert main(["-q", "classify", str(work), "folds=2", "--set", f"grid={grid}"]) == 0
    rep = json.loads((work / "reports" / "classify.json").read_text())
    assert rep["task"] == "classify" and rep["n"] == 9 and rep["n_train"] == 24
    assert set(rep["metrics"]) >= {"accuracy", "macro_precision", "macro_recall", "macro_f1", "cv_accuracy"}
    assert len(rep["cv"]) == 2 and rep["classes"] == sorted(RECIPE_NOUNS)
    assert (work / "reports" / "classify" / "confusion.png").stat().st_size > 1000


def test_empty_grid(setup):
    _, model, tok, _, inputs = setup
    with pytest.raises(VideoBertError, match="grid"):
        classify(model, tok, inputs, ClassifyConfig(grid=[]))
