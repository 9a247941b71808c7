"""Text <-> video retrieval over annotated segments by VideoBERT's alignment score, zero-shot and
after fine-tuning.

Every sentence of N evaluation segments is paired with every segment's visual words
(``[CLS] sentence [>] video [SEP]``) and scored by log P(aligned) from the alignment head: an
(N, N) matrix whose diagonal holds the true pairs. Text->video ranks each row, video->text each
column: R@1/5/10 and median rank (ties pessimistic, see ``videobert.eval.metrics``); chance
R@K = K/N, median rank (N+1)/2. By default every evaluation segment is scored against every other
(N^2 cross-encoder passes: YouCook2's ~3,300 validation segments make 11M pairs, a GPU job;
``max_segments`` evaluates N evenly chosen ones instead, as cross-encoder papers do with 1k test
sets); only one segment per distinct sentence is kept so every text query has one right answer.

Fine-tuning: the top ``top_layers`` encoder layers, the pooler and the alignment head (copies; the
loaded model is untouched) are trained on training-subset pairs — each segment with its own visual
words (aligned) and with another segment's (not aligned; half from the same video, half from
another) — for a few epochs. The frozen lower layers run once per pair (cached) and, at test
time, once per pair for both the zero-shot and the fine-tuned scores.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from videobert.data.annotations import Segment
from videobert.errors import VideoBertError
from videobert.eval.intervals import unit_intervals
from videobert.eval.metrics import retrieval_chance, retrieval_metrics, target_ranks, topk_predictions
from videobert.model.inference import TopStack, batched, lower_forward, model_device
from videobert.tasks.base import Task, TaskConfig, TaskInputs, TaskReport, register_task
from videobert.utils.arrays import evenly_spaced
from videobert.utils.runtime import seed_everything, torch_threads

log = logging.getLogger(__name__)

TASK = "retrieve"


@dataclass
class RetrieveConfig(TaskConfig):
    """Settings of retrieval (and those of :class:`TaskConfig`: it fine-tunes on
    ``train_subset``'s segments and evaluates ``subset``'s).

    Attributes:
        max_segments: N, the number of evaluation segments (evenly chosen; None or 0: all), N^2
            pairs scored (log says how many before scoring).
        unique_sentences: keep one segment per distinct sentence (unambiguous queries).
        max_length: tokens per pair (visual words subsampled to fit).
        finetune: also fine-tune and re-evaluate.
        top_layers: encoder layers fine-tuned (plus the pooler and the alignment head).
        epochs, lr, train_batch_size: fine-tuning budget.
        train_threads: torch threads while fine-tuning (1 is fastest for small batches).
        max_train_segments: cap on training segments (each gives one positive and one negative;
            None or 0: all).
        ks: the K of each R@K.
    """

    max_segments: int | None = None
    unique_sentences: bool = True
    max_length: int = 64
    batch_size: int = 256
    n_examples: int = 10
    finetune: bool = True
    top_layers: int = 2
    epochs: int = 15
    lr: float = 3e-4
    train_batch_size: int = 32
    train_threads: int = 1
    max_train_segments: int | None = None
    ks: tuple[int, ...] = (1, 5, 10)


PAIRS_PER_CHUNK = 65536  # (sentence, clips) encodings built and scored at a time


class AlignmentScorer(torch.nn.Module):
    """Top layers (copied) + pooler + alignment head: log P(aligned) from lower-layer states."""

    def __init__(self, model: Any, n_top: int, copy_weights: bool = True) -> None:
        super().__init__()
        self.top = TopStack(model, n_top, copy_weights=copy_weights)
        self.alignment = copy.deepcopy(model.cls.alignment) if copy_weights else model.cls.alignment

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Alignment logits (B, 2) from hidden (B, L, H) and attention_mask (B, L)."""
        _, pooled = self.top(hidden, attention_mask)  # (B, H)
        return self.alignment(pooled)


def select_segments(segments: list[Segment], cfg: RetrieveConfig) -> list[Segment]:
    """The evaluation segments: one per distinct sentence (if asked), at most ``max_segments``, evenly chosen."""
    if cfg.unique_sentences:
        seen: set[str] = set()
        uniq = []
        for s in segments:
            key = " ".join(s.sentence.lower().split())
            if key and key not in seen:
                seen.add(key)
                uniq.append(s)
        segments = uniq
    return [segments[i] for i in evenly_spaced(len(segments), cfg.max_segments or None)]


def _training_pairs(
    tokenizer: Any, segments: list[Segment], cfg: RetrieveConfig
) -> tuple[list[dict[str, list[int]]], np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    if cfg.max_train_segments and len(segments) > cfg.max_train_segments:
        segments = [segments[i] for i in sorted(rng.choice(len(segments), cfg.max_train_segments, replace=False))]
    by_video: dict[str, list[int]] = {}
    for i, s in enumerate(segments):
        by_video.setdefault(s.video_id, []).append(i)
    seqs, labels = [], []
    for i, s in enumerate(segments):
        text = tokenizer.encode_text(s.sentence)
        seqs.append(tokenizer.encode_pair(text, s.visual_words, cfg.max_length, fit="subsample"))
        labels.append(1)
        same = [j for j in by_video[s.video_id] if j != i and segments[j].sentence != s.sentence]
        if same and rng.random() < 0.5:
            j = int(rng.choice(same))
        else:
            j = int(rng.integers(len(segments)))
            while len(segments) > 1 and segments[j].sentence == s.sentence:
                j = int(rng.integers(len(segments)))
        seqs.append(tokenizer.encode_pair(text, segments[j].visual_words, cfg.max_length, fit="subsample"))
        labels.append(0)
    return seqs, np.asarray(labels, dtype=np.int64)


def finetune_alignment(model: Any, tokenizer: Any, train_segments: list[Segment], cfg: RetrieveConfig) -> AlignmentScorer:
    """Fine-tune a copy of the top layers + alignment head on positive / negative training pairs."""
    seed_everything(cfg.seed)
    seqs, labels = _training_pairs(tokenizer, train_segments, cfg)
    device = model_device(model)
    batches = []
    model.eval()
    with torch.no_grad():  # not inference_mode: the cached states feed autograd later
        for idx, batch in batched(tokenizer, seqs, cfg.train_batch_size, True, None, device):
            hidden = lower_forward(model, batch, cfg.top_layers).float()  # (B, L, H)
            batches.append((hidden, batch["attention_mask"].clone(), torch.as_tensor(labels[idx], device=device)))
    scorer = AlignmentScorer(model, cfg.top_layers)
    opt = torch.optim.AdamW(scorer.parameters(), lr=cfg.lr, weight_decay=0.01)
    rng = np.random.default_rng(cfg.seed)
    scorer.train()
    with torch_threads(cfg.train_threads):
        _train_epochs(scorer, opt, batches, rng, cfg.epochs)
    scorer.eval()
    return scorer


def _train_epochs(
    scorer: AlignmentScorer, opt: torch.optim.Optimizer, batches: list, rng: np.random.Generator, epochs: int
) -> None:
    for epoch in range(epochs):
        total = 0.0
        for b in tqdm(rng.permutation(len(batches)), desc=f"retrieve fine-tune {epoch + 1}", leave=False, disable=len(batches) < 50):
            hidden, mask, y = batches[int(b)]
            loss = torch.nn.functional.cross_entropy(scorer(hidden, mask), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        log.info("retrieve fine-tune epoch %d: loss %.4f", epoch + 1, total / max(len(batches), 1))


def score_matrix(
    model: Any, tokenizer: Any, segments: list[Segment], cfg: RetrieveConfig, finetuned: AlignmentScorer | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, N) log P(aligned) of sentence i with segment j's visual words: zero-shot, and fine-tuned if given."""
    n = len(segments)
    texts = [tokenizer.encode_text(s.sentence) for s in segments]
    zs = np.empty(n * n)  # pair (i, j) at i * n + j
    ft = np.empty(n * n) if finetuned is not None else None
    n_top = cfg.top_layers if finetuned is not None else 0
    zs_scorer = AlignmentScorer(model, n_top, copy_weights=False)  # the model's own modules
    device = model_device(model)
    rows_per_chunk = max(1, PAIRS_PER_CHUNK // max(n, 1))  # encodings held at once: bounded
    log.info("retrieve: scoring %d x %d = %d pairs", n, n, n * n)
    model.eval()
    bar = tqdm(total=n * n, desc=f"retrieve scoring {n}x{n}", unit="pair", disable=n * n < 4096, leave=False)
    with torch.inference_mode():
        for r0 in range(0, n, rows_per_chunk):
            pairs = [(i, j) for i in range(r0, min(n, r0 + rows_per_chunk)) for j in range(n)]
            seqs = [tokenizer.encode_pair(texts[i], segments[j].visual_words, cfg.max_length, fit="subsample") for i, j in pairs]
            flat = np.array([i * n + j for i, j in pairs])
            for idx, batch in batched(tokenizer, seqs, cfg.batch_size, True, None, device):
                hidden = lower_forward(model, batch, n_top)  # (B, L, H)
                zs[flat[idx]] = torch.log_softmax(zs_scorer(hidden, batch["attention_mask"]).float(), -1)[:, 1].double().cpu().numpy()
                if finetuned is not None and ft is not None:
                    logits = finetuned(hidden.float(), batch["attention_mask"]).float()  # (B, 2)
                    ft[flat[idx]] = torch.log_softmax(logits, -1)[:, 1].double().cpu().numpy()
            bar.update(len(pairs))
    bar.close()
    zs_m = zs.reshape(n, n)  # (N*N,) -> (N, N): row = sentence, column = video
    return zs_m, None if ft is None else ft.reshape(n, n)  # (N*N,) -> (N, N)


def retrieve(model: Any, tokenizer: Any, inputs: TaskInputs, cfg: RetrieveConfig | None = None) -> TaskReport:
    """Zero-shot (and, with ``cfg.finetune`` and training segments, fine-tuned) retrieval between
    the sentences and the clips of ``inputs.segments``.

    Returns:
        the report: ``metrics`` ``zs_<dir>_R@K`` and ``zs_<dir>_median_rank`` (and ``ft_...``) for
        dir in t2v / v2t, beside chance (K/N, (N+1)/2); ``details`` ``n_train``.
    """
    cfg = cfg or RetrieveConfig()
    segs = select_segments(inputs.segments, cfg)
    if len(segs) < 2:
        raise VideoBertError(f"retrieve: need >= 2 {cfg.subset!r} segments with distinct sentences, got {len(segs)}")
    scorer = None
    train_segments = inputs.train_segments
    if cfg.finetune and train_segments:
        scorer = finetune_alignment(model, tokenizer, train_segments, cfg)
    elif cfg.finetune:
        log.warning("retrieve: no %r segments; skipping fine-tuning", cfg.train_subset)
    zs, ft = score_matrix(model, tokenizer, segs, cfg, scorer)
    metrics: dict[str, float] = {}
    chance: dict[str, float] = {}
    base_chance = retrieval_chance(len(segs), cfg.ks)
    per_query: dict[str, Any] = {}  # metric -> per-segment scores, or a statistic of the resampled segments
    for name, mat in (("zs", zs), ("ft", ft)):
        if mat is None:
            continue
        for k, v in retrieval_metrics(mat, cfg.ks).items():
            metrics[f"{name}_{k}"] = v
            chance[f"{name}_{k}"] = base_chance[k]
        for direction, m in (("t2v", mat), ("v2t", mat.T)):  # segment i is the query of row i / column i
            ranks = target_ranks(m, np.arange(len(segs)))
            per_query |= {f"{name}_{direction}_R@{k}": (ranks <= k).astype(np.float64) for k in cfg.ks}
            per_query[f"{name}_{direction}_median_rank"] = lambda idx, r=ranks: float(np.median(r[idx]))
    best = ft if ft is not None else zs
    top = topk_predictions(best, 3)
    examples = []
    for i in evenly_spaced(len(segs), cfg.n_examples):
        j = int(top[i, 0])
        examples.append(
            {
                "video_id": segs[i].video_id,
                "segment": [segs[i].start, segs[i].end],
                "query": segs[i].sentence,
                "pred": f"{segs[j].video_id} [{segs[j].start:g}, {segs[j].end:g}]",
                "pred_sentence": segs[j].sentence,
                "rank": int(1 + (best[i] > best[i, i]).sum() + (best[i] == best[i, i]).sum() - 1),
            }
        )
    log.info("retrieve on %d segments: %s", len(segs), {k: round(v, 3) for k, v in metrics.items()})
    details = {"n_train": len(train_segments) if scorer is not None else 0}
    intervals = unit_intervals(per_query, chance, n=len(segs), seed=cfg.seed)
    return TaskReport(TASK, metrics, chance, "chance", len(segs), asdict(cfg), examples, details=details, intervals=intervals)


register_task(Task(TASK, "text<->video retrieval, zero-shot and fine-tuned", RetrieveConfig, retrieve))
