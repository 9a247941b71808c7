"""What every task needs: checkpoint and annotation loading, annotated segments with their visual
words, sequence building in the joint id space, batched inference, freezing and report writing.

Sequences are laid out by ``VideoBertTokenizer.encode_pair`` (docs/ARCHITECTURE.md):
``[CLS] text [>] video [SEP]``, text-only ``[CLS] text [SEP]``, video-only ``[CLS] [>] video [SEP]``.
A segment's visual words are the clips ``videobert.data.corpus.align_sentence`` assigns to its span
(the same rule the pretraining corpus used).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videobert.errors import InputFileError, StageMissingError
from videobert.utils.io import atomic_write_json, read_json

log = logging.getLogger(__name__)

SUBSETS = ("training", "validation", "testing")


# ----------------------------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------------------------


def resolve_checkpoint(work: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None) -> Path:
    """The checkpoint directory: ``checkpoint`` if given, else the one ``WORK/checkpoints/final.txt`` names.

    Raises:
        StageMissingError: no checkpoint can be found.
    """
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_dir():
            raise StageMissingError(f"{path}: checkpoint directory not found")
        return path
    ckpts = Path(work) / "checkpoints"
    final = ckpts / "final.txt"
    if final.is_file():
        name = final.read_text(encoding="utf-8").strip()
        path = ckpts / name
        if path.is_dir():
            return path
        raise StageMissingError(f"{final}: names {name!r}, which is not a directory under {ckpts}")
    steps = sorted(ckpts.glob("step-*"), key=lambda p: int(p.name.split("-")[1]) if p.name[5:].isdigit() else -1)
    if steps:
        return steps[-1]
    raise StageMissingError(f"{ckpts}: no checkpoint (run `videobert pretrain` first)")


def load_checkpoint(
    work: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None
) -> tuple[Any, Any, Path]:
    """Load ``(model, tokenizer, checkpoint_dir)``; the model is in eval mode on the CPU."""
    from videobert.model.modeling import VideoBertForPreTraining
    from videobert.text.tokenizer import VideoBertTokenizer

    path = resolve_checkpoint(work, checkpoint)
    model = VideoBertForPreTraining.from_pretrained(path)
    tokenizer = VideoBertTokenizer.from_pretrained(path)
    model.eval()
    log.info("loaded checkpoint %s", path)
    return model, tokenizer, path


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (restored after).

    Fine-tuning steps on small batches are faster on one thread: on a busy 2-core machine the
    OpenMP barrier of a second thread costs more than it saves (measured 10-30x on small matmuls).
    """
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# annotations and segments
# ----------------------------------------------------------------------------------------------


def default_annotations(work: str | os.PathLike[str]) -> Path:
    """``WORK/annotations.json``, else ``annotations.json`` beside WORK (where ``synth`` may write it)."""
    work = Path(work)
    for cand in (work / "annotations.json", work.parent / "annotations.json"):
        if cand.is_file():
            return cand
    raise StageMissingError(f"{work / 'annotations.json'}: no annotations (pass --annotations FILE)")


def load_annotations(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read a YouCook2-layout annotation file and return its ``database`` mapping.

    Raises:
        InputFileError: not JSON, or no ``database`` mapping of videos with ``annotations`` lists.
    """
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot read annotations: {exc}") from exc
    db = data.get("database") if isinstance(data, dict) else None
    if not isinstance(db, dict):
        raise InputFileError(path, 'expected YouCook2 layout {"database": {video_id: {...}}}')
    for vid, entry in db.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations", []), list):
            raise InputFileError(path, f"video {vid!r}: entry must be a mapping with an 'annotations' list")
    return db


def align_clips(start: float, end: float, clip_times: np.ndarray) -> np.ndarray:
    """int64 (k,) indices of the clips whose [start, end) span overlaps the segment [start, end) (s)."""
    if len(clip_times) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        from videobert.data.corpus import align_sentence  # the corpus stage's definition, if present

        res = align_sentence(start, end, clip_times)
        if isinstance(res, tuple) and len(res) == 2:
            return np.arange(int(res[0]), int(res[1]), dtype=np.int64)
        return np.asarray(res, dtype=np.int64)
    except ImportError:
        pass
    clip_times = np.asarray(clip_times, dtype=np.float64).reshape(-1, 2)  # (n_clips, 2)
    hit = (clip_times[:, 0] < end) & (clip_times[:, 1] > start)
    return np.nonzero(hit)[0].astype(np.int64)


@dataclass
class Segment:
    """One annotated segment with the visual words (vocab-local ids, int32 (k,)) of its clips."""

    video_id: str
    index: int
    start: float
    end: float
    sentence: str
    visual_words: np.ndarray
    verb: str | None = None
    noun: str | None = None
    recipe_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_tokens(work: str | os.PathLike[str], video_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(words int32 (n_clips,), times float64 (n_clips, 2) s)`` from ``WORK/tokens``, or None if absent."""
    base = Path(work) / "tokens"
    words_p, times_p = base / f"{video_id}.npy", base / f"{video_id}.times.npy"
    if not words_p.is_file() or not times_p.is_file():
        return None
    words = np.load(words_p, allow_pickle=False).astype(np.int32)
    times = np.load(times_p, allow_pickle=False).astype(np.float64)
    if len(words) != len(times):
        raise InputFileError(words_p, f"{len(words)} words but {len(times)} clip times")
    return words, times


def video_entries(
    db: dict[str, dict[str, Any]], work: str | os.PathLike[str], subset: str | None
) -> list[tuple[str, dict[str, Any], np.ndarray, np.ndarray]]:
    """``(video_id, entry, words, times)`` of the videos of ``subset`` (all if None) that have tokens."""
    out = []
    missing = 0
    for vid in sorted(db):
        entry = db[vid]
        if subset is not None and entry.get("subset") != subset:
            continue
        tok = load_tokens(work, vid)
        if tok is None:
            missing += 1
            continue
        out.append((vid, entry, tok[0], tok[1]))
    if missing:
        log.warning("%d %s video(s) have no visual words under %s/tokens; skipped", missing, subset, work)
    return out


def load_segments(
    db: dict[str, dict[str, Any]], work: str | os.PathLike[str], subset: str | None = "validation"
) -> list[Segment]:
    """Annotated segments of ``subset`` with their clips' visual words; segments with no clip are skipped."""
    segs: list[Segment] = []
    empty = 0
    for vid, entry, words, times in video_entries(db, work, subset):
        for i, ann in enumerate(entry.get("annotations", [])):
            start, end = (float(x) for x in ann["segment"])
            idx = align_clips(start, end, times)
            if len(idx) == 0:
                empty += 1
                continue
            segs.append(
                Segment(
                    video_id=vid,
                    index=i,
                    start=start,
                    end=end,
                    sentence=str(ann.get("sentence", "")),
                    visual_words=words[idx],
                    verb=ann.get("verb"),
                    noun=ann.get("noun"),
                    recipe_type=None if entry.get("recipe_type") is None else str(entry["recipe_type"]),
                )
            )
    if empty:
        log.warning("%d segment(s) overlap no clip; skipped", empty)
    return segs


def load_segment_splits(
    work: str | os.PathLike[str], annotations: str | os.PathLike[str], *subsets: str
) -> list[list[Segment]]:
    """:func:`load_segments` of each of ``subsets`` (loaded in that order) from one annotations file."""
    db = load_annotations(annotations)
    return [load_segments(db, work, subset) for subset in subsets]


def subsample(words: np.ndarray, max_n: int) -> np.ndarray:
    """At most ``max_n`` items of ``words`` (k,), evenly spaced, order kept."""
    words = np.asarray(words)
    if len(words) <= max_n:
        return words
    if max_n <= 0:
        return words[:0]
    idx = np.linspace(0, len(words) - 1, max_n).round().astype(np.int64)
    return words[idx]


def example_indices(n: int, n_examples: int) -> list[int]:
    """Up to ``n_examples`` distinct indices into ``n`` items, evenly spread from first to last, ascending."""
    pick = np.linspace(0, n - 1, min(n_examples, n)).round().astype(np.int64)
    return list(dict.fromkeys(int(p) for p in pick))


# ----------------------------------------------------------------------------------------------
# sequences
# ----------------------------------------------------------------------------------------------


def encode(
    tokenizer: Any,
    text: str | list[int] | None,
    visual_words: np.ndarray | list[int] | None,
    max_length: int,
) -> tuple[list[int], list[int]]:
    """``(input_ids, token_type_ids)`` of one sequence, laid out by ``tokenizer.encode_pair``.

    ``text`` is a string or WordPiece ids (which may contain ``[MASK]``); ``visual_words`` are
    vocab-local ids. The visual words are first evenly subsampled into the room the text leaves
    (so a long segment is covered end to end rather than cut), then ``encode_pair`` truncates as
    pretraining did if the text alone is too long.
    """
    if visual_words is not None:
        n_text = 0 if text is None else (len(tokenizer.encode_text(text)) if isinstance(text, str) else len(text))
        room = max(max_length - 3 - n_text, 1)
        visual_words = subsample(np.asarray(visual_words, dtype=np.int64), room)
    enc = tokenizer.encode_pair(text, visual_words, max_length=max_length)
    return list(enc["input_ids"]), list(enc["token_type_ids"])


def pad_batch(seqs: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad ``(input_ids, token_type_ids)`` pairs to the longest: long (B, L) input_ids, token_type_ids, attention_mask."""
    length = max(len(s[0]) for s in seqs)
    b = len(seqs)
    input_ids = torch.full((b, length), pad_id, dtype=torch.long)
    types = torch.zeros((b, length), dtype=torch.long)
    mask = torch.zeros((b, length), dtype=torch.long)
    for i, (ids_, tt) in enumerate(seqs):
        input_ids[i, : len(ids_)] = torch.tensor(ids_, dtype=torch.long)
        types[i, : len(tt)] = torch.tensor(tt, dtype=torch.long)
        mask[i, : len(ids_)] = 1
    return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": mask}


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """WordPiece ids of ``text`` without special tokens."""
    return [int(i) for i in tokenizer.encode_text(text)]


@torch.inference_mode()
def alignment_scores(
    model: Any,
    pairs: list[tuple[list[int], list[int]]],
    pad_id: int,
    batch_size: int = 128,
    desc: str | None = None,
) -> np.ndarray:
    """float64 (N,) log P(aligned) of each sequence (log-softmax of ``alignment_logits`` (B, 2), index 1)."""
    from tqdm import tqdm

    model.eval()
    out = np.empty(len(pairs), dtype=np.float64)
    order = np.argsort([len(p[0]) for p in pairs], kind="stable")  # similar lengths -> little padding
    starts = range(0, len(pairs), batch_size)
    for s in tqdm(starts, desc=desc, disable=desc is None or len(starts) < 4, leave=False):
        idx = order[s : s + batch_size]
        batch = pad_batch([pairs[i] for i in idx], pad_id)
        logits = model(**batch).alignment_logits.float()  # (B, 2)
        out[idx] = torch.log_softmax(logits, dim=-1)[:, 1].double().numpy()
    return out


def encoder_layers(model: Any) -> list[torch.nn.Module]:
    """The transformer layers of the model's BERT encoder, bottom first."""
    base = getattr(model, "base_model", model)
    return list(base.encoder.layer)


def freeze_all_but_top(model: torch.nn.Module, n_top_layers: int, extra_keywords: tuple[str, ...] = ()) -> int:
    """Freeze every parameter except the top ``n_top_layers`` encoder layers, the pooler and
    parameters whose name contains one of ``extra_keywords`` (e.g. a head). Returns the trainable count."""
    for p in model.parameters():
        p.requires_grad_(False)
    layers = encoder_layers(model)
    for layer in layers[len(layers) - n_top_layers :] if n_top_layers > 0 else []:
        for p in layer.parameters():
            p.requires_grad_(True)
    for name, p in model.named_parameters():
        if "pooler" in name or any(k in name for k in extra_keywords):
            p.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------------------------
# reports
# ----------------------------------------------------------------------------------------------


def _jsonable(obj: Any) -> Any:
    """Plain JSON types (numpy scalars/arrays -> Python, tuples -> lists, NaN/inf -> None, Path -> str)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_report(work: str | os.PathLike[str], task: str, result: dict[str, Any]) -> Path:
    """Write ``WORK/reports/<task>.json`` atomically (``result`` must hold metrics, chance, n, config, examples)."""
    path = Path(work) / "reports" / f"{task}.json"
    payload = {"task": task, **{k: v for k, v in result.items() if k != "task"}}
    atomic_write_json(path, _jsonable(payload))
    log.info("wrote %s", path)
    return path


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    from videobert.utils.io import atomic_write_with

    atomic_write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)


def bar_chart(labels: list[str], values: list[float], title: str, path: str | os.PathLike[str]) -> None:
    """A small horizontal bar chart (e.g. per-class accuracy) saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, max(1.5, 0.25 * len(labels) + 0.8)))
    ax.barh(range(len(labels)), values, color="#4c72b0")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


def confusion_chart(cm: np.ndarray, labels: list[str], title: str, path: str | os.PathLike[str]) -> None:
    """Confusion matrix (n, n) image, rows = truth, columns = prediction, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.5 + 0.35 * n, 1.2 + 0.35 * n))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=6)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


# ----------------------------------------------------------------------------------------------
# split forward: frozen lower layers once, trainable top layers many times
# ----------------------------------------------------------------------------------------------


def lower_forward(model: Any, batch: dict[str, torch.Tensor], n_top: int) -> torch.Tensor:
    """float (B, L, H) hidden states entering the top ``n_top`` encoder layers (all layers below run).

    With ``n_top == 0`` this is the encoder output ``last_hidden_state``.
    """
    base = getattr(model, "base_model", model)
    enc = base(**batch, output_hidden_states=True, return_dict=True)
    n_layers = len(base.encoder.layer)
    return enc.hidden_states[n_layers - n_top]  # hidden_states[0] = embeddings, [i] = after layer i


class TopStack(torch.nn.Module):
    """The top ``n_top`` encoder layers and the pooler of a model, copied (trainable on their own).

    The pooled state follows the model's ``alignment_pooling`` (``[CLS]`` or masked mean).

    ``forward(hidden (B, L, H), attention_mask (B, L)) -> (last_hidden_state (B, L, H), pooled (B, H))``
    equals the full model's outputs when ``hidden`` comes from :func:`lower_forward` with the same
    ``n_top`` and the copy is unchanged. Fine-tuning a copy leaves the source model untouched, and
    the frozen lower layers run once per input instead of once per epoch.
    """

    def __init__(self, model: Any, n_top: int, copy: bool = True) -> None:
        super().__init__()
        import copy as _copy

        base = getattr(model, "base_model", model)
        layers = list(base.encoder.layer)
        top = layers[len(layers) - n_top :] if n_top > 0 else []
        self.config = base.config
        self.layers = torch.nn.ModuleList([_copy.deepcopy(m) if copy else m for m in top])
        pooler = base.pooler
        self.pooler = (_copy.deepcopy(pooler) if copy else pooler) if pooler is not None else None

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if len(self.layers):
            from transformers.masking_utils import create_bidirectional_mask

            mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
            for layer in self.layers:
                out = layer(hidden, mask)
                hidden = out[0] if isinstance(out, tuple) else out
        from videobert.model.modeling import alignment_pool

        mode = getattr(self.config, "alignment_pooling", "cls")
        pooled = alignment_pool(hidden, attention_mask, self.pooler, mode)  # (B, H)
        return hidden, pooled
