"""Turning image tensors into grids, PNG bytes and GIFs (the one place that knows pixel layout)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image

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


def grid_cells(grid: np.ndarray, n: int | None = None, size: int = 28, pad: int = 2) -> np.ndarray:
    """The images of a grid made by `make_grid` (n, size, size), row by row (all its places when `n` is None)."""
    ncol = (grid.shape[1] - pad) // (size + pad)
    if n is None:
        n = ncol * ((grid.shape[0] - pad) // (size + pad))
    cells = []
    for i in range(n):
        r, c = divmod(i, ncol)
        y, x = pad + r * (size + pad), pad + c * (size + pad)
        cells.append(grid[y : y + size, x : x + size])
    return np.stack(cells)


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling so 28-pixel images stay crisp in a browser."""
    return np.kron(img, np.ones((factor, factor), dtype=img.dtype)) if factor > 1 else img


def png_bytes(img: np.ndarray, scale: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(upscale(img, scale)).save(buf, format="PNG")
    return buf.getvalue()


MAX_GIF_FRAMES = 120


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
