"""``videobert fit-vocab WORK`` and ``videobert gallery WORK``: visual words and a look at them."""

from __future__ import annotations

import argparse
import logging

from videobert.commands.dialect import BACKBONE_HELP, SEED_FLAG, Command, Flag, add_command, work_argument
from videobert.vocab.assign import VocabConfig
from videobert.vocab.gallery import GalleryConfig

log = logging.getLogger(__name__)


def _run_fit_vocab(args: argparse.Namespace, cfg: VocabConfig) -> int:
    from dataclasses import asdict

    from videobert.vocab.assign import fit_vocab
    from videobert.vocab.stats import format_stats
    from videobert.workdir import WorkDir

    stats = fit_vocab(WorkDir(args.work).require().root, **asdict(cfg))
    log.info("visual words: %s", format_stats(stats))
    return 0


def _run_gallery(args: argparse.Namespace, cfg: GalleryConfig) -> int:
    from dataclasses import asdict

    from videobert.vocab.gallery import build_gallery
    from videobert.workdir import WorkDir

    index = build_gallery(WorkDir(args.work).require().root, **asdict(cfg))
    log.info("gallery index: %s", index)
    return 0


FIT_VOCAB = Command(
    name="fit-vocab",
    help="hierarchical k-means visual words on clip features, then a word per clip of every video",
    run=_run_fit_vocab,
    config_class=VocabConfig,
    description="Fit the visual-word tree on a sample of WORK/features/<backbone> and write "
    "WORK/vocab/ and WORK/tokens/<video_id>.npy (resumable).",
    arguments=work_argument,
    flags=(
        Flag("--backbone", "backbone", f"{BACKBONE_HELP}; needed when several were extracted"),
        Flag("--levels", "levels", "tree depth", int),
        Flag("--branching", "branching", "children per node", int),
        Flag("--max-samples", "max_samples", "clip features clustered at most", int),
        SEED_FLAG,
        Flag("--niter", "niter", "k-means iterations per node", int),
        Flag("--max-points-per-centroid", "max_points_per_centroid", "faiss subsampling cap", int),
        Flag("--method", "method", "assignment: tree descent or nearest leaf", choices=("tree", "flat")),
        Flag(
            "--no-normalize", "normalize", "cluster raw features instead of L2-normalised ones", const=False
        ),
        Flag("--no-assign", "assign", "only fit the tree; do not write tokens", const=False),
    ),
)

GALLERY = Command(
    name="gallery",
    help="contact sheets of the frames nearest each visual word + HTML index",
    run=_run_gallery,
    config_class=GalleryConfig,
    description="Write WORK/gallery/words/<id>.png, index.html (by frequency) and thumbs.npz.",
    arguments=work_argument,
    flags=(
        Flag("--top-n", "top_n", "contact sheets for this many most frequent words", int),
        Flag("--per-word", "per_word", "nearest clips shown per word", int),
        Flag("--thumb-size", "thumb_size", "square frame size in pixels", int),
        Flag("--columns", "columns", "frames per sheet row", int),
    ),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit-vocab`` and ``gallery`` sub-commands."""
    add_command(subparsers, FIT_VOCAB)
    add_command(subparsers, GALLERY)
