"""Captioning: template features, decoder training, greedy/beam decoding, NN baseline, coco metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tinymodels import STEP_NOUNS, STEP_VERBS, STEP_WORDS, step_words_work, task_inputs, tiny_model

from videobert.data.annotations import Segment
from videobert.eval.baselines import nearest_neighbour_captions
from videobert.eval.captions import java_available
from videobert.model.modeling import VideoBertForPreTraining
from videobert.tasks.base import TaskInputs
from videobert.tasks.caption import (
    EOS,
    CaptionConfig,
    CaptionVocab,
    beam_decode,
    caption,
    greedy_decode,
    segment_features,
    train_decoder,
)
from videobert.text.tokenizer import VideoBertTokenizer

VERBS, NOUNS, V = STEP_VERBS, STEP_NOUNS, STEP_WORDS  # visual words: 2 per (verb, noun) pair


def make_work(root: Path, n_train: int = 12, n_val: int = 4, seed: int = 0) -> Path:
    """A work dir with tokens/ and annotations.json: each step's clips carry its (verb, noun) words."""
    return step_words_work(root, n_train, n_val, seed)


@pytest.fixture(scope="module")
def tiny() -> tuple[VideoBertForPreTraining, VideoBertTokenizer]:
    return tiny_model(V, seed=0)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> TaskInputs:
    return task_inputs(make_work(tmp_path_factory.mktemp("cap")))


def test_template_features_match_the_tokenizer_layout(tiny) -> None:
    model, tok = tiny
    words = [np.array([0, 1, 2]), np.array([5, 5, 7, 9, 11])]
    feats = segment_features(model, tok, words, max_length=64)
    assert feats.shape == (2, 3, 32) and feats.dtype == np.float32
    # Golden: the same template through the tokenizer's own encode_pair ("[MASK]" is BERT's token).
    for i, w in enumerate(words):
        enc = tok.encode_pair(CaptionConfig.template, w, max_length=64)
        ids = torch.tensor([enc["input_ids"]])
        with torch.inference_mode():
            hidden = model(
                input_ids=ids,
                token_type_ids=torch.tensor([enc["token_type_ids"]]),
                attention_mask=torch.tensor([enc["attention_mask"]]),
            ).last_hidden_state[0]  # (L, H)
        masks = hidden[ids[0] == tok.mask_token_id]  # (2, H)
        video = hidden[len(ids[0]) - 1 - len(w) : len(ids[0]) - 1].mean(dim=0)  # (H,)
        np.testing.assert_allclose(feats[i, :2], masks.numpy(), atol=1e-5)
        np.testing.assert_allclose(feats[i, 2], video.numpy(), atol=1e-5)
    assert not np.allclose(feats[0], feats[1])
    # With K token slots: the same first three rows, then the video tokens' own states, zero-padded.
    with_tokens = segment_features(model, tok, words, max_length=64, max_video_tokens=4)
    assert with_tokens.shape == (2, 7, 32)
    np.testing.assert_allclose(with_tokens[:, :3], feats, atol=1e-5)
    assert np.abs(with_tokens[0, 3:6]).sum(axis=1).min() > 0 and not with_tokens[0, 6].any()
    enc = tok.encode_pair(CaptionConfig.template, words[1], max_length=64)
    with torch.inference_mode():
        hidden = model(**{k: torch.tensor([v]) for k, v in enc.items()}).last_hidden_state[0]  # (L, H)
    video_states = hidden[len(enc["input_ids"]) - 6 : len(enc["input_ids"]) - 1]  # (5, H)
    np.testing.assert_allclose(with_tokens[1, 3:], video_states[[0, 1, 3, 4]].numpy(), atol=1e-5)


def test_vocab_roundtrip(tiny) -> None:
    _, tok = tiny
    pieces = tok.encode_text("fry the onion")
    vocab = CaptionVocab(pieces)
    assert len(vocab) == 4 + len(set(pieces))
    enc = vocab.encode(pieces, max_tokens=20)
    assert enc[0] == 1 and enc[-1] == EOS
    assert tok.decode_text(vocab.decode(enc[1:])) == "fry the onion"
    assert vocab.encode(tok.encode_text("boil"), 20)[1] == 3  # unseen piece -> UNK


def test_beam_one_equals_greedy_and_decoding_stops() -> None:
    torch.manual_seed(1)
    torch.set_num_threads(1)  # train_decoder is called directly here, without caption's one-thread guard
    feats = np.random.default_rng(0).normal(size=(6, 3, 16)).astype(np.float32)
    targets = [[1, 4 + (i % 3), 5, EOS] for i in range(6)]
    cfg = CaptionConfig(d_model=16, n_heads=2, steps=3, max_caption_tokens=6)
    dec, _ = train_decoder(feats, targets, 9, cfg)
    g = greedy_decode(dec, feats, max_tokens=6)
    b1 = beam_decode(dec, feats, max_tokens=6, beam=1)
    assert g == b1
    b4 = beam_decode(dec, feats, max_tokens=6, beam=4)
    assert len(b4) == 6 and all(len(r) <= 7 and EOS not in r for r in b4)


def test_nearest_neighbour_caption_uses_bag_of_words() -> None:
    def seg(words: list[int], sentence: str) -> Segment:
        return Segment("v", 0, 0.0, 1.0, sentence, np.asarray(words, np.int32))

    train = [seg([0, 0, 1], "cut the egg"), seg([5, 6, 6], "fry the onion")]
    val = [seg([6, 5], "x"), seg([1, 0], "y")]
    assert nearest_neighbour_captions(train, val, 8) == ["fry the onion", "cut the egg"]


@pytest.mark.skipif(not java_available(), reason="coco-caption metrics need Java")
def test_caption_task_learns_and_reports(tiny, inputs) -> None:
    model, tok = tiny
    cfg = CaptionConfig(d_model=32, n_heads=2, steps=60, train_batch_size=32, lr=3e-3, warmup=10, beam=3, meteor=False, n_examples=6)
    out = caption(model, tok, inputs, cfg)
    assert out.n == len(inputs.segments) == 16
    info = out.details["training"]
    assert info["final_loss"] < 0.5 * info["first_loss"]
    systems = out.details["systems"]
    assert set(systems) == {"beam", "greedy", "nearest_neighbour"} and "METEOR" not in out.metrics
    assert out.metrics == systems["beam"] and out.baseline == systems["nearest_neighbour"]
    assert out.baseline_name == "nearest-neighbour caption" and "notes" not in out.details
    # The task is learnable from the features: beam captions are mostly exactly right.
    exact = np.mean([ex["pred"] == ex["truth"] for ex in out.examples])
    assert exact >= 0.5
    assert out.metrics["BLEU-1"] > 0.8 and out.metrics["CIDEr"] > 3.0
    for ex in out.examples:
        assert out.images[ex["image"]][:4] == b"\x89PNG"


def test_caption_cli_without_java_reports_what_it_left_out(tiny, tmp_path: Path) -> None:
    """No ``java`` on PATH (the README's fresh machine): captioning still scores BLEU, ROUGE-L and
    CIDEr (Python PTB tokenizer), leaves METEOR out and says so in the report."""
    import json
    import os
    import subprocess
    import sys

    model, tok = tiny
    work = make_work(tmp_path)
    model.save_pretrained(work / "checkpoints" / "step-1")
    tok.save_pretrained(work / "checkpoints" / "step-1")
    (work / "checkpoints" / "final.txt").write_text("step-1\n")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # the venv's bin: no java there
    cmd = [sys.executable, "-m", "videobert.cli", "-q", "caption", str(work), "steps=5", "max_segments=4", "n_examples=1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((work / "reports" / "caption.json").read_text())
    assert set(rep["metrics"]) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"}
    assert "METEOR not computed" in rep["notes"][0] and "java" in rep["notes"][0]
    # asked for explicitly, METEOR without Java is an error naming what to install
    proc = subprocess.run([*cmd, "meteor=true"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "default-jre-headless" in proc.stderr and "Traceback" not in proc.stderr
