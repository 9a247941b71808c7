"""Atomic file writes and small JSON helpers.

Every stage writes its results through these functions so that a killed job never leaves a
half-written file behind: data goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target (rename is atomic on POSIX file systems).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextmanager
def _temp_beside(path: Path, suffix: str) -> Iterator[tuple[int, Path]]:
    """Yield ``(fd, tmp_path)`` of a new temporary file beside ``path``; rename it over ``path`` on success.

    The parent directory is created if missing. On an exception the temporary file is removed
    and ``path`` is left untouched. The caller owns (and must close) ``fd``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        yield fd, Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    with _temp_beside(Path(path), ".tmp") as (fd, _tmp), os.fdopen(fd, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON (sorted keys, so equal objects give equal bytes) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True) + "\n")


def atomic_save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save ``array`` in ``.npy`` format atomically (byte-identical for identical arrays)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Let ``writer(tmp_path)`` write a file (e.g. a library's ``save(path)``), then rename it to ``path``."""
    path = Path(path)
    with _temp_beside(path, path.suffix or ".tmp") as (fd, tmp):
        os.close(fd)
        writer(tmp)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file (UTF-8)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
