"""``videobert fit-vocab WORK`` and ``videobert gallery WORK``: visual words and a look at them."""

from __future__ import annotations

import argparse
import logging

from videobert.commands.dialect import Command, add_command, work_argument
from videobert.config import kwargs_of
from videobert.vocab.assign import VocabConfig
from videobert.vocab.gallery import GalleryConfig

log = logging.getLogger(__name__)


def _run_fit_vocab(args: argparse.Namespace, cfg: VocabConfig) -> int:

    from videobert.vocab.assign import fit_vocab
    from videobert.vocab.stats import format_stats
    from videobert.workdir import WorkDir

    stats = fit_vocab(WorkDir(args.work).require().root, **kwargs_of(cfg))
    log.info("visual words: %s", format_stats(stats))
    return 0


def _run_gallery(args: argparse.Namespace, cfg: GalleryConfig) -> int:

    from videobert.vocab.gallery import build_gallery
    from videobert.workdir import WorkDir

    index = build_gallery(WorkDir(args.work).require().root, **kwargs_of(cfg))
    log.info("gallery index: %s", index)
    return 0


FIT_VOCAB_FLAGS = ("backbone", "levels", "branching", "max_samples", "seed", "niter", "max_points_per_centroid")
FIT_VOCAB_FLAGS += ("method", "normalize", "assign", "size", "min_clips_per_word")
FIT_VOCAB = Command(
    "fit-vocab", "hierarchical k-means visual words on clip features, then a word per clip of every video",
    _run_fit_vocab, VocabConfig, "Fit the visual-word tree on a sample of WORK/features/<backbone> and write "
    "WORK/vocab/ and WORK/tokens/<video_id>.npy (resumable).\n\nThe tree is the paper's 12^4 when the clips "
    "support it (>= min_clips_per_word clips per word, default 39); with levels and branching unset, size=auto "
    "removes levels (12^3, 12^2, ...) while there are too few clips, and lowers the branching only below one "
    "level of 12. Setting levels or branching (or size=fixed) fits that tree as asked, with a warning when it "
    "has too few clips per word.", work_argument, FIT_VOCAB_FLAGS,
)  # fmt: skip
GALLERY = Command(
    "gallery", "contact sheets of the frames nearest each visual word + HTML index", _run_gallery, GalleryConfig,
    "Write WORK/gallery/words/<id>.png, index.html (by frequency) and thumbs.npz.", work_argument,
    ("top_n", "per_word", "thumb_size", "columns"),
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit-vocab`` and ``gallery`` sub-commands."""
    add_command(subparsers, FIT_VOCAB)
    add_command(subparsers, GALLERY)
