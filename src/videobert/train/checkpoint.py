"""Checkpoint layout: ``WORK/checkpoints/step-N/`` (model + tokenizer + ``trainer_state.pt``).

A checkpoint is written into a hidden temporary directory and renamed into place, so a killed job
never leaves a half-written ``step-N``; ``checkpoints/final.txt`` names the newest one (the
tasks load what :meth:`videobert.workdir.WorkDir.resolve_checkpoint` finds). The
trainer state holds only tensors and plain Python containers, so it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videobert.errors import InputFileError
from videobert.utils.io import atomic_write_json, atomic_write_text, share_tree
from videobert.workdir import FINAL_FILE

log = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.pt"
CONFIG_FILE = "pretrain_config.yaml"  # the run's resolved PretrainConfig
VERSIONS_FILE = "versions.json"  # python, videobert, torch, transformers that wrote it
_STEP_RE = re.compile(r"^step-(\d+)$")


def step_dir(root: str | os.PathLike[str], step: int) -> Path:
    """``root/step-<step>``."""
    return Path(root) / f"step-{step}"


def list_checkpoints(root: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` (those holding a trainer state), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _STEP_RE.match(child.name)
        if m and (child / TRAINER_STATE).is_file():
            found.append((int(m.group(1)), child))
    return sorted(found)


def latest_checkpoint(root: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint under ``root``, or None."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def _plain(obj: Any) -> Any:
    """``obj`` with numpy values turned into Python scalars / lists (weights_only-safe)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def rng_state() -> dict[str, Any]:
    """Python, NumPy (global) and torch (CPU and CUDA) generator states, weights_only-safe."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(state["python"])
    npd = state["numpy"]
    np.random.set_state(
        ("MT19937", npd["keys"].numpy().astype(np.uint32), npd["pos"], npd["has_gauss"], npd["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    root: str | os.PathLike[str],
    step: int,
    model: Any,
    trainer_state: dict[str, Any],
    tokenizer: Any | None = None,
    keep_last: int = 0,
    config: dict[str, Any] | None = None,
) -> Path:
    """Write ``root/step-<step>`` atomically, point ``final.txt`` at it, drop old checkpoints.

    Args:
        root: the checkpoints directory (``WORK/checkpoints``).
        step: optimiser steps taken.
        model: a ``PreTrainedModel`` (``save_pretrained`` is used).
        trainer_state: optimiser / scheduler / data / RNG state (tensors and plain containers).
        tokenizer: optional object with ``save_pretrained(dir)`` saved beside the model.
        keep_last: keep this many newest checkpoints (<= 0: keep all).
        config: the run's resolved settings, saved as ``pretrain_config.yaml`` (with
            ``versions.json``: the library versions that wrote the checkpoint).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = step_dir(root, step)
    tmp = root / f".tmp-step-{step}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        torch.save(_plain(trainer_state), tmp / TRAINER_STATE)
        if config is not None:
            from videobert.config import config_yaml

            atomic_write_text(tmp / CONFIG_FILE, config_yaml(config))
            atomic_write_json(tmp / VERSIONS_FILE, library_versions())
        share_tree(tmp)  # safetensors writes 0600: collaborators could not read the weights
    except Exception as exc:  # OSError; torch.save and safetensors report a full disk as their own errors
        shutil.rmtree(tmp, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputFileError(target, f"cannot write the checkpoint ({reason}); is the disk full or read-only? "
                             "The checkpoints before it are intact") from exc  # fmt: skip
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    atomic_write_text(root / FINAL_FILE, target.name + "\n")
    if keep_last > 0:
        for _, old in list_checkpoints(root)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint %s", target)
    return target


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a checkpoint depends on."""
    import platform

    import transformers

    from videobert import __version__

    return {"python": platform.python_version(), "videobert": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__}  # fmt: skip


def load_run_config(checkpoint: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The settings a checkpoint's run was started with (``pretrain_config.yaml``), or None for a
    checkpoint written before they were stored."""
    from videobert.config import read_yaml_mapping

    path = Path(checkpoint) / CONFIG_FILE
    return read_yaml_mapping(path) if path.is_file() else None


def load_trainer_state(
    checkpoint: str | os.PathLike[str], map_location: str | torch.device = "cpu", mmap: bool = False
) -> dict[str, Any]:
    """The ``trainer_state.pt`` of a checkpoint, loaded with ``weights_only=True`` (no pickled code runs).

    Raises:
        InputFileError: missing, truncated, corrupt, or holding objects other than tensors and
            plain containers.
    """
    path = Path(checkpoint) / TRAINER_STATE
    if not path.is_file():
        raise InputFileError(path, "checkpoint has no trainer state")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"cannot load the trainer state ({first[:200]})") from exc
    if not isinstance(state, dict) or "step" not in state:
        raise InputFileError(path, "not a trainer state (no step)")
    return state


def damage(checkpoint: str | os.PathLike[str]) -> str | None:
    """Why a checkpoint directory cannot be resumed from (unreadable config, weights or trainer
    state), or None when it is intact."""
    import json

    from safetensors import safe_open

    path = Path(checkpoint)
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
        with safe_open(str(path / "model.safetensors"), framework="pt") as f:
            for key in f.keys():  # touch every tensor: a truncated file fails here
                f.get_slice(key)
        load_trainer_state(path, mmap=True)  # checked without reading the optimiser state in
    except Exception as exc:  # noqa: BLE001 - any failure means "damaged"; the message says which
        return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return None


__all__ = [
    "CONFIG_FILE",
    "FINAL_FILE",
    "TRAINER_STATE",
    "VERSIONS_FILE",
    "damage",
    "library_versions",
    "load_run_config",
    "latest_checkpoint",
    "list_checkpoints",
    "load_trainer_state",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "step_dir",
]
