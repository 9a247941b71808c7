"""Pictures as PNG bytes: PIL images and matplotlib figures (Agg, no display)."""

from __future__ import annotations

import io
from typing import Any


def png_bytes(img: Any) -> bytes:
    """A PIL image encoded as PNG."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """A matplotlib figure encoded as PNG (tight bounding box); the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()
