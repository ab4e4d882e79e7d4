"""Showing generated or real images crisply (nearest-neighbour upscaling, not the browser's blur)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st
import torch

from gan_core.images import make_grid, png_bytes, to_uint8, upscale


def show_grid(images: torch.Tensor | np.ndarray, *, nrow: int | None = None, scale: int = 3,
              caption: str | None = None) -> bytes:
    """Draw a grid and return its PNG bytes (for a download button next to it)."""
    data = png_bytes(make_grid(images, nrow=nrow), scale=scale)
    st.image(data, caption=caption, output_format="PNG")  # JPEG would blur the upscaled pixels
    return data


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
