"""Test helpers: tiny VideoBERT models and the small work directories the task tests read
(import from any test: ``from tinymodels import ...``; the shared pretrained world is the
``task_world`` fixture of conftest.py).

Stable API::

    tiny_tokenizer_and_config(num_visual_words, special_ids=False) -> (VideoBertTokenizer, VideoBertConfig)
    tiny_model(num_visual_words, seed=0) -> (VideoBertForPreTraining in eval mode, VideoBertTokenizer)
    step_words_work(root, n_train, n_val, seed=0, labels=True, trailing_clip=False) -> WORK path
    make_world(root, ...) -> WORK path;  tiny_pretrained(work, steps=300) -> checkpoint path
    task_inputs(work, subset="validation", train_subset="training") -> TaskInputs

The model is 2 layers, hidden size 32, 2 heads, intermediate size 64, 128 positions, on the
packaged MiniLM WordPiece vocabulary plus ``num_visual_words`` visual words.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from videobert.data.annotations import load_annotations, load_segments
from videobert.model.configuration import VideoBertConfig
from videobert.model.modeling import VideoBertForPreTraining
from videobert.tasks.base import TaskConfig, TaskInputs, load_task_inputs
from videobert.text.tokenizer import VideoBertTokenizer
from videobert.utils.io import atomic_save_npy, atomic_write_json
from videobert.workdir import WorkDir


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
        atomic_save_npy(WorkDir(work).token_times_file(vid), np.asarray(times, np.float64))
        entry = {"subset": "training" if v < n_train else "validation", "duration": t}
        db[vid] = {**entry, "recipe_type": "r", "annotations": anns} if labels else {**entry, "annotations": anns}
    (work / "annotations.json").write_text(json.dumps({"database": db}))
    return work


def task_inputs(work: Path, subset: str = "validation", train_subset: str = "training") -> TaskInputs:
    """The tasks' inputs of ``work`` and its ``annotations.json``."""
    return load_task_inputs(WorkDir(work), work / "annotations.json", TaskConfig(subset=subset, train_subset=train_subset))


# ------------------------------------------------------------------------------------------------
# the zero-shot / classify / retrieve world: visual words that reveal the verb and the noun
# ------------------------------------------------------------------------------------------------

VERBS = ["cut", "stir", "pour", "fry", "whisk"]  # "whisk" is three WordPiece pieces
RECIPE_NOUNS = {"salad": ["tomato", "onion"], "omelette": ["egg", "butter"], "soup": ["carrot", "zucchini"]}
NOUNS = [n for ns in RECIPE_NOUNS.values() for n in ns]  # "zucchini" is three pieces
WORDS_PER_VERB = 2
WORDS_PER_NOUN = 2
N_WORDS = len(VERBS) * WORDS_PER_VERB + len(NOUNS) * WORDS_PER_NOUN  # 22 visual words
SENTENCES = ["now let me show you how to {v} the {n}", "{v} the {n}", "then we {v} the {n} here"]


def make_world(root: Path, n_train: int = 8, n_val: int = 3, segs_per_video: int = 5, seed: int = 0) -> Path:
    """WORK dir with tokens/<vid>.npy (+ clip times) and annotations.json (YouCook2 layout).

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
            atomic_save_npy(WorkDir(work).token_times_file(vid), times)
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
        encs, labels, align = [], [], []
        for j, i in enumerate(idx):
            neg = j % 2 == 1
            vw = segs[int(rng.integers(len(segs)))].visual_words if neg else segs[i].visual_words
            enc = tok.encode_pair(texts[i], vw, 64, fit="subsample")
            ids = enc["input_ids"]
            lab = [-100] * len(ids)
            n_text = len(texts[i])
            if not neg:  # mask the verb's and noun's pieces (and one random token) of aligned pairs
                key = set(tok.encode_text(segs[i].verb or "")) | set(tok.encode_text(segs[i].noun or ""))
                pick = {p for p in range(n_text) if texts[i][p] in key} | {int(rng.integers(n_text))}
                for p in pick:
                    lab[1 + p] = ids[1 + p]
                    ids[1 + p] = tok.mask_token_id
            encs.append(enc)
            labels.append(lab)
            align.append(0 if neg else 1)
        batch = tok.pad(encs)
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


def full_logits(model, ids: list[int], types: list[int]) -> torch.Tensor:
    """The model's prediction logits (L, V_all) at every position of one sequence (no batching)."""
    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([ids]),
            token_type_ids=torch.tensor([types]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            return_all_logits=True,
        )
    return out.prediction_logits[0]  # (L, V_all)
