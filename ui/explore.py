"""Widgets shared by the exploring pages (Dataset, Sample, Latent arithmetic)."""

from __future__ import annotations

import streamlit as st

from gan_core.data import CLASS_NAMES, CorruptDatasetError, DatasetNotFoundError, FashionMNIST
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
