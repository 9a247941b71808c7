"""Test helper: tiny random VideoBERT models (import from any test: ``from tinymodels import ...``).

Stable API::

    tiny_tokenizer_and_config(num_visual_words, special_ids=False) -> (VideoBertTokenizer, VideoBertConfig)
    tiny_model(num_visual_words, seed=0) -> (VideoBertForPreTraining in eval mode, VideoBertTokenizer)
    step_words_work(root, n_train, n_val, seed=0, labels=True, trailing_clip=False) -> WORK path

The model is 2 layers, hidden size 32, 2 heads, intermediate size 64, 128 positions, on the
packaged MiniLM WordPiece vocabulary plus ``num_visual_words`` visual words.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


#: Verbs and nouns of ``step_words_work``; step (verb a, noun o) shows words 2*(a*len(NOUNS)+o)+{0,1}.
STEP_VERBS = ["cut", "fry", "boil", "mix"]
STEP_NOUNS = ["tomato", "onion", "egg"]
STEP_WORDS = 2 * len(STEP_VERBS) * len(STEP_NOUNS)  # 24 visual words


def step_words_work(
    root: Path, n_train: int, n_val: int, seed: int = 0, labels: bool = True, trailing_clip: bool = False
) -> Path:
    """``root/work`` with tokens/ and annotations.json: 4 steps per video, each step's 1 s clips
    carry one of its (verb, noun) pair's two words, its sentence is "VERB the NOUN".

    ``labels`` adds ``verb``/``noun`` to each step and ``recipe_type`` to each video;
    ``trailing_clip`` appends a clip (word 23) after the last step, outside every annotation.
    """
    rng = np.random.default_rng(seed)
    work = root / "work"
    (work / "tokens").mkdir(parents=True, exist_ok=True)
    db = {}
    for v in range(n_train + n_val):
        vid = f"vid{v:02d}"
        words, times, anns = [], [], []
        t = 0.0
        for _ in range(4):
            a, o = int(rng.integers(len(STEP_VERBS))), int(rng.integers(len(STEP_NOUNS)))
            start = t
            for _ in range(int(rng.integers(3, 6))):
                words.append((a * len(STEP_NOUNS) + o) * 2 + int(rng.integers(2)))
                times.append([t, t + 1.0])
                t += 1.0
            ann = {"segment": [start, t], "sentence": f"{STEP_VERBS[a]} the {STEP_NOUNS[o]}"}
            anns.append({**ann, "verb": STEP_VERBS[a], "noun": STEP_NOUNS[o]} if labels else ann)
        if trailing_clip:
            words.append(STEP_WORDS - 1)
            times.append([t, t + 1.0])
            t += 1.0
        np.save(work / "tokens" / f"{vid}.npy", np.asarray(words, np.int32))
        np.save(work / "tokens" / f"{vid}.times.npy", np.asarray(times, np.float64))
        entry = {"subset": "training" if v < n_train else "validation", "duration": t}
        db[vid] = {**entry, "recipe_type": "r", "annotations": anns} if labels else {**entry, "annotations": anns}
    (work / "annotations.json").write_text(json.dumps({"database": db}))
    return work
