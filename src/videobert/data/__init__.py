"""videobert.data: the aligned corpus (parquet) and the pretraining batch stream."""

from videobert.data.collate import CollateConfig, Example, RowBlock, collate, make_example
from videobert.data.corpus import CORPUS_SCHEMA, align_sentence, build_corpus
from videobert.data.dataset import PretrainStream, eval_batches

__all__ = [
    "CORPUS_SCHEMA",
    "CollateConfig",
    "Example",
    "PretrainStream",
    "RowBlock",
    "align_sentence",
    "build_corpus",
    "collate",
    "eval_batches",
    "make_example",
]
