"""Process-wide objects and cached loads shared by all pages and sessions."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gan_core.checkpoints import LoadedGenerator, load_generator
from gan_core.data import FashionMNIST, load_split
from gan_core.manager import TrainingManager, shared_manager


@st.cache_resource
def manager() -> TrainingManager:
    """The one training manager of this server process (built under gan_core's lock)."""
    return shared_manager()


# A resource, not data: one shared read-only copy (its arrays are not writeable), not 47 MB copied per call.
@st.cache_resource(show_spinner="Loading Fashion-MNIST…", max_entries=2)
def dataset(split: str = "train") -> FashionMNIST:
    return load_split(split)


@st.cache_resource(max_entries=8, show_spinner="Loading generator…")
def _generator(path: str, mtime: float, with_discriminator: bool) -> LoadedGenerator:
    return load_generator(path, with_discriminator=with_discriminator)


def mtime(path: str | Path) -> float:
    """A file's modification time (0 when it is gone): part of a cache key, so a rewritten file is read again."""
    p = Path(path)
    return p.stat().st_mtime if p.exists() else 0.0


def generator(path: str | Path, with_discriminator: bool = False) -> LoadedGenerator:
    """Cached by path and modification time, so a rewritten checkpoint is reloaded."""
    return _generator(str(Path(path)), mtime(path), with_discriminator)


def kept_key(key: str) -> str:
    """Where `persist` keeps a widget's value while its page is not drawn."""
    return f"_kept_{key}"


def persist(*keys: str) -> None:
    """Keep these widgets' values while a person visits other pages and comes back.

    Streamlit forgets a widget's value on any run of the app that does not draw it, so leaving a page resets it.
    Called at the top of a page, before its widgets: a value present is copied aside, a missing one is put back.
    """
    for key in keys:
        kept = kept_key(key)
        if key in st.session_state:
            st.session_state[kept] = st.session_state[key]
        elif kept in st.session_state:
            st.session_state[key] = st.session_state[kept]
