"""Frame strips: rows of image tiles (visual-word thumbnails or real frames) saved as one PNG.

A strip is a list of rows; each row has a label (drawn at its left) and tiles, each tile an
``(H, W, 3) uint8`` image with an optional caption under it. Forecasts, text-to-video results,
captions and summaries are shown this way (as PNG bytes in their task's report). Visual words are
drawn with the gallery's nearest frame (``WORK/gallery/thumbs.npz``); a word without a thumbnail
gets a grey tile showing its id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from videobert.errors import VideoBertError
from videobert.utils.images import png_bytes

log = logging.getLogger(__name__)

BACKGROUND = (255, 255, 255)
GREY = (150, 150, 150)


@dataclass
class StripRow:
    """One row of a strip: ``label`` at the left, ``tiles`` (each (H, W, 3) uint8), ``captions`` under them."""

    label: str
    tiles: list[np.ndarray]
    captions: list[str] = field(default_factory=list)


def load_thumbnails(work: str | os.PathLike[str]) -> dict[int, np.ndarray]:
    """``visual word id -> (H, W, 3) uint8`` nearest frame, from the gallery stage; ``{}`` if absent
    (words are then drawn as grey tiles)."""
    from videobert.vocab.gallery import load_word_thumbnails

    try:
        return {int(k): np.asarray(v, dtype=np.uint8) for k, v in load_word_thumbnails(work).items()}
    except VideoBertError as exc:  # a missing gallery is not fatal: tiles fall back to grey
        log.info("no visual-word thumbnails (%s); words are drawn as grey tiles", exc)
        return {}


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def fit_tile(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` (H, W, 3) or (H, W) uint8 resized to ``(size, size, 3)`` uint8 (aspect kept, padded)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)  # (H, W) -> (H, W, 3)
    img = Image.fromarray(arr.astype(np.uint8)[:, :, :3])
    img.thumbnail((size, size))
    canvas = Image.new("RGB", (size, size), BACKGROUND)
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return np.asarray(canvas)


def grey_tile(text: str, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 grey tile with ``text`` (e.g. a word id) in its middle."""
    img = Image.new("RGB", (size, size), GREY)
    draw = ImageDraw.Draw(img)
    font = _font(max(8, size // 5))
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(
        ((size - (box[2] - box[0])) / 2, (size - (box[3] - box[1])) / 2),
        text,
        fill=(255, 255, 255),
        font=font,
    )
    return np.asarray(img)


def word_tiles(
    words: Sequence[int] | np.ndarray, thumbs: dict[int, np.ndarray], size: int = 64
) -> list[np.ndarray]:
    """One ``(size, size, 3)`` uint8 tile per vocab-local visual word: its thumbnail, else a grey id tile."""
    out = []
    for w in np.asarray(words, dtype=np.int64).reshape(-1):  # (n,)
        thumb = thumbs.get(int(w))
        out.append(fit_tile(thumb, size) if thumb is not None else grey_tile(str(int(w)), size))
    return out


def render_strip(
    rows: Sequence[StripRow],
    tile_size: int = 64,
    title: str | None = None,
    label_width: int = 90,
) -> bytes:
    """Draw ``rows`` as one picture; returns its PNG bytes.

    Each tile is drawn at ``tile_size`` x ``tile_size`` pixels with its caption (if any) below.
    """
    pad, cap_h = 4, max(10, tile_size // 5)
    title_h = 16 if title else 0
    n_cols = max((len(r.tiles) for r in rows), default=1) or 1
    row_h = tile_size + cap_h + pad
    width = label_width + n_cols * (tile_size + pad) + pad
    height = title_h + max(len(rows), 1) * row_h + pad
    img = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    small = _font(max(8, cap_h - 2))
    if title:
        draw.text((pad, 2), title[:160], fill=(0, 0, 0), font=_font(12))
    for r, row in enumerate(rows):
        y = title_h + pad + r * row_h
        draw.text(
            (pad, y + tile_size // 2 - 6), _ellipsis(row.label, label_width // 6), fill=(0, 0, 0), font=small
        )
        for c, tile in enumerate(row.tiles):
            x = label_width + c * (tile_size + pad)
            img.paste(Image.fromarray(fit_tile(tile, tile_size)), (x, y))
            if c < len(row.captions) and row.captions[c]:
                draw.text(
                    (x, y + tile_size + 1),
                    _ellipsis(row.captions[c], tile_size // 5),
                    fill=(40, 40, 40),
                    font=small,
                )
    return png_bytes(img)


def _ellipsis(text: str, n: int) -> str:
    n = max(n, 4)
    return text if len(text) <= n else text[: n - 1] + "\u2026"
