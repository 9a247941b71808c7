"""Test helper: tiny random VideoBERT models (import from any test: ``from tinymodels import ...``).

Stable API::

    tiny_tokenizer_and_config(num_visual_words, special_ids=False) -> (VideoBertTokenizer, VideoBertConfig)
    tiny_model(num_visual_words, seed=0) -> (VideoBertForPreTraining in eval mode, VideoBertTokenizer)

The model is 2 layers, hidden size 32, 2 heads, intermediate size 64, 128 positions, on the
packaged MiniLM WordPiece vocabulary plus ``num_visual_words`` visual words.
"""

from __future__ import annotations

import torch

from videobert.model.configuration import VideoBertConfig
from videobert.model.modeling import VideoBertForPreTraining
from videobert.text.tokenizer import VideoBertTokenizer


def tiny_tokenizer_and_config(
    num_visual_words: int, special_ids: bool = False
) -> tuple[VideoBertTokenizer, VideoBertConfig]:
    """The tokenizer with ``num_visual_words`` visual words and a tiny config for it.

    Args:
        special_ids: also copy the tokenizer's [CLS]/[SEP]/[MASK]/[PAD] ids into the config.
    """
    tok = VideoBertTokenizer.from_bert(None, num_visual_words=num_visual_words)
    extra = (
        {
            "cls_token_id": tok.cls_token_id,
            "sep_token_id": tok.sep_token_id,
            "mask_token_id": tok.mask_token_id,
            "pad_token_id": tok.pad_token_id,
        }
        if special_ids
        else {}
    )
    cfg = VideoBertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        text_vocab_size=tok.text_vocab_size,
        num_visual_words=num_visual_words,
        **extra,
    )
    return tok, cfg


def tiny_model(num_visual_words: int, seed: int = 0) -> tuple[VideoBertForPreTraining, VideoBertTokenizer]:
    """A randomly initialised (``torch.manual_seed(seed)``) tiny model in eval mode and its tokenizer."""
    torch.manual_seed(seed)
    tok, cfg = tiny_tokenizer_and_config(num_visual_words)
    return VideoBertForPreTraining(cfg).eval(), tok
