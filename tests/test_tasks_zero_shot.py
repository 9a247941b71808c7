"""Zero-shot action classification end to end on a tiny VideoBERT pretrained here for a few
hundred steps on a small synthetic world whose visual words reveal the verb and the noun
(``task_world`` in conftest.py, shared with the classify / retrieve task tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tinymodels import NOUNS, VERBS, task_inputs

from videobert.cli import main
from videobert.data.annotations import load_annotations, load_segments
from videobert.errors import VideoBertError
from videobert.model.loading import load_model
from videobert.tasks.zero_shot import ZeroShotConfig, score_slots, zero_shot
from videobert.workdir import WorkDir


@pytest.fixture(scope="module")
def world(task_world):
    return task_world


@pytest.fixture(scope="module")
def loaded(world):
    model, tok, _ = load_model(WorkDir(world).resolve_checkpoint())
    return model, tok, task_inputs(world)


def test_world_segments(world, loaded):
    db = load_annotations(world / "annotations.json")
    segs = load_segments(db, world, "validation")
    assert len(segs) == 3 * 3 * 5
    assert all(len(s.visual_words) == 4 for s in segs)
    inputs = loaded[2]
    assert [s.video_id for s in inputs.segments] == [s.video_id for s in segs]
    assert len(inputs.videos) == 9 and len(inputs.train_videos) == 24 and len(inputs.train_segments) == 120


def test_zero_shot_beats_chance(loaded):
    model, tok, inputs = loaded
    segs = inputs.segments
    r = zero_shot(model, tok, inputs, ZeroShotConfig(), {"verb": VERBS, "noun": NOUNS})
    m, c, d = r.metrics, r.baseline, r.details
    assert r.n == 45 and d["n_classes"] == {"verb": 5, "noun": 6} and r.baseline_name == "chance"
    assert c["verb_top1"] == pytest.approx(1 / 5) and c["noun_top5"] == pytest.approx(5 / 6)
    # the tiny model learnt which visual words go with which verb / noun: far above chance
    assert m["verb_top1"] >= 3 * c["verb_top1"]
    assert m["noun_top1"] >= 3 * c["noun_top1"]
    assert m["verb_top5"] >= m["verb_top1"] and m["noun_top5"] >= m["noun_top1"]
    # majority baseline = share of the most frequent label
    counts = np.bincount([VERBS.index(s.verb) for s in segs], minlength=5)
    assert d["majority"]["verb_top1"] == pytest.approx(counts.max() / 45)
    pc = d["per_class"]["verb"]
    assert pc["classes"] == sorted(VERBS) and sum(pc["support"]) == 45
    assert np.sum(pc["confusion_top1"]) == 45
    acc_from_cm = np.trace(np.array(pc["confusion_top1"])) / 45
    assert acc_from_cm == pytest.approx(m["verb_top1"])


def test_multi_piece_mean_matches_full_logits(loaded):
    """'whisk' / 'zucchini' are 3 WordPiece pieces: scored by the mean log-prob of the pieces at
    three masks; recompute that through the model's full-sequence prediction logits."""
    model, tok, inputs = loaded
    seg = inputs.segments[0]
    cfg = ZeroShotConfig()
    scores = score_slots(model, tok, [seg.visual_words], [["whisk", "cut"], ["zucchini"]], cfg)
    pieces = tok.encode_text("whisk")
    assert len(pieces) == 3
    text = tok.encode_text("now let me show you how to") + [tok.mask_token_id] * 3 + tok.encode_text("the") + [tok.mask_token_id]
    enc = tok.encode_pair(text, seg.visual_words, cfg.max_length, fit="subsample")
    with torch.inference_mode():
        out = model(**tok.pad([enc]), return_all_logits=True)
    logp = torch.log_softmax(out.prediction_logits[0, :, : tok.text_vocab_size].double(), -1)
    first = 1 + len(tok.encode_text("now let me show you how to"))
    manual = np.mean([float(logp[first + j, p]) for j, p in enumerate(pieces)])
    assert scores[0][0, 0] == pytest.approx(manual, abs=1e-4)
    # "first" mode: one mask, the first piece only
    first_scores = score_slots(model, tok, [seg.visual_words], [["whisk"], ["egg"]], ZeroShotConfig(multi_piece="first"))
    text1 = tok.encode_text("now let me show you how to") + [tok.mask_token_id] + tok.encode_text("the") + [tok.mask_token_id]
    enc = tok.encode_pair(text1, seg.visual_words, cfg.max_length, fit="subsample")
    with torch.inference_mode():
        out = model(**tok.pad([enc]), return_all_logits=True)
    logp = torch.log_softmax(out.prediction_logits[0, :, : tok.text_vocab_size].double(), -1)
    assert first_scores[0][0, 0] == pytest.approx(float(logp[first, pieces[0]]), abs=1e-4)


def test_prior_calibration_subtracts_the_reference_mean(world, loaded):
    """calibration='prior': each candidate's score minus its mean over the reference segments
    (labels unused); the raw scores' metrics stay in the report as ``uncalibrated``."""
    model, tok, inputs = loaded
    segs, ref = inputs.segments, inputs.train_segments
    vocab = {"verb": VERBS, "noun": NOUNS}
    plain = zero_shot(model, tok, inputs, ZeroShotConfig(), vocab)
    cal = zero_shot(model, tok, inputs, ZeroShotConfig(calibration="prior"), vocab)
    assert cal.details["uncalibrated"] == plain.metrics and "uncalibrated" not in plain.details
    raw = score_slots(model, tok, [s.visual_words for s in segs], [sorted(VERBS), sorted(NOUNS)], ZeroShotConfig())
    prior = score_slots(model, tok, [s.visual_words for s in ref], [sorted(VERBS), sorted(NOUNS)], ZeroShotConfig())
    for i, (slot, words) in enumerate(vocab.items()):
        pred = (raw[i] - prior[i].mean(0)).argmax(1)  # (N,)
        truth = np.array([sorted(words).index(getattr(s, slot)) for s in segs])
        assert cal.metrics[f"{slot}_top1"] == pytest.approx(float((pred == truth).mean()))
    no_reference = task_inputs(world, train_subset="testing")  # no video of that subset
    with pytest.raises(VideoBertError, match="reference"):
        zero_shot(model, tok, no_reference, ZeroShotConfig(calibration="prior", train_subset="testing"), vocab)
    with pytest.raises(VideoBertError, match="calibration"):
        zero_shot(model, tok, inputs, ZeroShotConfig(calibration="pmi"), vocab)


def test_bad_template(loaded):
    model, tok, inputs = loaded
    with pytest.raises(VideoBertError, match="exactly 2"):
        zero_shot(model, tok, inputs, ZeroShotConfig(template="how to [MASK] it", max_segments=2))


def test_cli_zero_shot(world):
    assert main(["-q", "zero-shot", str(world), "max_segments=12"]) == 0
    rep = json.loads((world / "reports" / "zero-shot.json").read_text())
    assert rep["task"] == "zero-shot" and rep["n"] == 12 and rep["baseline_name"] == "chance"
    assert set(rep["metrics"]) >= {"verb_top1", "verb_top5", "noun_top1", "noun_top5"}
    assert set(rep["baseline"]) == {"verb_top1", "verb_top5", "noun_top1", "noun_top5"}
    assert rep["n_classes"] == {"verb": 5, "noun": 6}  # vocabularies from all annotations
    assert 0 < len(rep["examples"]) <= 10 and {"video_id", "truth", "pred"} <= set(rep["examples"][0])
    # the command: a key=value override after an option
    ann = str(world / "annotations.json")
    assert main(["-q", "zero-shot", str(world), "calibration=prior", "--annotations", ann, "--set", "max_segments=12"]) == 0
    rep = json.loads((world / "reports" / "zero-shot.json").read_text())
    assert rep["config"]["calibration"] == "prior" and set(rep["uncalibrated"]) == set(rep["metrics"])
    assert rep["per_class"]["noun"]["classes"] == sorted(NOUNS) and rep["annotations"] == ann
    assert rep["figures"] == ["zero-shot/verb_per_class.png", "zero-shot/noun_per_class.png"]
    from PIL import Image

    with Image.open(world / "reports" / "zero-shot" / "verb_per_class.png") as im:
        assert im.format == "PNG" and im.width > 50


def test_cli_template_option(world):
    assert main(["-q", "zero-shot", str(world), "--template", "[MASK] the [MASK]", "--set", "max_segments=4"]) == 0
    rep = json.loads((world / "reports" / "zero-shot.json").read_text())
    assert rep["config"]["template"] == "[MASK] the [MASK]" and rep["n"] == 4
