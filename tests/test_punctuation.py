"""Punctuation restoration plumbing: a tiny BertForTokenClassification saved by the test, whose
predictions are known (a word ends a sentence exactly when its last sub-word token is marked)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForTokenClassification, BertTokenizer

from videobert.errors import InputFileError, VideoBertError
from videobert.text.punctuation import load_punctuation_model
from videobert.text.sentences import SentenceConfig, segments_to_sentences
from videobert.text.transcripts import Segment

WORDS = ["add", "the", "salt", "now", "stir", "it", "well", "is", "hot", "pan", "oil", "we", "heat"]
ENDS = {"well", "hot", "##cake"}  # tokens the model labels "." ("hot": "?")
LABELS = {0: "0", 1: ".", 2: ",", 3: "?", 4: "-", 5: ":"}


def _save_model(root: Path, id2label: dict[int, str] = LABELS) -> Path:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##cake"]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizer(str(root / "vocab.txt"))
    cfg = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=16, id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )  # fmt: skip
    model = BertForTokenClassification(cfg).eval()
    with torch.no_grad():
        # layers add nothing (zero output projections), embeddings carry one feature: "is an end token"
        for layer in model.bert.encoder.layer:
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
        emb = model.bert.embeddings
        emb.word_embeddings.weight.zero_()
        emb.position_embeddings.weight.zero_()
        emb.token_type_embeddings.weight.zero_()
        for t in ENDS:
            emb.word_embeddings.weight[vocab.index(t), :2] = torch.tensor([1.0, -1.0])
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        label2id = {v: k for k, v in id2label.items()}
        none = label2id.get("0", 0)
        model.classifier.bias[none] = 1.0  # "no punctuation" unless the feature says otherwise
        end_label = label2id.get(".", 1)
        model.classifier.weight[end_label, 0] = 10.0
    out = root / "punct"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_model_marks_words_whose_last_subword_ends_a_sentence(tmp_path: Path) -> None:
    model = load_punctuation_model(_save_model(tmp_path), device="cpu")
    words = "add the salt now stir it well pancake pan".split()  # pancake = pan ##cake
    assert model.labels(words) == ["0", "0", "0", "0", "0", "0", ".", ".", "0"]
    assert model.sentence_ends(words) == [False] * 6 + [True, True, False]
    # 16 positions: windows of at most 14 tokens (and `window` words), overlapping; every word labelled once
    long = ("we heat the pan add oil stir it well " * 12).split()
    assert len(model._windows(long)) > 8
    assert all(b - a <= 14 for a, b in model._windows(long))
    ends = model.sentence_ends(long)
    assert [i for i, e in enumerate(ends) if e] == [9 * k + 8 for k in range(12)]
    assert model is load_punctuation_model(tmp_path / "punct", device="cpu")  # loaded once


def test_sentences_from_the_model_on_unpunctuated_asr(tmp_path: Path) -> None:
    path = _save_model(tmp_path)
    segs = [  # cue breaks and silences say nothing useful here: the model decides
        Segment(0.0, 3.0, "we heat the pan add oil stir it"),
        Segment(3.0, 5.0, "well add the salt now"),
        Segment(5.0, 7.0, "stir it well we heat the oil"),
    ]
    cfg = SentenceConfig(punctuation=str(path), punctuation_device="cpu", min_words=3)
    out = segments_to_sentences(segs, cfg)
    assert [s.text for s in out] == [
        "we heat the pan add oil stir it well",
        "add the salt now stir it well",
        "we heat the oil",
    ]
    assert out[0].end == pytest.approx(3.4)  # "well": first of 5 words over 3-5 s
    # without the model the timing rules cut elsewhere (at the cue starts)
    rules = segments_to_sentences(segs, SentenceConfig(min_words=3, target_words=6))
    assert [s.text for s in rules] != [s.text for s in out]


def test_punctuated_text_does_not_load_the_model(tmp_path: Path) -> None:
    cfg = SentenceConfig(punctuation=str(tmp_path / "never-loaded"), min_words=2)
    out = segments_to_sentences([Segment(0.0, 2.0, "Heat the pan. Add oil.")], cfg)
    assert [s.text for s in out] == ["Heat the pan.", "Add oil."]


def test_missing_or_unusable_model_gives_a_one_line_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    cfg = SentenceConfig(punctuation=str(missing))
    with pytest.raises(InputFileError) as err:
        segments_to_sentences([Segment(0.0, 2.0, "heat the pan add oil")], cfg)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no config.json"):
        load_punctuation_model(tmp_path / "empty")
    odd = tmp_path / "odd"
    odd.mkdir()
    path = _save_model(odd, id2label={0: "O", 1: "COMMA"})
    with pytest.raises(VideoBertError, match=r"none of its labels \['COMMA', 'O'\] ends a sentence") as err:
        load_punctuation_model(path, device="cpu")
    assert str(path) in str(err.value)
