"""``videobert fit-vocab WORK`` and ``videobert gallery WORK``: visual words and a look at them."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from videobert.config import load_config

log = logging.getLogger(__name__)


def _overrides(args: argparse.Namespace, names: dict[str, str]) -> list[str]:
    """Dotted ``key=value`` overrides for the CLI flags that were given (``None`` = not given)."""
    out = [f"{key}={getattr(args, attr)}" for attr, key in names.items() if getattr(args, attr) is not None]
    return out + list(args.set or [])


def run_fit_vocab(args: argparse.Namespace) -> int:
    from videobert.vocab.assign import VocabConfig, fit_vocab
    from videobert.vocab.stats import format_stats

    names = {
        "backbone": "backbone",
        "levels": "levels",
        "branching": "branching",
        "max_samples": "max_samples",
        "seed": "seed",
        "niter": "niter",
        "normalize": "normalize",
        "method": "method",
        "max_points_per_centroid": "max_points_per_centroid",
    }
    cfg = load_config(VocabConfig, args.config, _overrides(args, names))
    kwargs: dict[str, Any] = dict(vars(cfg))
    if args.no_assign:
        kwargs["assign"] = False
    stats = fit_vocab(args.work, **kwargs)
    log.info("visual words: %s", format_stats(stats))
    return 0


def run_gallery(args: argparse.Namespace) -> int:
    from videobert.vocab.gallery import GalleryConfig, build_gallery

    names = {"top_n": "top_n", "per_word": "per_word", "thumb_size": "thumb_size", "columns": "columns"}
    cfg = load_config(GalleryConfig, args.config, _overrides(args, names))
    index = build_gallery(args.work, **vars(cfg))
    log.info("gallery index: %s", index)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit-vocab`` and ``gallery`` sub-commands."""
    p = subparsers.add_parser(
        "fit-vocab",
        help="hierarchical k-means visual words on clip features, then a word per clip of every video",
        description="Fit the visual-word tree on a sample of WORK/features/<backbone> and write "
        "WORK/vocab/ and WORK/tokens/<video_id>.npy (resumable).",
    )
    p.add_argument("work", help="work directory")
    p.add_argument("--backbone", default=None, help="feature folder (needed when several exist)")
    p.add_argument("--levels", type=int, default=None, help="tree depth (default 4)")
    p.add_argument("--branching", type=int, default=None, help="children per node (default 12)")
    p.add_argument("--max-samples", type=int, default=None, help="clip features clustered at most (default 500000)")
    p.add_argument("--seed", type=int, default=None, help="sampling and k-means seed (default 0)")
    p.add_argument("--niter", type=int, default=None, help="k-means iterations per node (default 20)")
    p.add_argument("--max-points-per-centroid", type=int, default=None, help="faiss subsampling cap (default: all points)")
    p.add_argument("--method", choices=["tree", "flat"], default=None, help="assignment: tree descent or nearest leaf")
    p.add_argument(
        "--no-normalize", dest="normalize", action="store_const", const=False, default=None,
        help="cluster raw features instead of L2-normalised ones",
    )
    p.add_argument("--no-assign", action="store_true", help="only fit the tree; do not write tokens")
    p.add_argument("--config", default=None, help="YAML file with VocabConfig keys")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override (repeatable)")
    p.set_defaults(func=run_fit_vocab)

    g = subparsers.add_parser(
        "gallery",
        help="contact sheets of the frames nearest each visual word + HTML index",
        description="Write WORK/gallery/words/<id>.png, index.html (by frequency) and thumbs.npz.",
    )
    g.add_argument("work", help="work directory")
    g.add_argument("--top-n", type=int, default=None, help="contact sheets for this many most frequent words (default 200)")
    g.add_argument("--per-word", type=int, default=None, help="nearest clips shown per word (default 8)")
    g.add_argument("--thumb-size", type=int, default=None, help="square frame size in pixels (default 96)")
    g.add_argument("--columns", type=int, default=None, help="frames per sheet row (default 4)")
    g.add_argument("--config", default=None, help="YAML file with GalleryConfig keys")
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override (repeatable)")
    g.set_defaults(func=run_gallery)
