"""Widgets shared by the exploring pages (Dataset, Sample, Latent arithmetic)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st
import torch

from gan_core.data import CLASS_NAMES, CorruptDatasetError, DatasetNotFoundError, FashionMNIST
from gan_core.images import to_uint8, upscale
from ui.state import dataset


def dataset_or_message(split: str, purpose: str = "") -> FashionMNIST | None:
    """The split, or None after showing why it could not be read (the message lists places tried and fixes)."""
    try:
        return dataset(split)
    except (DatasetNotFoundError, CorruptDatasetError) as exc:
        # The message is a list of places tried and fixes, one per line: keep its lines.
        st.error(f"Fashion-MNIST's {split} split could not be read{' ' + purpose if purpose else ''}.\n\n```\n{exc}\n```")
        return None


def class_selectbox(label: str, key: str, default: int | str = 0, **kwargs) -> int:
    """A class picker that returns the class index."""
    options = list(range(len(CLASS_NAMES)))
    if key not in st.session_state:  # a value set through session state (a preset) must not meet a default
        kwargs["index"] = default if isinstance(default, int) else CLASS_NAMES.index(default)
    return st.selectbox(label, options, format_func=lambda c: f"{c} · {CLASS_NAMES[c]}", key=key, **kwargs)


def image_row(images: torch.Tensor | np.ndarray | Sequence[np.ndarray], captions: Sequence[str] | None = None,
              scale: int = 4) -> None:
    """Images side by side, each with its caption, crisp (nearest-neighbour upscaled)."""
    arrs = [upscale(a, scale) for a in to_uint8(np.stack(images) if isinstance(images, list) else images)]
    if not arrs:
        return
    # A fixed width: otherwise a caption wider than its image stretches that image, and the row's sizes differ.
    st.image(arrs, caption=list(captions) if captions is not None else None, width=int(arrs[0].shape[1]))
