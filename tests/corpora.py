"""Test helper: a small learnable pretraining corpus (parquet + tokenizer) written in the corpus
schema of docs/ARCHITECTURE.md; shared by tests/test_pretrain.py and tests/test_ddp.py.

Every video has one verb, its sentences say that verb, and its clips' visual words come from a pair
of words owned by that verb (verb k owns visual words 2k and 2k+1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from videobert.data.corpus import CORPUS_SCHEMA
from videobert.text.tokenizer import VideoBertTokenizer

VERBS = ["chop", "stir", "pour", "fry", "bake", "wash"]
NOUNS = ["onion", "tomato", "egg", "rice", "pan", "water", "bread", "salt", "garlic", "butter"]
NUM_VISUAL = 12  # verb k owns visual words 2k and 2k+1
TINY = [
    "init=random",
    "model.hidden_size=32",
    "model.num_hidden_layers=2",
    "model.num_attention_heads=2",
    "model.intermediate_size=64",
    "model.max_position_embeddings=64",
    "collate.max_length=48",
    "collate.max_text_tokens=20",
    "collate.max_video_tokens=20",
]


def tiny_wordpiece(path: Path) -> Path:
    """A BERT WordPiece vocabulary of the corpus's words only (T = 23): keeps the tests fast."""
    path.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "now", "the", *VERBS, *NOUNS]
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    return path


def write_corpus(work: Path, n_train: int = 80, n_val: int = 48, seed: int = 0) -> None:
    """WORK/corpus/{train,val}.parquet + tokenizer: one verb per video, 4 sentences per video."""
    rng = np.random.default_rng(seed)
    tok = VideoBertTokenizer.from_bert(tiny_wordpiece(work / "wordpiece"), NUM_VISUAL)
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for split, n_videos in (("train", n_train), ("val", n_val)):
        rows = []
        for v in range(n_videos):
            verb = int(rng.integers(len(VERBS)))
            clip = 0
            for s in range(4):
                text = f"now {VERBS[verb]} the {NOUNS[int(rng.integers(len(NOUNS)))]}"
                vis = (2 * verb + rng.integers(0, 2, size=int(rng.integers(4, 8)))).astype(np.int32).tolist()
                rows.append(
                    {
                        "video_id": f"{split}{v:03d}",
                        "sentence_index": s,
                        "start": float(clip),
                        "end": float(clip + len(vis)),
                        "text": text,
                        "text_ids": tok.encode_text(text),
                        "visual_ids": vis,
                        "clip_start": clip,
                    }
                )
                clip += len(vis)
        pq.write_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA), corpus / f"{split}.parquet")
    tok.save_pretrained(corpus / "tokenizer")


def read_log(work: Path, kind: str) -> list[dict]:
    """The ``kind`` entries (``train`` / ``eval``) of WORK/logs/pretrain.jsonl."""
    lines = (work / "logs" / "pretrain.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def copy_corpus(src: Path, dst: Path) -> Path:
    """``dst`` with a copy of ``src``'s corpus/ (a fresh run directory on the same corpus)."""
    shutil.copytree(src / "corpus", dst / "corpus")
    return dst
