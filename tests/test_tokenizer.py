"""The joint tokenizer: id space, pair layouts, truncation, save/load (packaged MiniLM vocab)."""

from __future__ import annotations

import numpy as np
import pytest

from videobert.errors import InputFileError, VideoBertError
from videobert.text.tokenizer import VideoBertTokenizer


@pytest.fixture(scope="module")
def tok() -> VideoBertTokenizer:
    return VideoBertTokenizer.from_bert(None, num_visual_words=100)


def test_id_space(tok: VideoBertTokenizer) -> None:
    assert tok.text_vocab_size == 30522
    assert tok.video_sep_token_id == 30522
    assert tok.visual_offset == 30523
    assert tok.vocab_size == 30522 + 1 + 100 == len(tok)
    assert (tok.cls_token_id, tok.sep_token_id, tok.mask_token_id, tok.pad_token_id) == (101, 102, 103, 0)
    assert tok.visual_to_ids([0, 5, 99]) == [30523, 30528, 30622]
    np.testing.assert_array_equal(tok.ids_to_visual([30523, 30622]), [0, 99])
    with pytest.raises(VideoBertError):
        tok.visual_to_ids([100])
    with pytest.raises(VideoBertError):
        tok.ids_to_visual([1996])
    ids = np.array([0, 101, 1996, 30522, 30523, 30622, 30623])
    np.testing.assert_array_equal(tok.is_visual(ids), [0, 0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(tok.is_text(ids), [0, 0, 1, 0, 0, 0, 0])
    pool = tok.random_text_pool()
    assert tok.is_text(pool).all() and len(pool) > 25000


def test_encode_text_and_decode(tok: VideoBertTokenizer) -> None:
    ids = tok.encode_text("cut the Onion")
    assert ids == [3013, 1996, 20949]
    assert tok.decode_text([101, *ids, 30522, 30530, 102]) == "cut the onion"


def test_pair_layouts(tok: VideoBertTokenizer) -> None:
    text = tok.encode_text("cut the onion")
    both = tok.encode_pair("cut the onion", [1, 2])
    assert both["input_ids"] == [101, *text, 30522, 30524, 30525, 102]
    assert both["token_type_ids"] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert both["attention_mask"] == [1] * 8
    text_only = tok.encode_pair(text, None)
    assert text_only["input_ids"] == [101, *text, 102]
    assert text_only["token_type_ids"] == [0] * 5
    video_only = tok.encode_pair(None, np.array([3, 4, 5]))
    assert video_only["input_ids"] == [101, 30522, 30526, 30527, 30528, 102]
    assert video_only["token_type_ids"] == [0, 0, 1, 1, 1, 1]
    with pytest.raises(VideoBertError):
        tok.encode_pair(None, None)


def test_truncation_cuts_longer_side(tok: VideoBertTokenizer) -> None:
    text = list(range(2000, 2030))  # 30 text tokens
    enc = tok.encode_pair(text, list(range(10)), max_length=23)
    ids = enc["input_ids"]
    assert len(ids) == 23
    n_vis = int(tok.is_visual(ids).sum())
    n_txt = int(tok.is_text(ids).sum())
    assert (n_txt, n_vis) == (10, 10)  # text cut down to the video's length, then both
    assert ids[1:11] == text[:10]  # cut from the end
    assert ids[-1] == tok.sep_token_id
    enc = tok.encode_pair(text, list(range(3)), max_length=16)
    assert int(tok.is_visual(enc["input_ids"]).sum()) == 3 and len(enc["input_ids"]) == 16


def test_save_and_load(tmp_path, tok: VideoBertTokenizer) -> None:
    tok.save_pretrained(tmp_path / "t")
    again = VideoBertTokenizer.from_pretrained(tmp_path / "t")
    assert (again.vocab_size, again.num_visual_words, again.visual_offset) == (30623, 100, 30523)
    assert (
        again.encode_pair("a red cube", [7])["input_ids"] == tok.encode_pair("a red cube", [7])["input_ids"]
    )
    with pytest.raises(InputFileError):
        VideoBertTokenizer.from_pretrained(tmp_path / "missing")
