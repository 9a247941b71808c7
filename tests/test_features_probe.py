"""The classical descriptor carries the built-in corpus's actions and objects (linear probe)."""

from __future__ import annotations

import json

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from videobert.datasets.synthetic import synthesize
from videobert.features.extract import extract, load_features


def test_linear_probe_on_classical_features_beats_chance(tmp_path):
    corpus = tmp_path / "corpus"
    synthesize(corpus, n_videos=10, seed=0, width=64, height=48, subset_split=0.7, progress=False)
    work = tmp_path / "work"
    summary = extract(
        corpus / "videos", work, backbone="classical", batch_size=16, num_workers=2, progress=False
    )
    assert summary["done"] == 10 and not summary["skipped"]

    db = json.loads((corpus / "annotations.json").read_text())["database"]
    rows: dict[str, list] = {"training": [], "validation": []}
    for vid, entry in db.items():
        feats, times = load_features(work, "classical", vid)
        centres = times.mean(axis=1)  # (n_clips,) seconds
        for ann in entry["annotations"]:
            s, e = ann["segment"]
            for row in feats[(centres >= s) & (centres < e)].astype(np.float32):
                rows[entry["subset"]].append((row, ann["verb"], ann["noun"]))
    train, test = rows["training"], rows["validation"]
    assert len(train) > 80 and len(test) > 30
    scaler = StandardScaler().fit(np.stack([r[0] for r in train]))
    xtr = scaler.transform(np.stack([r[0] for r in train]))
    xte = scaler.transform(np.stack([r[0] for r in test]))
    for col, name in ((1, "verb"), (2, "noun")):
        ytr = [r[col] for r in train]
        yte = np.array([r[col] for r in test])
        acc = (LogisticRegression(max_iter=3000).fit(xtr, ytr).predict(xte) == yte).mean()
        chance = 1.0 / len(set(ytr))
        # trained on some videos, tested on others; measured 0.81 (verbs) and 0.85 (nouns), chance 0.125
        assert acc >= 3 * chance, f"{name}: accuracy {acc:.3f} vs chance {chance:.3f}"
