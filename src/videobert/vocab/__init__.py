"""videobert.vocab: visual words by hierarchical k-means (faiss), their assignment and gallery."""

from videobert.vocab.assign import VocabConfig, assign_all, fit_vocab, load_vocab
from videobert.vocab.gallery import GalleryConfig, build_gallery, load_word_thumbnails
from videobert.vocab.hkmeans import HierarchicalKMeans, kmeans_plus_plus
from videobert.vocab.sizing import TreeSize, auto_tree, choose_tree
from videobert.vocab.stats import vocab_stats

__all__ = [
    "GalleryConfig",
    "HierarchicalKMeans",
    "TreeSize",
    "VocabConfig",
    "assign_all",
    "auto_tree",
    "build_gallery",
    "choose_tree",
    "fit_vocab",
    "kmeans_plus_plus",
    "load_vocab",
    "load_word_thumbnails",
    "vocab_stats",
]
