"""Zero-shot action classification end to end on a tiny VideoBERT pretrained here for a few
hundred steps on a small synthetic world whose visual words reveal the verb and the noun.

``make_world`` and ``tiny_pretrained`` are shared with the classify / retrieve task tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tinymodels import tiny_tokenizer_and_config

from videobert.cli import main
from videobert.errors import VideoBertError
from videobert.model.modeling import VideoBertForPreTraining
from videobert.tasks.common import encode, load_annotations, load_checkpoint, load_segments, pad_batch
from videobert.tasks.zero_shot import ZeroShotConfig, score_slots, zero_shot
from videobert.utils.io import atomic_save_npy, atomic_write_json

VERBS = ["cut", "stir", "pour", "fry", "whisk"]  # "whisk" is three WordPiece pieces
RECIPE_NOUNS = {"salad": ["tomato", "onion"], "omelette": ["egg", "butter"], "soup": ["carrot", "zucchini"]}
NOUNS = [n for ns in RECIPE_NOUNS.values() for n in ns]  # "zucchini" is three pieces
WORDS_PER_VERB = 2
WORDS_PER_NOUN = 2
N_WORDS = len(VERBS) * WORDS_PER_VERB + len(NOUNS) * WORDS_PER_NOUN  # 22 visual words
SENTENCES = ["now let me show you how to {v} the {n}", "{v} the {n}", "then we {v} the {n} here"]


def make_world(root: Path, n_train: int = 8, n_val: int = 3, segs_per_video: int = 5, seed: int = 0) -> Path:
    """WORK dir with tokens/<vid>.npy (+ .times.npy) and annotations.json (YouCook2 layout).

    Each segment is 4 one-second clips alternating a word of its verb and a word of its noun;
    a video's nouns come from its recipe type. ``n_train`` / ``n_val`` videos per recipe type.
    """
    rng = np.random.default_rng(seed)
    work = root / "work"
    db = {}
    for recipe, nouns in RECIPE_NOUNS.items():
        for v_i in range(n_train + n_val):
            vid = f"{recipe}{v_i:02d}"
            words, anns = [], []
            for s in range(segs_per_video):
                verb = VERBS[rng.integers(len(VERBS))]
                noun = nouns[rng.integers(len(nouns))]
                vb = VERBS.index(verb) * WORDS_PER_VERB
                nb = len(VERBS) * WORDS_PER_VERB + NOUNS.index(noun) * WORDS_PER_NOUN
                for c in range(4):
                    base, per = (vb, WORDS_PER_VERB) if c % 2 == 0 else (nb, WORDS_PER_NOUN)
                    words.append(base + rng.integers(per))
                sent = SENTENCES[rng.integers(len(SENTENCES))].format(v=verb, n=noun)
                anns.append({"segment": [4.0 * s, 4.0 * s + 4.0], "sentence": sent, "verb": verb, "noun": noun})
            n = len(words)
            times = np.stack([np.arange(n, dtype=np.float64), np.arange(1, n + 1, dtype=np.float64)], axis=1)
            atomic_save_npy(work / "tokens" / f"{vid}.npy", np.asarray(words, dtype=np.int32))
            atomic_save_npy(work / "tokens" / f"{vid}.times.npy", times)
            db[vid] = {
                "subset": "training" if v_i < n_train else "validation",
                "duration": float(n),
                "recipe_type": recipe,
                "annotations": anns,
            }
    atomic_write_json(work / "annotations.json", {"database": db})
    return work


def tiny_pretrained(work: Path, steps: int = 300, seed: int = 0, lr: float = 5e-3) -> Path:
    """Pretrain a 2-layer, hidden-32 VideoBERT on the training segments (text MLM + alignment);
    save it and its tokenizer to WORK/checkpoints/step-<steps> and name it in final.txt."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest on a busy 2-core machine
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok, cfg = tiny_tokenizer_and_config(N_WORDS, special_ids=True)
    model = VideoBertForPreTraining(cfg)
    segs = load_segments(load_annotations(work / "annotations.json"), work, "training")
    texts = [tok.encode_text(s.sentence) for s in segs]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        idx = rng.integers(len(segs), size=32)
        seqs, labels, align = [], [], []
        for j, i in enumerate(idx):
            neg = j % 2 == 1
            vw = segs[int(rng.integers(len(segs)))].visual_words if neg else segs[i].visual_words
            ids, types = encode(tok, texts[i], vw, 64)
            lab = [-100] * len(ids)
            n_text = len(texts[i])
            if not neg:  # mask the verb's and noun's pieces (and one random token) of aligned pairs
                key = set(tok.encode_text(segs[i].verb or "")) | set(tok.encode_text(segs[i].noun or ""))
                pick = {p for p in range(n_text) if texts[i][p] in key} | {int(rng.integers(n_text))}
                for p in pick:
                    lab[1 + p] = ids[1 + p]
                    ids[1 + p] = tok.mask_token_id
            seqs.append((ids, types))
            labels.append(lab)
            align.append(0 if neg else 1)
        batch = pad_batch(seqs, tok.pad_token_id)
        lab_t = torch.full(batch["input_ids"].shape, -100, dtype=torch.long)
        for j, lab in enumerate(labels):
            lab_t[j, : len(lab)] = torch.tensor(lab)
        out = model(**batch, labels=lab_t, alignment_labels=torch.tensor(align))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    model.eval()
    ckpt = work / "checkpoints" / f"step-{steps}"
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    (work / "checkpoints" / "final.txt").write_text(ckpt.name)
    torch.set_num_threads(threads)
    return ckpt


_CACHE: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def one_thread(_torch_threads):
    """Tiny models run fastest on one thread (after conftest's per-test thread setting)."""
    torch.set_num_threads(1)


def pretrained_world(tmp_path_factory) -> Path:
    """One world + tiny pretrained checkpoint per test process (shared by the task test files)."""
    if "work" not in _CACHE:
        work = make_world(tmp_path_factory.mktemp("tasks"))
        tiny_pretrained(work)
        _CACHE["work"] = work
    return _CACHE["work"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return pretrained_world(tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(world):
    model, tok, _ = load_checkpoint(world)
    db = load_annotations(world / "annotations.json")
    return model, tok, load_segments(db, world, "validation")


def test_world_segments(world):
    db = load_annotations(world / "annotations.json")
    segs = load_segments(db, world, "validation")
    assert len(segs) == 3 * 3 * 5
    assert all(len(s.visual_words) == 4 for s in segs)


def test_zero_shot_beats_chance(loaded):
    model, tok, segs = loaded
    r = zero_shot(model, tok, segs, ZeroShotConfig(), {"verb": VERBS, "noun": NOUNS})
    m, c = r["metrics"], r["chance"]
    assert r["n"] == 45 and r["n_classes"] == {"verb": 5, "noun": 6}
    assert c["verb_top1"] == pytest.approx(1 / 5) and c["noun_top5"] == pytest.approx(5 / 6)
    # the tiny model learnt which visual words go with which verb / noun: far above chance
    assert m["verb_top1"] >= 3 * c["verb_top1"]
    assert m["noun_top1"] >= 3 * c["noun_top1"]
    assert m["verb_top5"] >= m["verb_top1"] and m["noun_top5"] >= m["noun_top1"]
    # majority baseline = share of the most frequent label
    counts = np.bincount([VERBS.index(s.verb) for s in segs], minlength=5)
    assert r["majority"]["verb_top1"] == pytest.approx(counts.max() / 45)
    pc = r["per_class"]["verb"]
    assert pc["classes"] == sorted(VERBS) and sum(pc["support"]) == 45
    assert np.sum(pc["confusion_top1"]) == 45
    acc_from_cm = np.trace(np.array(pc["confusion_top1"])) / 45
    assert acc_from_cm == pytest.approx(m["verb_top1"])


def test_multi_piece_mean_matches_full_logits(loaded):
    """'whisk' / 'zucchini' are 3 WordPiece pieces: scored by the mean log-prob of the pieces at
    three masks; recompute that through the model's full-sequence prediction logits."""
    model, tok, segs = loaded
    seg = segs[0]
    cfg = ZeroShotConfig()
    scores = score_slots(model, tok, [seg.visual_words], [["whisk", "cut"], ["zucchini"]], cfg)
    pieces = tok.encode_text("whisk")
    assert len(pieces) == 3
    text = tok.encode_text("now let me show you how to") + [tok.mask_token_id] * 3 + tok.encode_text("the") + [tok.mask_token_id]
    ids, types = encode(tok, text, seg.visual_words, cfg.max_length)
    with torch.inference_mode():
        out = model(**pad_batch([(ids, types)], tok.pad_token_id), return_all_logits=True)
    logp = torch.log_softmax(out.prediction_logits[0, :, : tok.text_vocab_size].double(), -1)
    first = 1 + len(tok.encode_text("now let me show you how to"))
    manual = np.mean([float(logp[first + j, p]) for j, p in enumerate(pieces)])
    assert scores[0][0, 0] == pytest.approx(manual, abs=1e-4)
    # "first" mode: one mask, the first piece only
    first_scores = score_slots(model, tok, [seg.visual_words], [["whisk"], ["egg"]], ZeroShotConfig(multi_piece="first"))
    text1 = tok.encode_text("now let me show you how to") + [tok.mask_token_id] + tok.encode_text("the") + [tok.mask_token_id]
    ids, types = encode(tok, text1, seg.visual_words, cfg.max_length)
    with torch.inference_mode():
        out = model(**pad_batch([(ids, types)], tok.pad_token_id), return_all_logits=True)
    logp = torch.log_softmax(out.prediction_logits[0, :, : tok.text_vocab_size].double(), -1)
    assert first_scores[0][0, 0] == pytest.approx(float(logp[first, pieces[0]]), abs=1e-4)


def test_prior_calibration_subtracts_the_reference_mean(world, loaded):
    """calibration='prior': each candidate's score minus its mean over the reference segments
    (labels unused); the raw scores' metrics stay in the report as ``uncalibrated``."""
    model, tok, segs = loaded
    db = load_annotations(world / "annotations.json")
    ref = load_segments(db, world, "training")
    vocab = {"verb": VERBS, "noun": NOUNS}
    plain = zero_shot(model, tok, segs, ZeroShotConfig(), vocab)
    cal = zero_shot(model, tok, segs, ZeroShotConfig(calibration="prior"), vocab, reference=ref)
    assert cal["uncalibrated"] == plain["metrics"] and "uncalibrated" not in plain
    raw = score_slots(model, tok, [s.visual_words for s in segs], [sorted(VERBS), sorted(NOUNS)], ZeroShotConfig())
    prior = score_slots(model, tok, [s.visual_words for s in ref], [sorted(VERBS), sorted(NOUNS)], ZeroShotConfig())
    for i, (slot, words) in enumerate(vocab.items()):
        pred = (raw[i] - prior[i].mean(0)).argmax(1)  # (N,)
        truth = np.array([sorted(words).index(getattr(s, slot)) for s in segs])
        assert cal["metrics"][f"{slot}_top1"] == pytest.approx(float((pred == truth).mean()))
    with pytest.raises(VideoBertError, match="reference"):
        zero_shot(model, tok, segs, ZeroShotConfig(calibration="prior"), vocab)
    with pytest.raises(VideoBertError, match="calibration"):
        zero_shot(model, tok, segs, ZeroShotConfig(calibration="pmi"), vocab, reference=ref)


def test_bad_template(loaded):
    model, tok, segs = loaded
    with pytest.raises(VideoBertError, match="exactly 2"):
        zero_shot(model, tok, segs[:2], ZeroShotConfig(template="how to [MASK] it"))


def test_cli_zero_shot(world):
    assert main(["-q", "zero-shot", str(world), "--set", "max_segments=12"]) == 0
    rep = json.loads((world / "reports" / "zero-shot.json").read_text())
    assert rep["task"] == "zero-shot" and rep["n"] == 12
    assert set(rep["metrics"]) >= {"verb_top1", "verb_top5", "noun_top1", "noun_top5"}
    assert set(rep["chance"]) == {"verb_top1", "verb_top5", "noun_top1", "noun_top5"}
    assert rep["n_classes"] == {"verb": 5, "noun": 6}  # vocabularies from all annotations
    assert 0 < len(rep["examples"]) <= 10 and {"video_id", "truth", "pred"} <= set(rep["examples"][0])
    assert main(["-q", "zero-shot", str(world), "--set", "max_segments=12", "--set", "calibration=prior"]) == 0
    rep = json.loads((world / "reports" / "zero-shot.json").read_text())
    assert rep["config"]["calibration"] == "prior" and set(rep["uncalibrated"]) == set(rep["metrics"])
    per_class = json.loads((world / "reports" / "zero-shot" / "per_class.json").read_text())
    assert per_class["noun"]["classes"] == sorted(NOUNS)
    from PIL import Image

    with Image.open(world / "reports" / "zero-shot" / "verb_per_class.png") as im:
        assert im.format == "PNG" and im.width > 50


def test_cli_template_option(world):
    assert main(["-q", "zero-shot", str(world), "--template", "[MASK] the [MASK]", "--set", "max_segments=4"]) == 0
    rep = json.loads((world / "reports" / "zero-shot.json").read_text())
    assert rep["config"]["template"] == "[MASK] the [MASK]" and rep["n"] == 4
