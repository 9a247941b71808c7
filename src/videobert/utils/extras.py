"""Optional dependencies: the extra that installs each, and a one-line error naming the command.

The base install (``pip install videobert``) leaves out what only some stages need, so that a
cluster can choose (faiss for CPUs or GPUs) or skip (the coco-caption scorers) them:

==================  ===============================  ==========================================
module              needed by                        installed by
==================  ===============================  ==========================================
``faiss``           ``fit-vocab`` (k-means)          ``videobert[faiss-cpu]`` or ``[faiss-gpu]``
``pycocoevalcap``   captioning metrics               ``videobert[caption]``
==================  ===============================  ==========================================

``bash scripts/setup.sh`` installs the ``dev`` extra, which has faiss-cpu and pycocoevalcap.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from types import ModuleType

from videobert.errors import VideoBertError

#: module -> (what needs it, the install command)
EXTRAS: dict[str, tuple[str, str]] = {
    "faiss": (
        "fit-vocab (hierarchical k-means)",
        "pip install 'videobert[faiss-cpu]' (or 'videobert[faiss-gpu]' on a CUDA 12 machine; one of the two)",
    ),
    "pycocoevalcap": (
        "captioning metrics (BLEU, METEOR, ROUGE-L, CIDEr)",
        "pip install 'videobert[caption]'",
    ),
}


class MissingDependencyError(VideoBertError):
    """An optional package that a stage needs is not installed; the message names the command."""


def message(module: str, detail: str = "") -> str:
    """The one-line error for ``module`` missing."""
    purpose, command = EXTRAS[module]
    why = f" ({detail})" if detail else ""
    return f"{purpose} needs the {module!r} package, which is not installed{why}: {command}"


def require(module: str) -> ModuleType:
    """Import ``module`` (a key of :data:`EXTRAS`) or raise its one-line error.

    Raises:
        MissingDependencyError: it cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(message(module, str(exc).splitlines()[0] if str(exc) else "")) from exc


def missing(modules: Iterable[str]) -> list[str]:
    """Those of ``modules`` that cannot be found (without importing them); an entry of None in
    ``sys.modules`` (an import blocked on purpose) counts as missing."""
    import sys

    out = []
    for m in modules:
        if m in sys.modules:
            if sys.modules[m] is None:
                out.append(m)
            continue
        try:
            if importlib.util.find_spec(m) is None:
                out.append(m)
        except (ImportError, ValueError):
            out.append(m)
    return out
