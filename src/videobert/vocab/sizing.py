"""How big a visual vocabulary the data can support: the tree shape ``branching ** levels``.

The paper fits 12^4 = 20,736 words on millions of clips. On a small collection that tree gives
every clip its own word, and pretraining then learns nothing about visual words. The rule here
asks that every k-means of the tree sees enough points per centroid:

* a node at depth ``l`` (``l = 1..L``) is split into ``b`` children; on average it holds
  ``N / b**(l - 1)`` of the ``N`` clips fitted;
* faiss asks for at least 39 training points per centroid (``min_points_per_centroid``: it warns
  below that), i.e. ``N / b**(l - 1) >= 39 * b``, i.e. ``N >= 39 * b**l``;
* the deepest level binds: ``N >= 39 * b**L = 39 * n_words``. Hence the default
  ``min_clips_per_word = 39``: at that many clips per word, the average k-means of *every* level
  meets faiss' own minimum.

``size="auto"`` keeps the requested branching (the paper's 12) and removes levels while there are
too few clips (12^4 -> 12^3 -> 12^2 -> 12^1); only when even one level of ``b`` words is too
many does it lower the branching, to ``N // min_clips_per_word`` (at least 2). It never grows the
tree beyond the request. ``size="fixed"``, or a shape the user set explicitly (``levels`` /
``branching`` not None), fits the requested tree as asked; too few clips per word then gives a
warning naming the tree ``auto`` would pick.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

#: the paper's tree: 4 levels of 12 children
PAPER_LEVELS = 4
PAPER_BRANCHING = 12
#: faiss' ``ClusteringParameters.min_points_per_centroid`` (it warns with fewer training points per centroid)
FAISS_MIN_POINTS_PER_CENTROID = 39
MIN_CLIPS_PER_WORD = FAISS_MIN_POINTS_PER_CENTROID

SizeMode = Literal["auto", "fixed"]
SIZE_MODES: tuple[str, ...] = ("auto", "fixed")


def needed_clips(levels: int, branching: int, min_clips_per_word: int = MIN_CLIPS_PER_WORD) -> int:
    """Clips a ``branching ** levels`` tree needs for ``min_clips_per_word`` clips per word."""
    return int(min_clips_per_word) * int(branching) ** int(levels)


def auto_tree(
    n_clips: int,
    levels: int = PAPER_LEVELS,
    branching: int = PAPER_BRANCHING,
    min_clips_per_word: int = MIN_CLIPS_PER_WORD,
) -> tuple[int, int]:
    """``(levels, branching)`` of the largest tree no bigger than the requested one that ``n_clips``
    clips support (see the module docstring): fewer levels first, a smaller branching only at one level.
    """
    if levels < 1 or branching < 2 or min_clips_per_word < 1:
        raise ValueError(f"need levels >= 1, branching >= 2, min_clips_per_word >= 1; got {levels}, {branching}, {min_clips_per_word}")
    while levels > 1 and n_clips < needed_clips(levels, branching, min_clips_per_word):
        levels -= 1
    if levels == 1 and n_clips < needed_clips(1, branching, min_clips_per_word):
        branching = max(2, int(n_clips) // int(min_clips_per_word))
    return levels, branching


def _shape(levels: int, branching: int) -> str:
    return f"{branching}^{levels}"


@dataclass(frozen=True)
class TreeSize:
    """The tree chosen for a fit, and why.

    Attributes:
        levels, branching: the tree fitted (``n_words = branching ** levels``).
        requested_levels, requested_branching: what was asked for (the paper's 4 x 12 by default).
        mode: ``auto`` (shrunk to the data where needed) or ``fixed`` (fitted as asked).
        explicit: the shape was set by the user (levels or branching not None).
        n_clips: clip features the tree is fitted on (the sample: at most ``max_samples``).
        min_clips_per_word: the clips per word a word needs to mean something.
        reason: why this shape, one sentence.
    """

    levels: int
    branching: int
    requested_levels: int
    requested_branching: int
    mode: str
    explicit: bool
    n_clips: int
    min_clips_per_word: int
    reason: str

    @property
    def n_words(self) -> int:
        return self.branching**self.levels

    @property
    def clips_per_word(self) -> float:
        """Fitted clips per word of the id space (what each deepest k-means sees per centroid on average)."""
        return self.n_clips / self.n_words

    @property
    def too_few(self) -> bool:
        """Fewer clips per word than ``min_clips_per_word``."""
        return self.n_clips < needed_clips(self.levels, self.branching, self.min_clips_per_word)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: the fields plus ``n_words``, ``clips_per_word``, ``too_few`` and ``needed_clips``
        (of the requested tree)."""
        out = asdict(self)
        out.update(
            n_words=self.n_words,
            clips_per_word=self.clips_per_word,
            too_few=self.too_few,
            needed_clips=needed_clips(self.requested_levels, self.requested_branching, self.min_clips_per_word),
        )
        return out

    def message(self) -> str:
        """The log line, e.g. ``vocabulary: 12^2 = 144 words for 6,000 clips (41.7 clips per word);
        12^4 needs >= 808,704 clips (39 per word): size=auto chose fewer levels``."""
        head = (
            f"vocabulary: {_shape(self.levels, self.branching)} = {self.n_words:,} words for {self.n_clips:,} clips "
            f"({self.clips_per_word:,.1f} clips per word)"
        )
        return f"{head}; {self.reason}" if self.reason else head

    def warning(self) -> str | None:
        """The too-few-clips warning (None when there are enough)."""
        if not self.too_few:
            return None
        lv, b = auto_tree(self.n_clips, self.levels, self.branching, self.min_clips_per_word)
        return (
            f"vocabulary {_shape(self.levels, self.branching)} = {self.n_words:,} words has only "
            f"{self.clips_per_word:,.1f} clips per word (fewer than min_clips_per_word={self.min_clips_per_word}): "
            f"the k-means place centroids on too few points and pretraining sees each word too rarely to learn it; "
            f"{self.n_clips:,} clips support {_shape(lv, b)} = {b**lv:,} words (size=auto, levels and branching unset)"
        )


def choose_tree(
    n_clips: int,
    levels: int | None = None,
    branching: int | None = None,
    size: str = "auto",
    min_clips_per_word: int = MIN_CLIPS_PER_WORD,
) -> TreeSize:
    """The tree to fit on ``n_clips`` clip features.

    Args:
        n_clips: clip features fitted (>= 0).
        levels, branching: the requested shape; ``None``: the paper's 4 / 12, and not explicit.
        size: ``"auto"``: when neither ``levels`` nor ``branching`` was given, shrink the tree to
            the data (:func:`auto_tree`); ``"fixed"``: fit the requested tree.
        min_clips_per_word: see the module docstring (default 39, faiss' minimum per centroid).

    Raises:
        ValueError: an unknown ``size`` or an impossible shape.
    """
    if size not in SIZE_MODES:
        raise ValueError(f"size must be one of {', '.join(SIZE_MODES)}, got {size!r}")
    explicit = levels is not None or branching is not None
    req_l = PAPER_LEVELS if levels is None else int(levels)
    req_b = PAPER_BRANCHING if branching is None else int(branching)
    need = needed_clips(req_l, req_b, min_clips_per_word)
    needs = f"{_shape(req_l, req_b)} needs >= {need:,} clips ({min_clips_per_word} per word)"
    if size == "fixed" or explicit:
        why = "set explicitly" if explicit else "size=fixed"
        lv, b = req_l, req_b
        reason = f"the requested tree ({why})" + ("" if n_clips >= need else f"; {needs}")
    else:
        lv, b = auto_tree(n_clips, req_l, req_b, min_clips_per_word)
        if (lv, b) == (req_l, req_b):
            reason = f"the requested tree (size=auto: {n_clips:,} clips are enough)"
        elif b == req_b:
            reason = f"{needs}: size=auto chose {req_l - lv} level(s) fewer"
        else:
            reason = f"{needs}, and even {_shape(1, req_b)} needs {needed_clips(1, req_b, min_clips_per_word):,}: size=auto chose branching {b}"
    mode = "fixed" if (size == "fixed" or explicit) else "auto"
    return TreeSize(lv, b, req_l, req_b, mode, explicit, int(n_clips), int(min_clips_per_word), reason)


__all__ = [
    "MIN_CLIPS_PER_WORD",
    "PAPER_BRANCHING",
    "PAPER_LEVELS",
    "SIZE_MODES",
    "TreeSize",
    "auto_tree",
    "choose_tree",
    "needed_clips",
]
