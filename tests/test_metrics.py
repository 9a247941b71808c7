"""Metric functions against hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from videobert.eval.metrics import (
    confusion_matrix,
    median_rank,
    per_class_topk,
    precision_recall_f1,
    recall_at_k,
    retrieval_chance,
    retrieval_metrics,
    target_ranks,
    topk_accuracy,
    topk_predictions,
)

SCORES = np.array(
    [
        [0.1, 0.5, 0.3, 0.05],  # target 1 -> rank 1
        [0.4, 0.1, 0.3, 0.2],  # target 2 -> rank 2
        [0.3, 0.2, 0.1, 0.4],  # target 2 -> rank 4
        [0.25, 0.35, 0.3, 0.1],  # target 0 -> rank 3
    ]
)
TARGETS = np.array([1, 2, 2, 0])


def test_ranks_by_hand():
    assert target_ranks(SCORES, TARGETS).tolist() == [1, 2, 4, 3]


def test_topk_by_hand_and_sklearn():
    assert topk_accuracy(SCORES, TARGETS, 1) == pytest.approx(0.25)
    assert topk_accuracy(SCORES, TARGETS, 2) == pytest.approx(0.5)
    assert topk_accuracy(SCORES, TARGETS, 3) == pytest.approx(0.75)
    assert topk_accuracy(SCORES, TARGETS, 4) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    s = rng.normal(size=(50, 7))
    t = rng.integers(0, 7, size=50)
    for k in (1, 3, 5):
        assert topk_accuracy(s, t, k) == pytest.approx(skm.top_k_accuracy_score(t, s, k=k, labels=range(7)))


def test_topk_predictions_order():
    assert topk_predictions(SCORES, 2).tolist() == [[1, 2], [0, 2], [3, 0], [1, 2]]


def test_ties_policies():
    s = np.zeros((2, 4))
    t = np.array([0, 3])
    assert target_ranks(s, t, "pessimistic").tolist() == [4, 4]
    assert target_ranks(s, t, "optimistic").tolist() == [1, 1]
    assert target_ranks(s, t, "mean").tolist() == [2.5, 2.5]
    assert topk_accuracy(s, t, 1) == 0.0  # constant scores earn nothing


def test_precision_recall_f1_by_hand():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    r = precision_recall_f1(y_true, y_pred, 3)
    # class 0: tp 2, pred 2, support 3 -> P 1, R 2/3, F1 0.8
    # class 1: tp 1, pred 2, support 2 -> P 1/2, R 1/2, F1 1/2
    # class 2: tp 1, pred 2, support 1 -> P 1/2, R 1, F1 2/3
    assert r["precision"] == pytest.approx([1.0, 0.5, 0.5])
    assert r["recall"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert r["f1"] == pytest.approx([0.8, 0.5, 2 / 3])
    assert r["macro_precision"] == pytest.approx(2 / 3)
    assert r["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert r["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["support"] == [3, 2, 1]


def test_precision_recall_f1_matches_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 5, size=80)
    y_pred = np.where(rng.random(80) < 0.5, y_true, rng.integers(0, 5, size=80))
    y_pred[y_pred == 4] = 3  # class 4 never predicted: exercises zero_division
    r = precision_recall_f1(y_true, y_pred, 5)
    p, rc, f, s = skm.precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert r["macro_precision"] == pytest.approx(p)
    assert r["macro_recall"] == pytest.approx(rc)
    assert r["macro_f1"] == pytest.approx(f)
    assert r["weighted_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0))
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(
        confusion_matrix(y_true, y_pred, 5), skm.confusion_matrix(y_true, y_pred, labels=range(5))
    )


def test_per_class_topk():
    acc = per_class_topk(SCORES, TARGETS, 4, k=2)
    assert acc[0] == 0.0 and acc[1] == 1.0 and acc[2] == 0.5
    assert np.isnan(acc[3])


def test_retrieval_by_hand():
    sim = np.array([[0.9, 0.1, 0.15], [0.8, 0.5, 0.1], [0.1, 0.3, 0.2]])
    # t2v rows: ranks of diagonal = [1, 2, 2]; v2t columns: [1, 1, 1]
    m = retrieval_metrics(sim, ks=(1, 2))
    assert m["t2v_R@1"] == pytest.approx(1 / 3)
    assert m["t2v_R@2"] == pytest.approx(1.0)
    assert m["t2v_median_rank"] == 2.0
    assert m["v2t_R@1"] == pytest.approx(1.0)
    assert m["v2t_median_rank"] == 1.0
    assert recall_at_k(np.array([1, 3, 7, 12]), 5) == 0.5
    assert median_rank(np.array([1, 3, 7, 12])) == 5.0


def test_retrieval_chance_matches_random_scores():
    c = retrieval_chance(100)
    assert c["t2v_R@5"] == 0.05 and c["v2t_median_rank"] == 50.5
    rng = np.random.default_rng(2)
    sims = [retrieval_metrics(rng.random((100, 100))) for _ in range(20)]
    assert np.mean([s["t2v_R@10"] for s in sims]) == pytest.approx(0.10, abs=0.02)
    assert np.mean([s["t2v_median_rank"] for s in sims]) == pytest.approx(50.5, abs=4)
