"""Streaming the parquet corpus into pretraining batches with flat memory and exact resume.

:class:`PretrainStream` reads ``corpus/<split>.parquet`` one row group at a time (the corpus
writer uses row groups of 1024 rows), builds one example per anchor row
(:func:`videobert.data.collate.make_example`, neighbours taken from the same row group; regime
ratios for text rows corrected for the corpus's share of video-only rows by
:func:`videobert.data.collate.balance_regimes`), passes
them through a bounded shuffle buffer and collates ``batch_size`` of them per batch. Memory is
bounded by one row group plus ``shuffle_buffer`` examples, whatever the corpus size.

Epoch ``e``: row groups are visited in a permutation seeded by ``(seed, e)``; rank ``r`` of ``w``
uses as anchors the rows whose global index ``i`` has ``i % w == r`` (all ranks read every row
group, so neighbours and negatives are available to all). Each epoch drops its last partial
batch (unless the epoch has no full batch at all). Every random draw comes from generators
seeded by ``(seed, rank, epoch, row group)`` and ``(seed, rank, epoch, batch index)``, so the
stream is a pure function of its seed and :meth:`PretrainStream.state_dict` (epoch, batches
consumed in it) is enough to resume exactly: on resume, examples of the epoch are rebuilt and
the consumed batches skipped without collating them.

With ``pack`` every batch is packed (:func:`videobert.data.packing.pack_batch`, rows of up to
``pack_length`` tokens, 0: the batch's longest sequence) after it is collated: the same examples
and masks, in full rows. With ``num_workers`` > 0 batches are
built in ``torch.utils.data.DataLoader`` worker processes (``pin_memory`` for CUDA): worker ``w``
of ``W`` rebuilds the examples of every epoch but collates and packs only the batches ``k`` (counted
from the position the stream starts at) with ``k % W == w``; the loader hands them out in
order, each with its position, so the stream, its state and a resume are the same as with
``num_workers=0``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from videobert.data.collate import CollateConfig, Example, RowBlock, balance_regimes, collate, make_example
from videobert.data.packing import pack_batch
from videobert.errors import InputFileError, StageMissingError, VideoBertError
from videobert.text.tokenizer import VideoBertTokenizer

log = logging.getLogger(__name__)

_COLUMNS = ["video_id", "text_ids", "visual_ids", "clip_start"]


def _open(corpus_dir: str | os.PathLike[str], split: str) -> pq.ParquetFile:
    path = Path(corpus_dir) / f"{split}.parquet"
    if not path.exists():
        raise StageMissingError(f"{path}: missing; run `videobert tokenize` first")
    try:
        return pq.ParquetFile(str(path))
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise InputFileError(path, f"not a readable corpus file ({str(exc).splitlines()[0][:160]}); "
                             "run `videobert tokenize` again") from exc  # fmt: skip


def _row_group_offsets(pf: pq.ParquetFile) -> list[int]:
    offs, total = [], 0
    for g in range(pf.num_row_groups):
        offs.append(total)
        total += pf.metadata.row_group(g).num_rows
    return offs


def video_only_fraction(pf: pq.ParquetFile) -> float:
    """Fraction of rows with ``sentence_index == -1`` (read one int32 column per row group)."""
    n = pf.metadata.num_rows
    if n == 0:
        return 0.0
    count = 0
    for g in range(pf.num_row_groups):
        col = pf.read_row_group(g, columns=["sentence_index"]).column("sentence_index").to_numpy()
        count += int((col < 0).sum())
    return count / n


def _examples(
    pf: pq.ParquetFile,
    order: list[int],
    cfg: CollateConfig,
    seed_key: tuple[int, ...],
    rank: int,
    world_size: int,
) -> Iterator[Example]:
    """Examples of the anchors of this rank, row group by row group in ``order``."""
    offsets = _row_group_offsets(pf)
    for g in order:
        block = RowBlock.from_table(pf.read_row_group(g, columns=_COLUMNS))
        rng = np.random.default_rng([*seed_key, g])
        first = (rank - offsets[g]) % world_size
        for j in range(first, len(block), world_size):
            yield make_example(block, j, cfg, rng)


Batch = dict[str, torch.Tensor]


class _WorkerShard(torch.utils.data.IterableDataset):
    """What one ``DataLoader`` worker makes of a stream: its share of the batches, with positions."""

    def __init__(self, stream: PretrainStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[tuple[Batch, int, int]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return self.stream.positioned_batches(worker, workers)


class PretrainStream:
    """Infinite iterable of pretraining batches over ``corpus_dir/<split>.parquet``.

    Each batch is the dict of docs/ARCHITECTURE.md (``input_ids``, ``token_type_ids``,
    ``attention_mask``, ``labels`` (B, L) long; ``alignment_labels``, ``regime`` (B,) long;
    ``mlm_positions`` (N,)), with ``pack`` packed into rows of at most ``pack_length`` tokens (0:
    the batch's longest sequence; then also ``position_ids``, ``example_ids``, ``example_starts``). ``num_workers`` > 0 builds
    batches in that many ``DataLoader`` worker processes (``pin_memory``: page-locked, for CUDA).
    """

    def __init__(
        self,
        corpus_dir: str | os.PathLike[str],
        split: str,
        tokenizer: VideoBertTokenizer,
        cfg: CollateConfig,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle_buffer: int = 2048,
        pack: bool = False,
        pack_length: int = 0,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if batch_size < 1:
            raise VideoBertError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise VideoBertError(f"rank {rank} outside world_size {world_size}")
        self.corpus_dir = Path(corpus_dir)
        self.split = split
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.batch_size = batch_size
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.shuffle_buffer = max(1, int(shuffle_buffer))
        if num_workers < 0:
            raise VideoBertError(f"num_workers must be >= 0, got {num_workers}")
        self.pack = bool(pack)
        self.pack_length = int(pack_length)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.epoch = 0
        self.batches_in_epoch = 0  # batches of ``epoch`` already yielded
        pf = _open(self.corpus_dir, split)
        self.num_rows = pf.metadata.num_rows
        self.rows_per_rank = len(range(rank, self.num_rows, world_size))
        self.video_only_fraction = video_only_fraction(pf)
        self.row_cfg = balance_regimes(cfg, self.video_only_fraction)  # ratios used for text rows
        if self.rows_per_rank == 0:
            raise VideoBertError(
                f"{self.corpus_dir / split}.parquet: no rows for rank {rank} of {world_size}"
            )

    def __len__(self) -> int:
        """Batches per epoch for this rank (the stream itself is infinite)."""
        return max(1, self.rows_per_rank // self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        """The position: ``{"epoch", "batches_in_epoch", "seed", "rank", "world_size"}`` (plain ints)."""
        return {
            "epoch": self.epoch,
            "batches_in_epoch": self.batches_in_epoch,
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at ``state``: the next batch equals the one an uninterrupted stream would give."""
        if int(state.get("seed", self.seed)) != self.seed:
            log.warning("resuming a stream saved with seed %s under seed %s", state.get("seed"), self.seed)
        self.epoch = int(state["epoch"])
        self.batches_in_epoch = int(state["batches_in_epoch"])

    def _epoch_example_batches(self, epoch: int) -> Iterator[list[Example]]:
        pf = _open(self.corpus_dir, self.split)
        order = np.random.default_rng([self.seed, epoch, 11]).permutation(pf.num_row_groups).tolist()
        key = (self.seed, self.rank, epoch, 3)
        buf_rng = np.random.default_rng([self.seed, self.rank, epoch, 5])
        buffer: list[Example] = []
        pending: list[Example] = []
        n_batches = 0

        def pop() -> Example:
            k = int(buf_rng.integers(0, len(buffer)))
            buffer[k], buffer[-1] = buffer[-1], buffer[k]
            return buffer.pop()

        for ex in _examples(pf, order, self.row_cfg, key, self.rank, self.world_size):
            buffer.append(ex)
            if len(buffer) >= self.shuffle_buffer:
                pending.append(pop())
                if len(pending) == self.batch_size:
                    yield pending
                    pending, n_batches = [], n_batches + 1
        while buffer:
            pending.append(pop())
            if len(pending) == self.batch_size:
                yield pending
                pending, n_batches = [], n_batches + 1
        if pending and n_batches == 0:
            yield pending

    def _batch(self, examples: list[Example], epoch: int, index: int) -> Batch:
        """Batch ``index`` of ``epoch`` from its examples: collated (and packed) with its own seed."""
        rng = np.random.default_rng([self.seed, self.rank, epoch, index, 7])
        batch = collate(examples, self.tokenizer, self.cfg, rng)
        if self.pack:
            batch = pack_batch(batch, self.pack_length, self.tokenizer.pad_token_id)
        return batch

    def positioned_batches(self, worker: int = 0, workers: int = 1) -> Iterator[tuple[Batch, int, int]]:
        """``(batch, epoch, batches_in_epoch after it)`` from the current position on, endlessly:
        every ``workers``-th batch starting with the ``worker``-th (the others are skipped
        without collating them)."""
        epoch, skip = self.epoch, self.batches_in_epoch
        k = 0
        while True:
            for i, examples in enumerate(self._epoch_example_batches(epoch)):
                if i < skip:
                    continue
                mine, k = k % workers == worker, k + 1
                if mine:
                    yield self._batch(examples, epoch, i), epoch, i + 1
            epoch, skip = epoch + 1, 0

    def __iter__(self) -> Iterator[Batch]:
        if self.num_workers == 0 and not self.pin_memory:
            source: Iterator[tuple[Batch, int, int]] = self.positioned_batches()
            loader_iter = None
        else:
            loader = torch.utils.data.DataLoader(
                _WorkerShard(self), batch_size=None, num_workers=self.num_workers, pin_memory=self.pin_memory
            )
            source = loader_iter = iter(loader)
        try:
            for batch, epoch, position in source:
                self.epoch, self.batches_in_epoch = int(epoch), int(position)
                yield batch
        finally:  # closing the generator stops the worker processes
            if loader_iter is not None and hasattr(loader_iter, "_shutdown_workers"):
                loader_iter._shutdown_workers()


def eval_batches(
    corpus_dir: str | os.PathLike[str],
    split: str,
    tokenizer: VideoBertTokenizer,
    cfg: CollateConfig,
    batch_size: int,
    seed: int = 0,
    max_batches: int | None = None,
    pack: bool = False,
    pack_length: int = 0,
) -> Iterator[dict[str, torch.Tensor]]:
    """Deterministic validation batches: rows in file order, no shuffling (the same on every call).

    ``pack`` packs each batch (:func:`videobert.data.packing.pack_batch`, rows of up to
    ``pack_length`` tokens, 0: the batch's longest sequence) after it is collated: the same
    examples and masks, so the same metrics.

    Without ``max_batches``: one pass, the last batch partial. With it: exactly ``max_batches``
    batches where the split allows; a split smaller than that is passed over again (pass ``p``
    draws its own regimes, negatives and subsampling, and every batch its own masks) so that a
    small validation set still gives a steady estimate, e.g. of the alignment accuracy.
    """
    pf = _open(corpus_dir, split)
    pending: list[Example] = []
    n = 0

    def make(examples: list[Example], index: int) -> Batch:
        batch = collate(examples, tokenizer, cfg, np.random.default_rng([seed, index, 17]))
        return pack_batch(batch, pack_length, tokenizer.pad_token_id) if pack else batch

    row_cfg = balance_regimes(cfg, video_only_fraction(pf))
    passes = 1 if max_batches is None else max_batches
    for p in range(passes):
        seen = 0
        for ex in _examples(pf, list(range(pf.num_row_groups)), row_cfg, (seed, p, 0, 13), 0, 1):
            seen += 1
            pending.append(ex)
            if len(pending) == batch_size:
                if max_batches is not None and n >= max_batches:
                    return
                yield make(pending, n)
                pending, n = [], n + 1
        if seen == 0 or (max_batches is not None and n >= max_batches):
            break
    if pending and (max_batches is None or n < max_batches):
        yield make(pending, n)
