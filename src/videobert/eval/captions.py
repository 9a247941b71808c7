"""Caption metrics through pycocoevalcap: the coco-caption scorers captioning papers report.

We call pycocoevalcap (PTB tokenizer, BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D-free "CIDEr") and do
not re-implement any metric, so our numbers are the numbers a paper's evaluation script would give
on the same captions. SPICE is not computed (it downloads Stanford models at first use).

The PTB tokenizer and METEOR run Java (``java`` on ``PATH``; ``.ci/run`` installs a JRE where one
is missing). Without Java, ``tokenizer="auto"`` tokenises with :mod:`videobert.eval.ptb` (a
Python port of that tokenizer, checked token for token against it in the tests) so BLEU, ROUGE-L
and CIDEr are still pycocoevalcap's; METEOR needs the JVM itself.

pycocoevalcap is an optional dependency (``pip install 'videobert[caption]'``; the ``dev`` extra
and ``scripts/setup.sh`` install it): without it, scoring is a one-line error naming that command.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from videobert.errors import VideoBertError

log = logging.getLogger(__name__)

METRIC_NAMES: tuple[str, ...] = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")


class CaptionScorerError(VideoBertError):
    """The coco-caption scorers cannot run (Java or pycocoevalcap missing) or got bad input."""


def _clean(text: str) -> str:
    """One line of text: METEOR's stdio protocol breaks on newlines and on its ``|||`` separator."""
    return " ".join(str(text).replace("|||", " ").split())


def require_scorers() -> None:
    """Check that pycocoevalcap (the ``caption`` extra) is installed.

    Raises:
        CaptionScorerError: it is not; one line naming ``pip install 'videobert[caption]'``.
    """
    from videobert.utils.extras import MissingDependencyError, require

    try:
        require("pycocoevalcap")
    except MissingDependencyError as exc:
        raise CaptionScorerError(str(exc)) from exc


def java_available() -> bool:
    """Whether a ``java`` executable is on ``PATH`` (pycocoevalcap's tokenizer and METEOR need it)."""
    return shutil.which("java") is not None


def score_captions(
    refs: Mapping[Hashable, Sequence[str]],
    hyps: Mapping[Hashable, str],
    meteor: bool = True,
    tokenizer: str = "java",
) -> dict[str, float]:
    """Corpus-level coco-caption scores of hypotheses against references.

    Args:
        refs: item id -> one or more reference captions (raw text; PTB-tokenised and lower-cased here).
        hyps: item id -> one generated caption; must have exactly the ids of ``refs``.
        meteor: compute METEOR (a Java process; a few seconds to start). When False, "METEOR" is absent.
        tokenizer: ``"java"`` (pycocoevalcap's PTBTokenizer), ``"python"`` (:mod:`videobert.eval.ptb`)
            or ``"auto"`` (Java when ``java`` is on PATH).

    Returns:
        ``{"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr"}`` -> float, each on
        pycocoevalcap's scale (BLEU/METEOR/ROUGE-L in [0, 1], CIDEr in [0, 10]; papers often print
        x100 for the first ones).

    Raises:
        CaptionScorerError: Java or pycocoevalcap missing, ids differ, no items, or an item
            without references.
    """
    return score_caption_sets(refs, {"hyps": hyps}, meteor=meteor, tokenizer=tokenizer)["hyps"]


def score_caption_sets(
    refs: Mapping[Hashable, Sequence[str]],
    systems: Mapping[str, Mapping[Hashable, str]],
    meteor: bool = True,
    tokenizer: str = "java",
    per_item: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, float]]:
    """:func:`score_captions` for several systems on the same references, starting each JVM once.

    Args:
        refs: item id -> reference captions.
        systems: system name -> (item id -> its caption), each with exactly the ids of ``refs``.
        per_item: when given, filled with system name -> metric -> per-item scores float64 (n,) in
            the order of ``refs`` (ROUGE-L, CIDEr: the corpus score is their mean) and, for
            BLEU (a corpus statistic, not a mean), ``BLEU-k`` -> a function of resampled item
            indices (:func:`bleu_statistic`): what bootstrap intervals need. METEOR has none: its
            corpus score pools alignment statistics inside the Java scorer (the mean of its
            per-caption scores is another number), so it gets no interval.

    Returns:
        system name -> the metric dict of :func:`score_captions` (identical numbers).
    """
    for name, hyps in systems.items():
        if set(refs) != set(hyps):
            missing = sorted(map(str, set(refs) ^ set(hyps)))[:5]
            raise CaptionScorerError(
                f"{name}: references and hypotheses must have the same ids (differ at e.g. {missing})"
            )
    if not refs or not systems:
        raise CaptionScorerError("no captions to score")
    for key, rs in refs.items():
        if isinstance(rs, str) or len(rs) == 0:
            raise CaptionScorerError(f"item {key!r}: references must be a non-empty list of strings")
    if tokenizer not in ("java", "python", "auto"):
        raise CaptionScorerError(f"tokenizer must be 'java', 'python' or 'auto', got {tokenizer!r}")
    java = java_available()
    if tokenizer == "auto":
        tokenizer = "java" if java else "python"
    if (meteor or tokenizer == "java") and not java:
        raise CaptionScorerError(
            f"{'METEOR' if meteor else 'the Java PTB tokenizer'} needs Java but no 'java' is on PATH; "
            "install a JRE (e.g. `apt-get install default-jre-headless`) or score with meteor=False, "
            "tokenizer='python'"
        )
    require_scorers()
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    # pycocoevalcap wants {id: [{"caption": str}, ...]}; ids are kept in one fixed order.
    keys = list(refs)
    names = list(systems)
    # One tokenizer call (one JVM start) for references and all hypotheses: it tokenises line by
    # line, so this equals tokenising them separately as COCOEvalCap does.
    both: dict[Any, list[dict[str, str]]] = {
        ("ref", i): [{"caption": _clean(r)} for r in refs[k]] for i, k in enumerate(keys)
    }
    for s, name in enumerate(names):
        both.update({(s, i): [{"caption": _clean(systems[name][k])}] for i, k in enumerate(keys)})
    tokenized = _tokenize(both, tokenizer)
    gts = {i: tokenized.get(("ref", i), []) for i in range(len(keys))}
    if any(len(gts[i]) != len(refs[k]) for i, k in enumerate(keys)):
        raise CaptionScorerError("pycocoevalcap's PTB tokenizer returned a different number of captions")

    out: dict[str, dict[str, float]] = {}
    meteor_scorer = Meteor() if meteor else None
    try:
        for s, name in enumerate(names):
            res = {i: tokenized.get((s, i), [""]) for i in range(len(keys))}
            scores: dict[str, float] = {}
            bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
            for n, value in enumerate(bleu, 1):
                scores[f"BLEU-{n}"] = float(value)
            items: dict[str, Any] = {}
            if meteor_scorer is not None:  # its corpus score aggregates the Java scorer's statistics: not
                scores["METEOR"] = float(meteor_scorer.compute_score(gts, res)[0])  # a mean of per-item scores
            value, each = Rouge().compute_score(gts, res)
            scores["ROUGE-L"], items["ROUGE-L"] = float(value), each
            value, each = Cider().compute_score(gts, res)
            scores["CIDEr"], items["CIDEr"] = float(value), each
            out[name] = scores
            if per_item is not None:
                stats = bleu_stats(gts, res)
                per_item[name] = {k: np.asarray(v, dtype=np.float64) for k, v in items.items()}
                per_item[name] |= {f"BLEU-{n}": bleu_statistic(stats, n) for n in range(1, 5)}
            log.debug("%s: caption scores on %d items: %s", name, len(keys), scores)
    finally:
        if meteor_scorer is not None:
            _close_meteor(meteor_scorer)
    return out


def bleu_stats(gts: Mapping[int, list[str]], res: Mapping[int, list[str]], n: int = 4) -> np.ndarray:
    """BLEU's sufficient statistics per item, float64 (items, 2 + 2n): test length, closest reference
    length, then n-gram guesses and matches for 1..n, as pycocoevalcap's BleuScorer counts them."""
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    scorer = BleuScorer(n=n)
    keys = list(gts)
    for k in keys:
        scorer += (res[k][0], gts[k])
    rows = []
    for comps in scorer.ctest:
        reflen = min((abs(r - comps["testlen"]), r) for r in comps["reflen"])[1]
        rows.append([comps["testlen"], reflen, *comps["guess"], *comps["correct"]])
    return np.asarray(rows, dtype=np.float64).reshape(len(keys), 2 + 2 * n)


def bleu_from_stats(totals: np.ndarray, order: int, n: int = 4) -> np.ndarray:
    """Corpus BLEU-``order`` from summed statistics (..., 2 + 2n) (pycocoevalcap's formula and smoothing)."""
    tiny, small = 1e-15, 1e-9
    totals = np.asarray(totals, dtype=np.float64)
    guess, correct = totals[..., 2 : 2 + n], totals[..., 2 + n :]
    log_p = np.log((correct[..., :order] + tiny) / (guess[..., :order] + small)).sum(axis=-1) / order
    ratio = (totals[..., 0] + tiny) / (totals[..., 1] + small)
    penalty = np.where(ratio < 1, 1 - 1 / ratio, 0.0)
    return np.exp(log_p + penalty)


def bleu_statistic(stats: np.ndarray, order: int) -> Callable[[np.ndarray], float]:
    """Corpus BLEU-``order`` of the items at given indices (a bootstrap unit statistic)."""
    return lambda idx: float(bleu_from_stats(stats[np.asarray(idx)].sum(axis=0), order))


def _tokenize(captions: dict[Any, list[dict[str, str]]], tokenizer: str) -> dict[Any, list[str]]:
    """pycocoevalcap's tokenizer output for ``{key: [{"caption": text}, ...]}``: with ``"java"`` its
    PTBTokenizer (one JVM start), with ``"python"`` :func:`videobert.eval.ptb.tokenize_for_scoring`."""
    if tokenizer == "java":
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        return PTBTokenizer().tokenize(captions)
    from videobert.eval.ptb import tokenize_for_scoring

    return {k: [tokenize_for_scoring(c["caption"]) for c in v] for k, v in captions.items()}


def _close_meteor(scorer: object) -> None:
    """Stop METEOR's JVM now (its ``__del__`` would do it at an unpredictable time)."""
    proc = getattr(scorer, "meteor_p", None)
    if proc is None:
        return
    with contextlib.suppress(Exception):
        proc.stdin.close()
    with contextlib.suppress(Exception):
        proc.kill()
        proc.wait(timeout=10)
    # Keep Meteor.__del__ from touching the closed pipe again.
    with contextlib.suppress(Exception):
        scorer.meteor_p = _DeadProcess()  # type: ignore[attr-defined]


class _DeadProcess:
    """Stand-in for an already-stopped ``subprocess.Popen`` (what ``Meteor.__del__`` expects)."""

    class _Pipe:
        def close(self) -> None:
            return None

    stdin = _Pipe()

    def kill(self) -> None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        return 0
