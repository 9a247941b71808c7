"""Process settings every stage shares: seeding, torch thread counts and the compute device."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from videobert.errors import VideoBertError


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (global) and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (restored after).

    Small models (fine-tuning heads, the caption decoder) run faster on one thread: on a busy
    2-core machine the OpenMP barrier of a second thread costs more than it saves (measured
    10-30x on small matmuls).
    """
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def resolve_device(device: str | torch.device | None, local_rank: int = 0) -> torch.device:
    """The torch device for a ``--device`` setting: None = CUDA (this process's ``local_rank`` GPU)
    when one is visible, else the CPU.

    Raises:
        VideoBertError: an unknown device name, or CUDA asked for where none is visible.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device is None or device == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    name = str(device).strip().lower()
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise VideoBertError(
                f"device {device!r} was asked for but no CUDA GPU is visible here "
                "(torch.cuda.is_available() is False); use --device cpu"
            )
        index = int(name.split(":", 1)[1]) if ":" in name else local_rank
        if index >= torch.cuda.device_count():
            raise VideoBertError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return torch.device("cuda", index)
    raise VideoBertError(f"unknown device {device!r}: use cpu, cuda or cuda:N")


def env_int(name: str, default: int) -> int:
    """The integer in environment variable ``name`` (``default`` when unset or empty).

    Raises:
        VideoBertError: it is set to something other than an integer (e.g. ``RANK=x``).
    """
    import os

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise VideoBertError(f"environment variable {name}={raw!r} is not an integer") from None
