"""Choosing a generator: the shipped ones or any run's checkpoint, one widget for every page."""

from __future__ import annotations

import streamlit as st

from gan_core.catalog import GeneratorEntry, all_generators
from gan_core.checkpoints import CheckpointError, LoadedGenerator
from ui.state import generator


def pick_generator(key: str, *, with_discriminator: bool = False, label: str = "Generator"
                   ) -> tuple[GeneratorEntry, LoadedGenerator]:
    """A selectbox of generators; when none is usable it says why and stops the page there."""
    entries = all_generators()
    if with_discriminator:
        entries = [e for e in entries if e.kind == "checkpoint"]
    if not entries:
        st.info("No generator yet: the shipped weights are missing and no run has a checkpoint. "
                "Train one on the Train page (or `python -m gan_core train`).")
        st.stop()
    entry = st.selectbox(label, entries, format_func=lambda e: e.label, key=key)
    try:
        loaded = generator(entry.path, with_discriminator=with_discriminator)
    except CheckpointError as exc:
        st.error(f"Cannot load {entry.path.name}: {exc}")
        st.stop()
    return entry, loaded
