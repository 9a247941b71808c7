"""Packing: several ``[CLS] text [>] video [SEP]`` examples per row, so no compute goes to padding.

:func:`pack_batch` turns a padded batch of :func:`videobert.data.collate.collate` (B sequences,
each left-aligned in its row of L) into R rows of at most ``row_length`` tokens (default: L, the
longest sequence) holding the same B examples, token for token (masks and labels included):
best-fit decreasing by length, so rows come out nearly full. Rows no longer than L keep the
attention's (L x L per row) cost below the padded batch's; longer rows pack tighter but pay
``row_length`` per token in attention. What the model needs to keep the examples apart comes
with it:

* ``position_ids`` (R, L') restart at 0 at each example's ``[CLS]``; ``token_type_ids`` are each
  example's own;
* ``example_ids`` (R, L') the example (0..B-1, its index in the unpacked batch) of each token,
  -1 on padding: attention is kept within an example (``VideoBertForPreTraining`` builds the
  block-diagonal mask from it);
* ``example_starts`` (B,) flat index ``r * L' + offset`` of each example's ``[CLS]``: the
  alignment head reads one pooled state per example;
* ``alignment_labels`` and ``regime`` stay (B,), one per example, in the unpacked order.

Every labelled position keeps its label, so the three losses (each a mean over its targets) and
their target counts are those of the unpacked batch; only the summation order differs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from videobert.errors import VideoBertError

IGNORE_INDEX = -100
Batch = dict[str, torch.Tensor]


def mlm_positions(labels: torch.Tensor) -> torch.Tensor:
    """(N,) long flat indices ``b * L + l`` of the labelled positions of (B, L) ``labels``, in order.

    Computed where the batch is built (on the host), so that the model needs no data-dependent
    ``nonzero`` on the device (a host sync on CUDA).
    """
    return torch.from_numpy(np.flatnonzero(labels.numpy().reshape(-1) != IGNORE_INDEX).astype(np.int64))


def pack_rows(lengths: np.ndarray, row_length: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Place sequences of ``lengths`` (B,) tokens into rows (best-fit decreasing).

    Rows hold up to ``max(row_length, longest sequence)`` tokens: with ``row_length`` 0 rows are
    as long as the longest sequence (the width padding would give), so packing never lengthens a
    row, it only needs fewer of them.

    Returns:
        row (B,) int64 row of each sequence, offset (B,) int64 its first column there, and the
        number of rows. Deterministic: ties keep the input order.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    row_length = max(int(row_length), int(lengths.max()) if lengths.size else 0)
    row = np.zeros(len(lengths), dtype=np.int64)
    offset = np.zeros(len(lengths), dtype=np.int64)
    by_room: list[list[int]] = [[] for _ in range(row_length + 1)]  # rows by the room they have left
    fill: list[int] = []
    for b in np.argsort(-lengths, kind="stable").tolist():
        n = int(lengths[b])
        r = next((by_room[room].pop() for room in range(n, row_length + 1) if by_room[room]), None)
        if r is None:
            r = len(fill)
            fill.append(0)
        row[b], offset[b] = r, fill[r]
        fill[r] += n
        by_room[row_length - fill[r]].append(r)
    return row, offset, len(fill)


def pack_batch(batch: Batch, row_length: int = 0, pad_token_id: int = 0) -> Batch:
    """The examples of a padded (B, L) batch packed into rows of at most ``row_length`` tokens.

    Args:
        batch: :func:`~videobert.data.collate.collate`'s dict (``input_ids``, ``token_type_ids``,
            ``attention_mask``, ``labels`` (B, L); ``alignment_labels``, ``regime`` (B,)).
        row_length: the longest row (tokens); 0 (or less than the longest sequence): the longest
            sequence, i.e. the padded batch's L.
        pad_token_id: the id that fills the rows' ends.

    Returns:
        The packed batch (module docstring): (R, L') ``input_ids``, ``token_type_ids``,
        ``attention_mask``, ``labels``, ``position_ids``, ``example_ids``; (B,) ``example_starts``,
        ``alignment_labels``, ``regime``; (N,) ``mlm_positions``. L' is the fullest row's length.
    """
    att = batch["attention_mask"].numpy().astype(bool)  # (B, L)
    lengths = att.sum(1)  # (B,)
    b, width = att.shape
    if not (att == (np.arange(width)[None, :] < lengths[:, None])).all():
        raise VideoBertError("pack_batch needs left-aligned sequences (real tokens first in each row)")
    row, offset, n_rows = pack_rows(lengths, row_length)
    length = int((offset + lengths).max())
    src_b = np.repeat(np.arange(b), lengths)  # (T,) example of each real token
    src_l = np.arange(int(lengths.sum())) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )  # (T,) its position
    dest = row[src_b] * length + offset[src_b] + src_l  # (T,) flat index in the packed rows

    def place(values: np.ndarray, fill: int) -> torch.Tensor:
        out = np.full(n_rows * length, fill, dtype=np.int64)
        out[dest] = values
        return torch.from_numpy(out.reshape(n_rows, length))

    labels = place(batch["labels"].numpy()[src_b, src_l], IGNORE_INDEX)
    return {
        "input_ids": place(batch["input_ids"].numpy()[src_b, src_l], pad_token_id),
        "token_type_ids": place(batch["token_type_ids"].numpy()[src_b, src_l], 0),
        "attention_mask": place(np.ones_like(src_l), 0),
        "position_ids": place(src_l, 0),
        "labels": labels,
        "example_ids": place(src_b, -1),
        "example_starts": torch.from_numpy(row * length + offset),
        "mlm_positions": mlm_positions(labels),
        "alignment_labels": batch["alignment_labels"].clone(),
        "regime": batch["regime"].clone(),
    }


def is_packed(batch: Batch) -> bool:
    """True for a batch of :func:`pack_batch` (it carries ``example_ids``)."""
    return "example_ids" in batch


def concat_batches(batches: Sequence[Batch], pad_token_id: int = 0) -> Batch:
    """One batch holding the examples of ``batches`` in order (all packed, or all unpacked).

    Rows are stacked, padded to the longest (``pad_token_id``, labels -100, everything else 0;
    ``example_ids`` -1); packed batches' ``example_ids`` / ``example_starts`` are renumbered and
    ``mlm_positions`` recomputed, so the result is what one process would see of the union.
    """
    if not batches:
        raise VideoBertError("concat_batches needs at least one batch")
    packed = is_packed(batches[0])
    if any(is_packed(x) != packed for x in batches):
        raise VideoBertError("concat_batches: packed and unpacked batches cannot be mixed")
    length = max(x["input_ids"].shape[1] for x in batches)
    fill = {"input_ids": pad_token_id, "labels": IGNORE_INDEX, "example_ids": -1}
    out: dict[str, list[torch.Tensor]] = {}
    rows = examples = 0
    for x in batches:
        width = x["input_ids"].shape[1]
        for key, t in x.items():
            if key == "mlm_positions":
                continue
            if t.ndim == 2:
                if key == "example_ids":
                    t = torch.where(t >= 0, t + examples, t)
                t = torch.nn.functional.pad(t, (0, length - width), value=fill.get(key, 0))
            elif key == "example_starts":
                t = (t // width + rows) * length + t % width
            out.setdefault(key, []).append(t)
        rows += x["input_ids"].shape[0]
        examples += x["alignment_labels"].shape[0]
    result = {key: torch.cat(parts) for key, parts in out.items()}
    if any("mlm_positions" in x for x in batches):
        result["mlm_positions"] = mlm_positions(result["labels"])
    return result


__all__ = ["concat_batches", "is_packed", "mlm_positions", "pack_batch", "pack_rows"]
