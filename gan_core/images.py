"""Turning image tensors into grids, PNG bytes and GIFs (the one place that knows pixel layout)."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:  # torch is not imported here: run folders read and write grids without it
    import torch

T = TypeVar("T")


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N,1,28,28) or (N,28,28) in [-1, 1] (float) or uint8 -> (N,28,28) uint8."""
    if hasattr(images, "detach"):  # a torch.Tensor
        images = images.detach().cpu().numpy()
    arr = np.asarray(images)
    if arr.ndim == 4:
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint((arr + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 40) -> np.ndarray:
    """Tile images into one uint8 array; nrow images per row (default: square-ish)."""
    imgs = to_uint8(images)
    n, h, w = imgs.shape
    ncol = nrow or max(1, math.ceil(math.sqrt(n)))
    nrows = max(1, math.ceil(n / ncol))
    grid = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = imgs[i]
    return grid


def grid_columns(grid: np.ndarray, size: int = 28, pad: int = 2) -> int:
    """Images per row of a grid made by `make_grid`, from its width."""
    return (grid.shape[1] - pad) // (size + pad)


def grid_cells(grid: np.ndarray, n: int | None = None, size: int = 28, pad: int = 2) -> np.ndarray:
    """The images of a grid made by `make_grid` (n, size, size), row by row (all its places when `n` is None)."""
    ncol = grid_columns(grid, size, pad)
    if n is None:
        n = ncol * ((grid.shape[0] - pad) // (size + pad))
    cells = []
    for i in range(n):
        r, c = divmod(i, ncol)
        y, x = pad + r * (size + pad), pad + c * (size + pad)
        cells.append(grid[y : y + size, x : x + size])
    return np.stack(cells)


MAX_SCALE = 16  # PNG upscaling at most: a 10x10 grid of 28-pixel images is then about 4,800 pixels a side


def check_scale(scale: int, flag: str = "--scale") -> None:
    """ValueError unless `scale` is a whole number from 1 to MAX_SCALE (larger only makes huge files of the same
    pixels: a browser zooms a PNG as well)."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"{flag} must be a whole number from 1 to {MAX_SCALE} (got {scale!r})")


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling so 28-pixel images stay crisp in a browser."""
    return np.kron(img, np.ones((factor, factor), dtype=img.dtype)) if factor > 1 else img


def png_bytes(img: np.ndarray, scale: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(upscale(img, scale)).save(buf, format="PNG")
    return buf.getvalue()


MAX_GIF_FRAMES = 120


def png_width(data: bytes) -> int:
    """The width in pixels of PNG bytes, read from the IHDR chunk's header (no decoding): the width
    `ui.images.show_png` draws them at."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not PNG bytes (no PNG signature and IHDR chunk)")
    return int.from_bytes(data[16:20], "big")


def thin_evenly(items: Sequence[T], max_items: int) -> list[T]:
    """At most `max_items`, spread evenly, first and last always kept."""
    if len(items) <= max_items:
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, max_items).round().astype(int))
    return [items[i] for i in idx]


def gif_bytes(frames: Sequence[np.ndarray], duration_ms: int = 300, scale: int = 2,
              max_frames: int = MAX_GIF_FRAMES) -> bytes:
    """An animated GIF; long runs are thinned evenly (first and last frame always kept)."""
    if not frames:
        raise ValueError("no frames to make a GIF from")
    frames = thin_evenly(frames, max_frames)
    pics = [Image.fromarray(upscale(f, scale)) for f in frames]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def scale_to_unit(x: torch.Tensor) -> torch.Tensor:
    """Min-max rescale each image to [-1, 1] (used to show pixel arithmetic results)."""
    flat = x.flatten(1)
    lo, hi = flat.min(1).values, flat.max(1).values
    span = (hi - lo).clamp_min(1e-8)
    return ((flat - lo[:, None]) / span[:, None] * 2 - 1).view_as(x)


_INK, _PAPER = 230, 40  # light text on make_grid's dark padding colour, readable in a light or a dark theme


_UNDRAWABLE = str.maketrans({"\u2212": "-", "\u2192": "->", "\u03c3": "s", "\u03c8": "psi", "\u00d7": "x",
                              "\u2026": "..."})


def drawable(text: str) -> str:
    """Text for a label drawn into a picture: PIL's built-in font lacks the minus sign, arrows and Greek (boxes)."""
    return text.translate(_UNDRAWABLE)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> str:
    """The text, cut with an ellipsis until it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def labelled_grid(grid: np.ndarray, *, scale: int = 3, row_labels: Sequence[str] | None = None,
                  cell_labels: Sequence[str] | None = None, cell: int = 28, pad: int = 2) -> Image.Image:
    """A `make_grid` grid, upscaled, with a name beside each row and/or under each image.

    Drawn into the picture (not beside it in a page) so the labels stay aligned at any width and a saved or
    downloaded PNG keeps them; the terminal's `directions` and the pages use the same drawing.
    """
    step = (cell + pad) * scale
    rows, cols = (grid.shape[0] - pad) // (cell + pad), grid_columns(grid, cell, pad)
    big = upscale(grid, scale)
    if cell_labels is not None:  # a strip under every row of images, its labels centred under each image
        cell_font = _font(max(10, 4 * scale))
        strip_h = int(getattr(cell_font, "size", 10)) + 4
        parts = []
        for r in range(rows):
            parts.append(big[r * step : (r + 1) * step])
            strip = Image.new("L", (big.shape[1], strip_h), _PAPER)
            draw = ImageDraw.Draw(strip)
            for c in range(cols):
                i = r * cols + c
                if i < len(cell_labels) and cell_labels[i]:
                    text = _fit(draw, drawable(cell_labels[i]), cell_font, step - 2)
                    draw.text(((pad + c * (cell + pad)) * scale + cell * scale / 2, strip_h / 2), text,
                              fill=_INK, font=cell_font, anchor="mm")
            parts.append(np.asarray(strip))
        parts.append(big[rows * step :])
        big, step = np.concatenate(parts), step + strip_h
    img = Image.fromarray(big)
    if row_labels:
        names = [drawable(t) for t in row_labels]
        font = _font(max(11, 4 * scale + 2))
        margin = int(max(ImageDraw.Draw(img).textlength(t, font=font) for t in names)) + 12
        framed = Image.new("L", (img.width + margin, img.height), _PAPER)
        framed.paste(img, (margin, 0))
        draw = ImageDraw.Draw(framed)
        for r, text in enumerate(names[:rows]):
            draw.text((margin - 8, pad * scale + r * step + cell * scale / 2), text, fill=_INK, font=font, anchor="rm")
        img = framed
    return img


def labelled_png(grid: np.ndarray, *, scale: int = 3, row_labels: Sequence[str] | None = None,
                 cell_labels: Sequence[str] | None = None) -> bytes:
    """PNG bytes of a `make_grid` grid, labelled when labels are given (see `labelled_grid`)."""
    if not row_labels and cell_labels is None:
        return png_bytes(grid, scale=scale)
    buf = io.BytesIO()
    labelled_grid(grid, scale=scale, row_labels=row_labels, cell_labels=cell_labels).save(buf, format="PNG")
    return buf.getvalue()
