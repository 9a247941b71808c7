"""The pretraining loop: AdamW, warm-up + linear decay, accumulation, clipping, checkpoints, DDP.

``pretrain(work, cfg)`` trains ``VideoBertForPreTraining`` on ``WORK/corpus`` and returns the final
checkpoint directory. It resumes by itself from the newest ``WORK/checkpoints/step-N`` (model,
optimiser, scheduler, data position and RNG state), so a killed run continued with the same
config reproduces the uninterrupted run's weights and losses (CPU, ``deterministic: true``).

Under ``torchrun`` (``WORLD_SIZE > 1``) every rank reads its own shard of the data; gradients are
averaged by DDP. Each objective's loss is normalised by its *global* number of targets (over
ranks and accumulated micro-batches), so the gradient of a step equals a single process's on the
same global batch. Rank 0 writes checkpoints, ``WORK/logs/pretrain.jsonl`` and TensorBoard logs
(``WORK/logs/tb``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm
from transformers import BertConfig, get_linear_schedule_with_warmup

from videobert.config import to_dict
from videobert.errors import StageMissingError, VideoBertError
from videobert.model.configuration import VideoBertConfig
from videobert.model.init import (
    from_bert,
    mix_narration,
    narration_directions,
    packaged_bert_path,
    random_init,
)
from videobert.model.modeling import IGNORE_INDEX, VideoBertForPreTraining
from videobert.train import checkpoint as ckpt
from videobert.train.config import PretrainConfig
from videobert.train.distributed import (
    DistInfo,
    all_gather_objects,
    all_reduce_sum,
    barrier,
    broadcast_object,
    cleanup,
    init_distributed,
)
from videobert.utils.io import atomic_write_text
from videobert.utils.runtime import seed_everything
from videobert.workdir import WorkDir

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]
OBJECTIVES = ("text_mlm", "video_mlm", "alignment")


class BatchStream(Protocol):
    """An endless iterable of batch dicts whose position can be saved and restored exactly."""

    def __iter__(self) -> Iterator[Batch]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class PretrainData:
    """Where training and validation batches come from, and the vocabulary they use.

    Attributes:
        make_train: ``(rank, world_size) -> BatchStream`` giving this rank's shard of the data.
        make_eval: ``() -> iterable of batches`` for validation (the same on every call), or None.
        text_vocab_size: T. num_visual_words: V.
        tokenizer: saved into every checkpoint when given (``save_pretrained(dir)``).
        special_ids: ``cls_token_id``/``sep_token_id``/``mask_token_id``/``pad_token_id`` for the config.
    """

    make_train: Callable[[int, int], BatchStream]
    make_eval: Callable[[], Iterable[Batch]] | None
    text_vocab_size: int
    num_visual_words: int
    tokenizer: Any | None = None
    special_ids: dict[str, int] = field(default_factory=dict)


def resolved_num_workers(cfg: PretrainConfig, device: torch.device) -> int:
    """``num_workers``, else 2 on CUDA and 0 elsewhere."""
    if cfg.num_workers is not None:
        return int(cfg.num_workers)
    return 2 if device.type == "cuda" else 0


def corpus_data(
    work: str | os.PathLike[str], cfg: PretrainConfig, device: torch.device | None = None
) -> PretrainData:
    """``PretrainData`` over ``WORK/corpus/{train,val}.parquet`` and ``WORK/corpus/tokenizer``.

    Batches are packed per ``cfg.pack``; training batches are built by ``num_workers`` worker
    processes (resolved for ``device``, default CPU) and pinned when ``device`` is CUDA.
    """
    from videobert.config import from_dict
    from videobert.data.collate import CollateConfig
    from videobert.data.dataset import PretrainStream, eval_batches
    from videobert.text.tokenizer import VideoBertTokenizer

    wd = WorkDir.of(work)
    corpus = wd.corpus
    if not wd.corpus_split("train").is_file():
        raise StageMissingError(f"{wd.corpus_split('train')} is missing: run `videobert tokenize` first")
    tok = VideoBertTokenizer.from_pretrained(wd.corpus_tokenizer)
    collate = from_dict(CollateConfig, dict(cfg.collate))
    device = torch.device("cpu") if device is None else device
    pack = {"pack": cfg.pack, "pack_length": cfg.pack_length or 0}
    workers = resolved_num_workers(cfg, device)

    def make_train(rank: int, world: int) -> BatchStream:
        return PretrainStream(
            corpus, "train", tok, collate, cfg.batch_size, seed=cfg.seed, rank=rank, world_size=world,
            num_workers=workers, pin_memory=device.type == "cuda", **pack,
        )  # fmt: skip

    def make_eval() -> Iterable[Batch]:
        return eval_batches(
            corpus, "val", tok, collate, cfg.batch_size, seed=cfg.seed, max_batches=cfg.eval_batches, **pack,
        )  # fmt: skip

    return PretrainData(
        make_train=make_train,
        make_eval=make_eval if wd.corpus_split("val").is_file() else None,
        text_vocab_size=tok.text_vocab_size,
        num_visual_words=tok.num_visual_words,
        tokenizer=tok,
        special_ids={
            "cls_token_id": tok.cls_token_id,
            "sep_token_id": tok.sep_token_id,
            "mask_token_id": tok.mask_token_id,
            "pad_token_id": tok.pad_token_id,
        },
    )


def build_model(work: str | os.PathLike[str], cfg: PretrainConfig, data: PretrainData) -> VideoBertForPreTraining:
    """The model a fresh run starts from (``cfg.init``), its vocabulary sized to ``data``."""
    overrides = {**data.special_ids, **cfg.model}
    if cfg.init == "random":
        base = BertConfig.from_pretrained(packaged_bert_path()).to_dict()
        fields = set(VideoBertConfig.__dataclass_fields__) - {"vocab_size", "text_vocab_size", "num_visual_words"}
        kwargs = {k: v for k, v in {**base, **overrides}.items() if k in fields}
        config = VideoBertConfig(
            text_vocab_size=data.text_vocab_size, num_visual_words=data.num_visual_words, **kwargs
        )
        model = random_init(config, seed=cfg.seed)
        if cfg.init_visual_from_narration > 0:
            emb = model.bert.embeddings.word_embeddings.weight  # (T + 1 + V, H)
            text_emb = emb[: config.text_vocab_size]
            with torch.no_grad():
                directions = narration_directions(
                    *_narration_rows(work, cfg.narration_rows), text_emb, config.num_visual_words
                )
                mix_narration(emb[config.visual_offset :], text_emb, directions, cfg.init_visual_from_narration)
        return model
    centroids = mask = None
    vocab_dir = WorkDir.of(work).vocab
    if cfg.init_visual_from_centroids and WorkDir.of(work).vocab_config.is_file():
        from videobert.vocab.hkmeans import HierarchicalKMeans

        centroids, mask = HierarchicalKMeans.load(vocab_dir).leaf_centroids()
        if len(centroids) != data.num_visual_words:
            raise VideoBertError(
                f"{vocab_dir}: {len(centroids)} visual words but the corpus uses {data.num_visual_words}"
            )
    narration = _narration_rows(work, cfg.narration_rows) if cfg.init_visual_from_narration > 0 else None
    model = from_bert(
        cfg.init, data.num_visual_words, centroids=centroids, centroid_mask=mask, config_overrides=overrides,
        seed=cfg.seed, narration=narration, narration_weight=cfg.init_visual_from_narration,
    )
    if model.config.text_vocab_size != data.text_vocab_size:
        raise VideoBertError(
            f"checkpoint {cfg.init or 'packaged MiniLM'} has {model.config.text_vocab_size} WordPiece ids "
            f"but the corpus tokenizer has {data.text_vocab_size}"
        )
    return model


def _narration_rows(work: str | os.PathLike[str], limit: int) -> tuple[list[list[int]], list[list[int]]]:
    """``(text_ids, visual_ids)`` of the first ``limit`` rows of WORK/corpus/train.parquet."""
    import pyarrow.parquet as pq

    text_rows: list[list[int]] = []
    visual_rows: list[list[int]] = []
    path = WorkDir.of(work).corpus_split("train")
    for batch in pq.ParquetFile(path).iter_batches(batch_size=8192, columns=["text_ids", "visual_ids"]):
        text_rows += batch.column("text_ids").to_pylist()
        visual_rows += batch.column("visual_ids").to_pylist()
        if len(text_rows) >= limit:
            break
    return text_rows[:limit], visual_rows[:limit]


def objective_counts(batch: Batch, visual_offset: int) -> torch.Tensor:
    """Targets per objective in a batch: (3,) float64 [text labels, visual-word labels, alignment labels]."""
    labels = batch["labels"]
    labelled = labels != IGNORE_INDEX
    video = labelled & (labels >= visual_offset)
    align = batch["alignment_labels"] != IGNORE_INDEX
    return torch.tensor(
        [float((labelled & ~video).sum()), float(video.sum()), float(align.sum())], dtype=torch.float64
    )


def set_deterministic(on: bool) -> None:
    """Deterministic torch algorithms (errors on CPU, warnings on CUDA for ops without one)."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on, warn_only=torch.cuda.is_available())


def enable_activation_checkpointing(model: VideoBertForPreTraining) -> None:
    """Recompute each encoder layer's activations in the backward pass (non-reentrant checkpoints)."""
    enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.x's name
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:  # pragma: no cover - earlier transformers 5 releases
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def sparse_embedding_grad(model: VideoBertForPreTraining, on: bool) -> bool:
    """Let the word embedding's own backward give a sparse gradient (CPU, eager); True when set.

    Only where the decoder is tied to the embedding (the same ``Parameter``): autograd sums the two
    contributions before the parameter's gradient is written, and the decoder's is dense (every
    vocabulary logit at the labelled positions), so ``.grad`` stays dense (clipping, fused AdamW
    and DDP see what they always do) while the embedding side skips a dense (V, H) zero fill and
    scatter per step: (V, H) is 51,259 x 384 floats, 79 MB, at the demo's size. Values are
    unchanged (``tests/test_packing.py``). Left off under ``torch.compile`` and on CUDA, where it
    has not been measured.
    """
    emb = model.bert.embeddings.word_embeddings
    tied = model.cls.predictions.decoder.weight is emb.weight
    emb.sparse = bool(on and tied)
    return emb.sparse


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _host_to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``; to CUDA through page-locked memory, so that the copy is truly async."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)  # a no-op pin for pinned batches
    return t.to(device)


def _to(batch: Batch, device: torch.device) -> Batch:
    return {k: _host_to(v, device) for k, v in batch.items()}


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(
    model: VideoBertForPreTraining, batches: Iterable[Batch], device: torch.device, bf16: bool = False
) -> dict[str, float]:
    """Validation losses and accuracies per objective.

    Returns ``val_{text_mlm,video_mlm,alignment}_loss`` (target-weighted means), ``val_loss`` (their
    weighted sum), ``val_text_mlm_acc`` / ``val_video_mlm_acc`` (arg-max over the whole joint
    vocabulary equals the masked id), ``val_alignment_acc`` and the target counts ``val_n_*``.
    """
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)
    correct = torch.zeros(3, dtype=torch.float64)
    counts = torch.zeros(3, dtype=torch.float64)
    off = model.config.visual_offset
    for batch in batches:
        batch = _to(batch, device)
        with _autocast(device, bf16):
            out = model(**batch)
        n = objective_counts(batch, off)
        pred = out.mlm_logits.argmax(-1)
        hit = pred == out.mlm_labels
        vis = out.mlm_labels >= off
        has_align = batch["alignment_labels"] != IGNORE_INDEX
        align_hit = out.alignment_logits.argmax(-1) == batch["alignment_labels"]
        sums += torch.stack([out.text_mlm_loss, out.video_mlm_loss, out.alignment_loss]).double().cpu() * n
        correct += torch.tensor(
            [float((hit & ~vis).sum()), float((hit & vis).sum()), float((align_hit & has_align).sum())],
            dtype=torch.float64,
        )
        counts += n
    model.train(was_training)
    denom = counts.clamp_min(1)
    losses, accs = (sums / denom).tolist(), (correct / denom).tolist()
    cfg = model.config
    weights = (cfg.text_mlm_weight, cfg.video_mlm_weight, cfg.alignment_weight)
    result = {"val_loss": float(sum(w * v for w, v in zip(weights, losses, strict=True)))}
    for i, name in enumerate(OBJECTIVES):
        result[f"val_{name}_loss"] = losses[i]
        result[f"val_{name}_acc"] = accs[i]
        result[f"val_n_{name}"] = int(counts[i])
    return result


def accumulate_gradients(
    net: torch.nn.Module,
    micro: list[Batch],
    info: DistInfo,
    weights: torch.Tensor,
    visual_offset: int,
    device: torch.device,
    bf16: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Forward + backward over one optimiser step's micro-batches (gradients are accumulated).

    Each objective's loss is normalised by its global target count (all ranks, all micro-batches),
    so after DDP's averaging the gradient equals that of the mean loss over the whole global batch.
    Batches may be padded or packed (``videobert.data.packing``): the counts are the same. Nothing
    here waits for the device: counts come from the host-side batches, the global counts and the
    loss scales stay on the device, and the returned loss sums are device tensors.

    Args:
        net: the model, or its ``DistributedDataParallel`` / ``torch.compile`` wrapper.
        micro: this rank's ``grad_accum`` batches (on the host).
        weights: (3,) loss weights [text MLM, video MLM, alignment].
        visual_offset: joint id of visual word 0.

    Returns:
        (3,) float64 per-objective loss sums (mean x count) on this rank, on ``device``; (3,)
        float64 target counts on this rank (host); and the number of real (unpadded) tokens on
        this rank.
    """
    local_counts = [objective_counts(b, visual_offset) for b in micro]  # host tensors: no sync
    tokens = float(sum(int(b["attention_mask"].sum()) for b in micro))
    counts_dev = _host_to(torch.stack(local_counts), device)  # (M, 3)
    global_counts = all_reduce_sum(counts_dev.sum(0), info).clamp_min(1)  # (3,) on the device
    weights_dev = _host_to(weights, device)
    step_sums = torch.zeros(3, dtype=torch.float64, device=device)
    for i, batch in enumerate(micro):
        batch = _to(batch, device)
        last = i == len(micro) - 1
        sync = net.no_sync() if (info.enabled and not last) else contextlib.nullcontext()
        with sync:
            with _autocast(device, bf16):
                out = net(**batch)
            parts = torch.stack([out.text_mlm_loss, out.video_mlm_loss, out.alignment_loss])  # (3,)
            n = counts_dev[i]
            scale = (weights_dev * n / global_counts * info.world_size).to(parts.dtype)
            (parts * scale).sum().backward()
        step_sums += parts.detach().double() * n
    return step_sums, torch.stack(local_counts).sum(0), tokens


class _Logger:
    """Rank 0's JSONL + TensorBoard writer (a no-op elsewhere)."""

    def __init__(self, path: Path, enabled: bool, resume_step: int) -> None:
        self.enabled = enabled
        self.path = path
        log_dir = path.parent
        self.tb = None
        if not enabled:
            return
        log_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # drop entries a killed run logged after its last checkpoint
            keep = [
                line
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step
            ]
            atomic_write_text(self.path, "".join(line + "\n" for line in keep))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(log_dir / "tb"), purge_step=resume_step + 1 if resume_step else None)
        except ImportError:  # pragma: no cover - tensorboard is a declared dependency
            log.warning("tensorboard is not installed: JSONL logs only")

    def write(self, entry: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
        if self.tb is not None:
            prefix = entry["kind"]
            for key, value in entry.items():
                if key not in ("kind", "step", "time") and isinstance(value, int | float):
                    self.tb.add_scalar(f"{prefix}/{key}", value, entry["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# Settings that change how a run is watched or where it runs, not what it trains: a resumed run
# may differ in them.
# So may the settings of how batches are laid out and computed: packing gives the same examples,
# masks and losses as padding, to float rounding.
OPERATIONAL_KEYS = (
    "device", "log_every", "checkpoint_every", "keep_last", "eval_every", "eval_batches",
    "pack", "pack_length", "num_workers", "compile", "gradient_checkpointing",
)  # fmt: skip
RESUME_MODES = ("auto", "resume", "fresh")


def config_differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested settings dicts (``old -> new``), sorted."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, list | tuple) and isinstance(b, list | tuple) and list(a) == list(b)):
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def _set_aside(work: Path) -> Path:
    """Rename WORK/checkpoints and WORK/logs to the first free ``*.old-N`` (nothing is deleted)."""
    wd = WorkDir.of(work)
    n = 1
    while (wd.root / f"checkpoints.old-{n}").exists() or (wd.root / f"logs.old-{n}").exists():
        n += 1
    for path in (wd.checkpoints, wd.logs):
        if path.exists():
            os.replace(path, path.with_name(f"{path.name}.old-{n}"))
    return wd.root / f"checkpoints.old-{n}"


def _resume_from(work: Path, cfg: PretrainConfig, mode: str) -> Path | None:
    """The checkpoint to continue from, or None to start fresh (see :func:`pretrain`'s ``resume``);
    rank 0 decides (the others learn it by broadcast)."""
    if mode not in RESUME_MODES:
        raise VideoBertError(f"resume must be one of {RESUME_MODES}, got {mode!r}")
    root = WorkDir.of(work).checkpoints
    latest = None
    for _, candidate in reversed(ckpt.list_checkpoints(root)):  # the newest intact one
        reason = ckpt.damage(candidate)
        if reason is None:
            latest = candidate
            break
        log.warning("%s is damaged (%s); trying an older checkpoint", candidate, reason)
    if latest is None and ckpt.list_checkpoints(root):
        log.warning("%s: no intact checkpoint; starting over", root)
    if latest is None:
        if mode == "resume":
            raise StageMissingError(f"{root}: no checkpoint to resume (run without --resume to start)")
        return None
    if mode == "fresh":
        old = _set_aside(work)
        log.info("starting over: the earlier run's checkpoints and logs are kept in %s (and logs.old-*)", old)
        return None
    old_cfg = ckpt.load_run_config(latest)
    if old_cfg is None:
        log.warning("%s stores no run settings (an older checkpoint): resuming without comparing them", latest)
        return latest
    new_cfg = to_dict(cfg)
    diffs = [d for d in config_differences(old_cfg, new_cfg) if d.split(":")[0] not in OPERATIONAL_KEYS]
    if diffs and mode == "auto":
        shown = "; ".join(diffs[:6]) + (f"; ... ({len(diffs)} in all)" if len(diffs) > 6 else "")
        raise VideoBertError(
            f"{latest} was trained with other settings ({shown}); pass --resume to continue it with "
            "the new ones, or --fresh to start over (the old run is kept as checkpoints.old-N)"
        )
    if diffs:
        log.warning("resuming %s with changed settings: %s", latest, "; ".join(diffs))
    return latest


def pretrain(
    work: str | os.PathLike[str],
    cfg: PretrainConfig,
    data: PretrainData | None = None,
    device: str | None = None,
    resume: str = "auto",
) -> Path:
    """Pretrain (or resume pretraining) VideoBERT in ``work``; return the final checkpoint directory.

    Args:
        work: the work directory (reads ``corpus/``, ``vocab/``; writes ``checkpoints/``, ``logs/``).
        cfg: the run's settings.
        data: batch source; None = ``corpus_data(work, cfg)``.
        device: ``"cpu"``/``"cuda"``/``"cuda:N"``; None = ``cfg.device`` (None there: CUDA when available).
        resume: with checkpoints in ``work``: ``"auto"`` continues the newest one when its stored
            settings equal ``cfg`` (but for :data:`OPERATIONAL_KEYS`) and otherwise stops, listing the
            differences; ``"resume"`` continues it with ``cfg``'s settings; ``"fresh"`` sets the old
            run aside (``checkpoints.old-N``, ``logs.old-N``) and starts over.
    """
    work = Path(work)
    info = init_distributed(device if device is not None else cfg.device)
    try:
        return _train(work, cfg, data, info, resume)
    finally:
        cleanup()


def _train(work: Path, cfg: PretrainConfig, data: PretrainData | None, info: DistInfo, mode: str = "auto") -> Path:
    if cfg.grad_accum < 1 or cfg.batch_size < 1 or cfg.max_steps < 1:
        raise VideoBertError("batch_size, grad_accum and max_steps must be >= 1")
    set_deterministic(cfg.deterministic)
    seed_everything(cfg.seed)
    device = info.device
    bf16 = (device.type == "cuda") if cfg.bf16 is None else (cfg.bf16 and device.type == "cuda")
    if cfg.bf16 and device.type != "cuda":
        log.warning("bf16 requested but training on %s: training in fp32", device)
    if data is None:
        data = corpus_data(work, cfg, device)
    root = WorkDir.of(work).checkpoints
    resume = broadcast_object(_resume_from(work, cfg, mode) if info.is_main else None, info)

    if resume is not None:
        model = VideoBertForPreTraining.from_pretrained(resume)
        state = ckpt.load_trainer_state(resume)
        step = int(state["step"])
        log.info("resuming from %s (step %d)", resume, step)
    else:
        model = build_model(work, cfg, data)
        state, step = None, 0
    model.to(device).train()
    if cfg.gradient_checkpointing:
        enable_activation_checkpointing(model)
    off = model.config.visual_offset
    weights = torch.tensor(
        [model.config.text_mlm_weight, model.config.video_mlm_weight, model.config.alignment_weight],
        dtype=torch.float64,
    )
    net: torch.nn.Module = model
    if info.enabled:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    compiled = cfg.compile if cfg.compile is not None else device.type == "cuda"
    if compiled:
        net = torch.compile(net, dynamic=True)  # shapes vary per batch (rows, row length, targets)
    sparse_embedding_grad(model, device.type == "cpu" and not compiled)

    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, fused=True)  # fused on CPU too: ~5x faster there
    scheduler = get_linear_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.max_steps)
    stream = data.make_train(info.rank, info.world_size)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        per_rank = state["ranks"]
        if len(per_rank) != info.world_size:
            raise VideoBertError(f"{resume} was written by {len(per_rank)} processes, now {info.world_size}")
        stream.load_state_dict(per_rank[info.rank]["data"])
        ckpt.set_rng_state(per_rank[info.rank]["rng"])
    if step >= cfg.max_steps:
        log.info("%s already reached max_steps=%d", resume, cfg.max_steps)
        return Path(resume)
    batches = iter(stream)
    logger = _Logger(WorkDir.of(work).pretrain_log, info.is_main, step)

    def save(at: int) -> Path:
        gathered = all_gather_objects({"data": stream.state_dict(), "rng": ckpt.rng_state()}, info)
        path = ckpt.step_dir(root, at)
        if info.is_main:
            trainer_state = {
                "step": at,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "ranks": gathered,
                "world_size": info.world_size,
            }
            path = ckpt.save_checkpoint(root, at, model, trainer_state, data.tokenizer, cfg.keep_last, to_dict(cfg))
        barrier(info)
        return path

    def run_eval(at: int) -> None:
        if data.make_eval is None:
            return
        if info.is_main:
            saved = ckpt.rng_state()  # evaluation must not shift the training RNG streams
            result = evaluate(model, data.make_eval(), device, bf16)
            ckpt.set_rng_state(saved)
            logger.write({"kind": "eval", "step": at, "time": time.time(), **result})
            log.info(
                "step %d: val loss %.4f, text acc %.3f, video acc %.3f, alignment acc %.3f",
                at, result["val_loss"], result["val_text_mlm_acc"], result["val_video_mlm_acc"],
                result["val_alignment_acc"],
            )
        barrier(info)

    window = torch.zeros(7, dtype=torch.float64, device=device)  # loss sums x3, counts x3, tokens (read at log steps)
    window_start = time.perf_counter()
    last_saved = step if resume is not None else -1
    bar = tqdm(total=cfg.max_steps, initial=step, desc="pretrain", disable=not info.is_main, dynamic_ncols=True)
    while step < cfg.max_steps:
        micro = [next(batches) for _ in range(cfg.grad_accum)]
        step_sums, local_counts, tokens = accumulate_gradients(net, micro, info, weights, off, device, bf16)
        grad_norm = (
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm) if cfg.clip_norm > 0 else None
        )
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(1)
        window[:3] += step_sums
        window[3:] += _host_to(torch.cat([local_counts, torch.tensor([tokens], dtype=torch.float64)]), device)

        if step % cfg.log_every == 0 or step == cfg.max_steps:
            totals = all_reduce_sum(window.clone(), info).cpu()
            elapsed = max(time.perf_counter() - window_start, 1e-9)
            losses = (totals[:3] / totals[3:6].clamp_min(1)).tolist()
            entry = {
                "kind": "train",
                "step": step,
                "loss": float((weights * torch.tensor(losses, dtype=torch.float64)).sum()),
                "text_mlm_loss": losses[0],
                "video_mlm_loss": losses[1],
                "alignment_loss": losses[2],
                "lr": scheduler.get_last_lr()[0],
                "grad_norm": float(grad_norm) if grad_norm is not None else None,
                "tokens_per_s": float(totals[6]) / elapsed,
                "time": time.time(),
            }
            logger.write(entry)
            bar.set_postfix(loss=f"{entry['loss']:.3f}", lr=f"{entry['lr']:.2e}")
            if not math.isfinite(entry["loss"]):
                raise VideoBertError(f"loss is not finite at step {step}: {entry}")
            window.zero_()
            window_start = time.perf_counter()
        if cfg.eval_every > 0 and step % cfg.eval_every == 0 and step < cfg.max_steps:
            run_eval(step)
        if cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
            save(step)
            last_saved = step
    bar.close()
    close = getattr(batches, "close", None)
    if close is not None:  # stops DataLoader workers
        close()
    run_eval(step)
    sparse_embedding_grad(model, False)
    final = save(step) if last_saved != step else ckpt.step_dir(root, step)
    logger.close()
    return final


__all__ = [
    "BatchStream",
    "PretrainData",
    "accumulate_gradients",
    "build_model",
    "corpus_data",
    "enable_activation_checkpointing",
    "evaluate",
    "objective_counts",
    "pretrain",
    "sparse_embedding_grad",
]
