"""Shared test settings: small thread counts (CI has 2 cores), offline hub, deterministic seeds."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _torch_threads():
    """One torch thread (tiny test models run faster without thread sync) and a fixed seed, per test."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def task_world(tmp_path_factory):
    """One world (tinymodels.make_world) with a tiny model pretrained on it, for the task tests."""
    from tinymodels import make_world, tiny_pretrained

    work = make_world(tmp_path_factory.mktemp("tasks"))
    tiny_pretrained(work)
    return work
