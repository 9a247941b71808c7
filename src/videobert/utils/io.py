"""Atomic file writes and small JSON helpers.

Every stage writes its results through these functions so that a killed job never leaves a
half-written file behind: data goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target (rename is atomic on POSIX file systems). Files get the
mode an ordinary ``open`` would give them (``0o666`` less the process umask), so collaborators
on shared storage can read what the pipeline writes; temporary directories likewise
(:func:`make_temp_dir`, ``0o777`` less the umask).
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


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def make_temp_dir(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A new temporary directory inside ``parent`` with the umask's mode (``mkdtemp`` gives 0700)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    return tmp


def make_temp_file(parent: str | os.PathLike[str], prefix: str, suffix: str = ".tmp") -> Path:
    """A new empty temporary file inside ``parent`` with the umask's mode (``mkstemp`` gives 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    return Path(tmp)


@contextmanager
def _temp_beside(path: Path, suffix: str) -> Iterator[tuple[int, Path]]:
    """Yield ``(fd, tmp_path)`` of a new temporary file beside ``path``; rename it over ``path`` on success.

    The parent directory is created if missing. On an exception the temporary file is removed
    and ``path`` is left untouched. The caller owns (and must close) ``fd``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide results from the group
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
    """Let ``writer(tmp_path)`` write a file (e.g. a library's ``save(path)``), then rename it to
    ``path``; the file gets the umask's mode even if the writer set its own (safetensors: 0600)."""
    path = Path(path)
    with _temp_beside(path, path.suffix or ".tmp") as (fd, tmp):
        os.close(fd)
        writer(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())


def share_tree(root: str | os.PathLike[str]) -> None:
    """Give every file under ``root`` the umask's mode (``0o666`` less it) and every directory
    ``0o777`` less it: for folders that a library wrote with private modes (``save_pretrained``
    writes safetensors as 0600)."""
    mask = current_umask()
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o777 & ~mask)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o666 & ~mask)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file (UTF-8).

    Raises:
        InputFileError: the file is not valid JSON (naming the file and the line); OSError as the
            OS gives it (missing, unreadable).
    """
    from videobert.errors import InputFileError

    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(path, "not a UTF-8 JSON file") from exc


def read_jsonl(path: str | os.PathLike[str]) -> list[dict]:
    """Records of a JSONL file; malformed lines (a torn last write) are skipped."""
    out: list[dict] = []
    path = Path(path)
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
