"""Showing generated or real images crisply (nearest-neighbour upscaling, not the browser's blur), with their labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st
import torch

from gan_core.config import TrainConfig
from gan_core.data import CLASS_NAMES
from gan_core.images import grid_cells, grid_columns, labelled_png, make_grid, png_width, to_uint8, upscale
from gan_core.step import grid_classes, grid_codes, in_run_layout


def grid_png(images: torch.Tensor | np.ndarray, *, nrow: int | None = None, scale: int = 3,
             row_labels: Sequence[str] | None = None, cell_labels: Sequence[str] | None = None) -> bytes:
    """PNG bytes of a grid of images, labelled when labels are given."""
    return labelled_png(make_grid(images, nrow=nrow), scale=scale, row_labels=row_labels, cell_labels=cell_labels)


def show_grid(images: torch.Tensor | np.ndarray, *, nrow: int | None = None, scale: int = 3,
              caption: str | None = None, row_labels: Sequence[str] | None = None,
              cell_labels: Sequence[str] | None = None) -> bytes:
    """Draw a grid (its rows or images labelled when labels are given) and return its PNG bytes for a download."""
    data = grid_png(images, nrow=nrow, scale=scale, row_labels=row_labels, cell_labels=cell_labels)
    show_png(data, caption)
    return data


def show_png(data: bytes, caption: str | None = None) -> None:
    """PNG bytes at their own width, or their container's where that is narrower, the caption wrapped below.

    st.image's own widths do neither: "content" let a caption wider than the image stretch it (blurring its
    upscaled pixels), and a fixed pixel width overflows a narrow column. A container of the PNG's width, which
    Streamlit narrows to fit, with the image stretched across it, does both. As PNG: JPEG would blur the pixels.
    """
    with st.container(width=png_width(data)):
        st.image(data, caption=caption, width="stretch", output_format="PNG")


def show_image(img: np.ndarray, *, scale: int = 6, caption: str | None = None) -> None:
    """One 28x28 uint8 image (or any 2-D uint8 array)."""
    big = upscale(np.asarray(img, dtype=np.uint8), scale)
    # A fixed width: otherwise a caption wider than the image stretches it, and rows come out uneven.
    st.image(big, caption=caption, output_format="PNG", width=big.shape[1])


def image_row(images: torch.Tensor | np.ndarray | Sequence[np.ndarray], captions: Sequence[str] | None = None,
              scale: int = 4) -> None:
    """Images side by side, each with its caption, crisp (nearest-neighbour upscaled)."""
    arrs = [upscale(a, scale) for a in to_uint8(np.stack(images) if isinstance(images, list) else images)]
    if not arrs:
        return
    # A fixed width: otherwise a caption wider than its image stretches that image, and the row's sizes differ.
    st.image(arrs, caption=list(captions) if captions is not None else None, width=int(arrs[0].shape[1]), output_format="PNG")


def place(i: int, nrow: int | None, n: int) -> str:
    """Where image i sits in a grid of n images with nrow per row (make_grid's default when None), 1-based."""
    cols = nrow or max(1, int(np.ceil(np.sqrt(n))))
    r, c = divmod(i, cols)
    return f"row {r + 1}, column {c + 1}"


def pick_image(n: int, key: str, *, nrow: int | None = None, describe: Callable[[int], str] | None = None,
               label: str = "Open image", on_change: Callable[..., None] | None = None, args: tuple = ()) -> int:
    """A select of the grid's images by number and place (st.image takes no clicks); returns the chosen index."""
    def fmt(i: int) -> str:
        return f"{i} · {place(i, nrow, n)}" + (f" · {describe(i)}" if describe else "")

    return st.selectbox(label, range(n), format_func=fmt, key=key, on_change=on_change, args=args,
                        help="the images are numbered row by row from 0")


def open_grid_image(grid: np.ndarray, cfg: TrainConfig | None, key: str) -> None:
    """One image of a run's saved fixed-noise grid, picked by number, shown large with the class asked of it."""
    classes = grid_classes(cfg) if cfg is not None and cfg.conditional else None
    codes = grid_codes(cfg) if cfg is not None else None
    describe = ((lambda i: CLASS_NAMES[classes[i]]) if classes else
                (lambda i: f"code {codes[i]}") if codes and in_run_layout(grid, cfg) else None)
    open_large(grid_cells(grid, cfg.grid_size if cfg is not None else None), key, nrow=grid_columns(grid), scale=8,
               describe=describe)


def open_large(images: torch.Tensor | np.ndarray, key: str, *, nrow: int | None = None,
               describe: Callable[[int], str] | None = None, scale: int = 8) -> int:
    """Any image of a grid shown large with its label; returns its index (for what the page shows next to it)."""
    imgs = to_uint8(images)
    i = pick_image(len(imgs), key, nrow=nrow, describe=describe)
    show_image(imgs[i], scale=scale, caption=f"image {i} · {place(i, nrow, len(imgs))}"
                                             + (f" · {describe(i)}" if describe else ""))
    return i


# Characters the labels' bundled font draws as empty boxes, and what to draw instead.
