"""Process-wide objects and cached loads shared by all pages and sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import streamlit as st

from gan_core.checkpoints import LoadedGenerator, load_generator
from gan_core.data import FashionMNIST, load_split
from gan_core.manager import TrainingManager, install_signal_save, shared_manager


@st.cache_resource
def manager() -> TrainingManager:
    """The one training manager of this server process (built under gan_core's lock); stopping the server saves its
    run at once."""
    shared = shared_manager()
    _save_on_signal()
    return shared


def _save_on_signal() -> None:
    """In a `streamlit run` server, have SIGTERM and SIGINT save the run as they arrive (gan_core.manager.SignalSave).

    Signal handlers are installed on the main thread, where Streamlit runs its event loop (and has installed its own
    handlers by the time a page runs), while this runs in a script thread: the install is handed to that loop.
    Under AppTest the Runtime is a mock with no loop, so nothing is installed; where Streamlit's internals differ,
    the atexit save (gan_core.manager.shared_manager) is what is left.
    """
    from streamlit.runtime import Runtime

    try:
        loop = Runtime.instance()._get_async_objs().eventloop  # no public accessor for the server's loop
    except (AttributeError, RuntimeError):
        return
    if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running():
        loop.call_soon_threadsafe(install_signal_save)


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
