"""Zero-shot action classification (VideoBERT paper, Sec. 4.2): fill the template
``"now let me show you how to [MASK] the [MASK]"`` given a segment's visual words, and read the
verb off the first mask and the noun off the second.

Candidates are restricted to the verb and noun vocabularies of the annotations. A word that
WordPiece splits into m pieces is scored, with ``multi_piece="mean"`` (default), by the mean
log-probability of its pieces in a copy of the template whose slot holds m ``[MASK]`` tokens (the
other slot keeps one); with ``multi_piece="first"`` by the log-probability of its first piece at a
single mask. Log-probabilities are over the WordPiece vocabulary only (visual words and ``[>]``
excluded). Metrics: top-1 / top-5 accuracy per slot; chance = 1/n_classes and 5/n_classes
(``chance``), and the majority-class baseline (``majority``).

Labels: the annotations' ``verb`` / ``noun`` per segment. A file without them (YouCook2's own has
only ``sentence``) is labelled in memory by the step ``videobert label-actions`` runs (a POS tagger
over the captions, the ``labels.*`` settings: tagger, vocabulary sizes), which the log and the
report's ``labels`` and ``notes`` say.

``calibration="prior"`` (off by default; the paper reads the raw scores) subtracts from each
candidate's score its mean score over *reference* segments (by default the annotations' training
subset; only their visual words are used, never their labels), i.e. ranks by how much the clips
raise a word over the template's own preference for it. The report then also holds the raw
scores' metrics under ``uncalibrated``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from videobert.errors import VideoBertError
from videobert.eval.intervals import unit_intervals
from videobert.eval.metrics import (
    confusion_matrix,
    per_class_topk,
    target_ranks,
    topk_accuracy,
    topk_predictions,
)
from videobert.model.inference import batched, model_device, text_logits
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, register_task
from videobert.tasks.charts import bar_chart
from videobert.text.actions import SLOTS as ACTION_SLOTS
from videobert.text.actions import ActionLabelConfig
from videobert.utils.arrays import evenly_spaced

log = logging.getLogger(__name__)

TASK = "zero-shot"


@dataclass
class ZeroShotConfig(TaskConfig):
    """Settings of zero-shot action classification (and those of :class:`TaskConfig`).

    Attributes:
        template: text with one ``[MASK]`` per slot, slots in the order of ``slots``.
        slots: annotation field read for each ``[MASK]`` (``"verb"``, ``"noun"``).
        multi_piece: ``"mean"`` or ``"first"`` (see the module docstring).
        max_length: sequence length cap (tokens); visual words are subsampled to fit.
        topk: the K of each top-K accuracy.
        max_segments: evaluate at most this many segments (evenly chosen; None = all).
        calibration: ``"none"`` or ``"prior"`` (see the module docstring); the prior is estimated
            on ``train_subset``'s segments (their visual words only).
        labels: how captions are labelled when the annotations have no ``verb`` / ``noun``
            (:class:`videobert.text.actions.ActionLabelConfig`, as ``videobert label-actions``).
    """

    template: str = "now let me show you how to [MASK] the [MASK]"
    slots: tuple[str, ...] = ("verb", "noun")
    multi_piece: Literal["mean", "first"] = "mean"
    max_length: int = 128
    topk: tuple[int, ...] = (1, 5)
    max_segments: int | None = None
    n_examples: int = 10
    calibration: Literal["none", "prior"] = "none"
    labels: ActionLabelConfig = field(default_factory=ActionLabelConfig)


def score_slots(
    model: Any,
    tokenizer: Any,
    visual_words: list[np.ndarray],
    vocabularies: list[list[str]],
    cfg: ZeroShotConfig,
) -> list[np.ndarray]:
    """Log-probability scores of every candidate word of every slot for every segment.

    Args:
        visual_words: one int (k,) array of vocab-local visual words per segment (N segments).
        vocabularies: per slot, the candidate words (C_s of them).

    Returns:
        per slot a float64 (N, C_s) array of scores (higher = more likely).
    """
    n_slots = len(vocabularies)
    tokenizer.encode_template(cfg.template, [1] * n_slots)  # checks the template's slots
    if cfg.multi_piece not in ("mean", "first"):
        raise VideoBertError(f"multi_piece must be 'mean' or 'first', got {cfg.multi_piece!r}")
    pieces: list[list[list[int]]] = []
    for words in vocabularies:
        ps = []
        for w in words:
            p = tokenizer.encode_text(w)
            if not p:
                raise VideoBertError(f"candidate word {w!r} has no WordPiece tokens")
            ps.append(p[:1] if cfg.multi_piece == "first" else p)
        pieces.append(ps)
    # One template variant per (slot, piece count); the other slots keep a single mask.
    variants: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for s in range(n_slots):
        for m in sorted({len(p) for p in pieces[s]}):
            counts = tuple(m if t == s else 1 for t in range(n_slots))
            variants.setdefault(counts, []).append((s, m))
    n = len(visual_words)
    scores = [np.full((n, len(v)), -np.inf) for v in vocabularies]
    model.eval()
    device = model_device(model)
    for counts, wanted in variants.items():
        text_ids, where = tokenizer.encode_template(cfg.template, counts)
        encs = [tokenizer.encode_pair(text_ids, vw, cfg.max_length, fit="subsample") for vw in visual_words]
        for idx, batch in batched(tokenizer, encs, cfg.batch_size, False, f"zero-shot {counts}", device):
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state  # (B, L, H)
                for s, m in wanted:
                    pos = torch.tensor(
                        [1 + o for o in where[s]], device=device
                    )  # +1: [CLS] precedes the text
                    h = hidden[:, pos]  # (B, m, H)
                    logits = text_logits(model, h.reshape(-1, h.shape[-1])).float()  # (B*m, T)
                    logp = torch.log_softmax(logits, dim=-1).double().cpu().numpy()
                    logp = logp.reshape(len(idx), m, -1)  # (B*m, T) -> (B, m, T)
                    for c, p in enumerate(pieces[s]):
                        if len(p) != m:
                            continue
                        # mean over pieces j of log p(piece_j at mask j)
                        scores[s][idx, c] = logp[:, np.arange(m), p].mean(axis=1)
    return scores


def _annotated(db: dict[str, Any]) -> list[dict[str, Any]]:
    """Every segment mapping of a database."""
    anns = (a for e in db.values() if isinstance(e, dict) for a in (e.get("annotations") or []))
    return [a for a in anns if isinstance(a, dict)]


def action_labels(inputs: TaskInputs, cfg: ZeroShotConfig) -> tuple[TaskInputs, dict[str, Any]]:
    """``inputs`` with ``verb`` / ``noun`` labels from the POS tagger for the slots of ``cfg.slots``
    that no segment of the annotations carries (:func:`videobert.text.actions.label_database` with
    ``cfg.labels``, in memory), and what was done (the report's ``labels``).

    Slots the file (or the segments themselves) label keep those labels untouched; other slots
    than ``verb`` / ``noun`` are never tagged. Returns ``inputs`` itself when nothing is missing.
    """
    from videobert.text.actions import label_database

    wanted = [s for s in cfg.slots if s in ACTION_SLOTS]
    missing = [
        s
        for s in wanted
        if not any(a.get(s) for a in _annotated(inputs.annotations))
        and not any(getattr(g, s, None) for g in inputs.segments)
    ]
    if not missing:
        return inputs, {"source": "annotations"}
    log.info(
        "zero-shot: the annotations have no %s labels; labelling their captions with the POS tagger %r "
        "(as videobert label-actions: %d verbs, %d nouns of the %s captions)",
        " / ".join(missing), cfg.labels.tagger, cfg.labels.verbs, cfg.labels.nouns, cfg.labels.vocab_subset or "all",
    )  # fmt: skip
    labelled, summary = label_database(inputs.annotations, replace(cfg.labels, overwrite=False))
    for vid, entry in labelled.items():  # slots the file has keep the file's labels
        originals = inputs.annotations[vid].get("annotations") or []
        for ann, orig in zip(entry.get("annotations") or [], originals, strict=True):
            for slot in set(ACTION_SLOTS) - set(missing):
                if isinstance(ann, dict) and isinstance(orig, dict):
                    ann.pop(slot, None)
                    if slot in orig:
                        ann[slot] = orig[slot]

    def relabel(segs: list[Any]) -> list[Any]:
        out = []
        for seg in segs:
            ann = labelled[seg.video_id]["annotations"][seg.index]
            out.append(replace(seg, **{slot: ann.get(slot) for slot in missing}))
        return out

    segments = relabel(inputs.segments)
    anns = _annotated(labelled)
    new = replace(inputs, segments=segments, train_segments=relabel(inputs.train_segments), annotations=labelled)
    info = {
        "source": "tagger",
        "slots": missing,
        "tagger": summary.tagger,
        "vocab_subset": summary.vocab_subset,
        "vocabulary_sizes": {slot: len(summary.vocabularies[slot]) for slot in missing},
        "vocabularies": {slot: [[w, c] for w, c in summary.vocabularies[slot]] for slot in missing},
        "annotated_segments": summary.segments,
        "with_verb": sum(1 for a in anns if a.get("verb")),
        "with_noun": sum(1 for a in anns if a.get("noun")),
        "with_both": sum(1 for a in anns if a.get("verb") and a.get("noun")),
        "evaluated_with_label": {slot: sum(1 for s in segments if getattr(s, slot)) for slot in missing},
        "evaluated_segments": len(segments),
    }
    log.info("zero-shot labels from the tagger: %s", summary.line())
    return new, info


def label_vocabularies(inputs: TaskInputs, slots: tuple[str, ...]) -> dict[str, list[str]]:
    """Per slot the sorted labels of every annotated segment of the file (all subsets), else of
    the evaluated segments."""
    out: dict[str, list[str]] = {}
    for slot in slots:
        labels = {
            str(a[slot]) for e in inputs.annotations.values() for a in e.get("annotations", []) if a.get(slot)
        }
        out[slot] = sorted(labels or {str(getattr(s, slot)) for s in inputs.segments if getattr(s, slot)})
    return out


def zero_shot(
    model: Any,
    tokenizer: Any,
    inputs: TaskInputs,
    cfg: ZeroShotConfig | None = None,
    vocabularies: dict[str, list[str]] | None = None,
) -> TaskReport:
    """Zero-shot verb / noun classification of ``inputs.segments``.

    Annotations without ``verb`` / ``noun`` are labelled first (:func:`action_labels`). A segment
    missing a slot's label is left out of that slot's metrics. Candidates per slot are
    ``vocabularies`` (default: :func:`label_vocabularies`); with ``calibration="prior"`` the prior is
    the mean score over ``inputs.train_segments`` (labels unused).

    Returns:
        the report: ``metrics`` ``<slot>_top<K>`` beside chance (1/n_classes, K/n_classes);
        ``details`` ``majority`` (the majority-class baseline), ``n_classes``, ``n_per_slot``,
        ``per_class``, ``label_counts``, ``labels`` (``{"source": "annotations"}``, or ``"tagger"``
        with the tagger, vocabulary sizes and how many segments kept a label, see
        :func:`action_labels`; then also ``notes``) and, with calibration, ``uncalibrated`` (the raw
        scores' metrics).
    """
    cfg = cfg or ZeroShotConfig()
    inputs, labels = action_labels(inputs, cfg)
    segments = [inputs.segments[i] for i in evenly_spaced(len(inputs.segments), cfg.max_segments)]
    vocab = vocabularies or label_vocabularies(inputs, cfg.slots)
    vocab = {slot: sorted(set(vocab.get(slot) or [])) for slot in cfg.slots}
    for slot in cfg.slots:
        if not vocab[slot]:
            raise VideoBertError(f"zero-shot: no segment has a {slot!r} label")
    usable = [s for s in segments if any(getattr(s, slot) for slot in cfg.slots)]
    if not usable:
        raise VideoBertError(f"zero-shot: no {cfg.subset!r} segment to evaluate")
    if cfg.calibration not in ("none", "prior"):
        raise VideoBertError(f"calibration must be 'none' or 'prior', got {cfg.calibration!r}")
    reference = inputs.train_segments
    if cfg.calibration == "prior" and not reference:
        raise VideoBertError(
            f"zero-shot: calibration 'prior' needs reference segments; the {cfg.train_subset!r} subset has none"
        )
    candidates = [vocab[k] for k in cfg.slots]
    scores = score_slots(model, tokenizer, [s.visual_words for s in usable], candidates, cfg)
    raw_scores = scores
    if cfg.calibration == "prior":
        prior = score_slots(model, tokenizer, [s.visual_words for s in reference], candidates, cfg)
        scores = [
            sc - p.mean(axis=0, keepdims=True) for sc, p in zip(scores, prior, strict=True)
        ]  # (N, C_s) each

    metrics: dict[str, float] = {}
    uncalibrated: dict[str, float] = {}
    chance: dict[str, float] = {}
    majority: dict[str, float] = {}
    per_class: dict[str, Any] = {}
    n_classes: dict[str, int] = {}
    n_per_slot: dict[str, int] = {}
    preds: dict[str, np.ndarray] = {}
    hits: dict[str, np.ndarray] = {}  # metric -> (len(usable),) 1/0 per segment, NaN: no such label
    for s_i, slot in enumerate(cfg.slots):
        index = {w: i for i, w in enumerate(vocab[slot])}
        rows = [i for i, seg in enumerate(usable) if getattr(seg, slot) and str(getattr(seg, slot)) in index]
        truth = np.array([index[str(getattr(usable[i], slot))] for i in rows], dtype=np.int64)
        sc = scores[s_i][rows]
        c = len(vocab[slot])
        n_classes[slot] = c
        preds[slot] = topk_predictions(scores[s_i], max(cfg.topk))
        freq = np.sort(np.bincount(truth, minlength=c))[::-1] / max(len(truth), 1)
        ranks = target_ranks(sc, truth)
        for k in cfg.topk:
            metrics[f"{slot}_top{k}"] = topk_accuracy(sc, truth, k)
            hits[f"{slot}_top{k}"] = np.full(len(usable), np.nan)
            hits[f"{slot}_top{k}"][rows] = ranks <= k
            if cfg.calibration != "none":
                uncalibrated[f"{slot}_top{k}"] = topk_accuracy(raw_scores[s_i][rows], truth, k)
            chance[f"{slot}_top{k}"] = min(k, c) / c
            majority[f"{slot}_top{k}"] = float(freq[:k].sum())
        top1 = topk_predictions(sc, 1)[:, 0]
        per_class[slot] = {
            "classes": vocab[slot],
            "support": np.bincount(truth, minlength=c).tolist(),
            **{f"top{k}": per_class_topk(sc, truth, c, k).tolist() for k in cfg.topk},
            "confusion_top1": confusion_matrix(truth, top1, c).tolist(),
        }
        n_per_slot[slot] = len(truth)
    images = {}
    for slot in cfg.slots:
        accs = [0.0 if v is None or np.isnan(v) else v for v in per_class[slot]["top1"]]
        images[f"{slot}_per_class.png"] = bar_chart(vocab[slot], accs, f"zero-shot {slot} top-1 per class")
    examples = []
    step = max(len(usable) // max(cfg.n_examples, 1), 1)
    for i in range(0, len(usable), step)[: cfg.n_examples]:
        seg = usable[i]
        examples.append(
            {
                "video_id": seg.video_id,
                "segment": [seg.start, seg.end],
                "sentence": seg.sentence,
                "truth": " ".join(str(getattr(seg, k) or "?") for k in cfg.slots),
                "pred": " ".join(vocab[k][int(preds[k][i, 0])] for k in cfg.slots),
                **{f"{k}_top5": [vocab[k][int(j)] for j in preds[k][i, :5]] for k in cfg.slots},
            }
        )
    log.info("zero-shot on %d segments: %s", len(usable), {k: round(v, 3) for k, v in metrics.items()})
    details = {
        "majority": majority,
        "n_classes": n_classes,
        "n_per_slot": n_per_slot,
        "per_class": per_class,
        "label_counts": {
            k: dict(Counter(str(getattr(s, k)) for s in usable if getattr(s, k))) for k in cfg.slots
        },
        **({"uncalibrated": uncalibrated} if cfg.calibration != "none" else {}),
        "labels": labels,
    }
    intervals = unit_intervals(hits, chance, seed=cfg.seed)
    if labels["source"] == "tagger":
        details["notes"] = [
            f"{' and '.join(labels['slots'])} labels came from the POS tagger {labels['tagger']} over the captions "
            f"({', '.join(f'{n} {k}s' for k, n in labels['vocabulary_sizes'].items())} of the "
            f"{labels['vocab_subset'] or 'all'} captions), not from the annotation file"
        ]
    return TaskReport(TASK, metrics, chance, "chance", len(usable), asdict(cfg), examples, images, list(images), details, intervals)


register_task(Task(TASK, "zero-shot verb/noun action classification from a template", ZeroShotConfig, zero_shot))
