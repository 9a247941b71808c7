"""Process-group setup for ``torchrun``: gloo on CPU, NCCL on GPU, and small collective helpers.

A plain ``python`` run (no ``WORLD_SIZE`` in the environment, or ``WORLD_SIZE=1``) is a world of one
and every helper degrades to a no-op, so the training loop has a single code path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from videobert.errors import VideoBertError
from videobert.utils.runtime import env_int, resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, its ``local_rank`` and ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints and logs."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    Args:
        device: ``"cpu"``, ``"cuda"`` (this process's ``LOCAL_RANK`` GPU) or ``"cuda:N"``; None
            picks CUDA when available.

    Returns:
        This process's ``DistInfo``; with ``WORLD_SIZE > 1`` the default group is initialised
        (NCCL with one GPU per local rank on CUDA, gloo on CPU).

    Raises:
        VideoBertError: CUDA asked for but not available, or a malformed torchrun variable.
    """
    world = env_int("WORLD_SIZE", 1)
    rank = env_int("RANK", 0)
    local_rank = env_int("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise VideoBertError(f"RANK={rank} and WORLD_SIZE={world}: need 0 <= RANK < WORLD_SIZE")
    dev = resolve_device(device, local_rank)
    use_cuda = dev.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        dist.init_process_group(backend=backend, device_id=dev if use_cuda else None)
        log.info("joined %s process group: rank %d of %d on %s", backend, rank, world, dev)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def cleanup() -> None:
    """Leave the process group (when one was joined)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank."""
    if info.enabled:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (returned for chaining)."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj`` (picklable, from our own processes), in rank order."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


__all__ = [
    "DistInfo",
    "all_gather_objects",
    "all_reduce_sum",
    "barrier",
    "broadcast_object",
    "cleanup",
    "init_distributed",
]
