"""Choosing a generator: the shipped ones, any run's checkpoint, or a copy of the running run's; one widget for every page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gan_core.catalog import GeneratorEntry, all_generators
from gan_core.checkpoints import CheckpointError, LoadedGenerator
from ui.state import generator, manager

LIVE = "live"  # GeneratorEntry.kind of the running run's copy (no file behind it)


def _live_entry() -> GeneratorEntry | None:
    """The running run as a choice (cheap: the weights are copied only when it is picked)."""
    snap = manager().snapshot()
    if not snap.active or not snap.run_dir:
        return None
    # A label that does not change with the step: a selectbox keeps its choice by label.
    return GeneratorEntry(f"live · {snap.run_name} (a copy of its current weights)", Path(snap.run_dir), LIVE,
                          snap.run_name)


def _live_copy(key: str, entry: GeneratorEntry) -> LoadedGenerator:
    """The copy of the running run's generator kept for this picker, taken when first picked or on request."""
    store = f"{key}_live_copy"
    kept: LoadedGenerator | None = st.session_state.get(store)
    fresh = st.button("Take a new copy", icon=":material/refresh:", key=f"{key}_live_take",
                      help="copy the running run's weights again, at its current step")
    if fresh or kept is None or kept.path != entry.path:
        got = manager().live_generator()
        if got is None:
            st.session_state.pop(store, None)
            st.warning(f"Run '{entry.run}' stopped before its weights could be copied: pick its last checkpoint "
                       "instead.", icon=":material/warning:")
            st.stop()
        g, step = got
        cfg = manager().snapshot().config
        meta = {"step": str(step)} | ({"config": cfg.to_json()} if cfg else {})
        # Its path is the run folder the weights come from: no file holds the copy (`generator_key` names it).
        kept = LoadedGenerator(g, g.cfg, entry.path, meta)
        st.session_state[store] = kept
    now = manager().snapshot().step
    st.caption(f":material/content_copy: A copy of the generator of run `{entry.run}`, taken at step {kept.step:,}"
               + (f" (the run is at step {now:,} now)" if now > (kept.step or 0) else "")
               + ": training goes on untouched; **Take a new copy** for newer weights.")
    return kept


def generator_key(entry: GeneratorEntry, loaded: LoadedGenerator) -> str:
    """What names the picked weights in kept results and caches: the file's path, or for a live copy (no file behind
    it) the run and the step the copy was taken at, so a grid drawn from an older copy reads as made with other
    settings."""
    if entry.kind == LIVE:
        return f"live copy of run {entry.run} at step {loaded.step}"
    return str(loaded.path)


def pick_generator(key: str, *, with_discriminator: bool = False, label: str = "Generator", live: bool = False
                   ) -> tuple[GeneratorEntry, LoadedGenerator]:
    """A selectbox of generators; when none is usable it says why and stops the page there.

    live: also offer a copy of the running run's generator (listed after the shipped ones), taken when picked.
    """
    entries = all_generators()
    if with_discriminator:
        entries = [e for e in entries if e.kind == "checkpoint"]
    live_entry = _live_entry() if live else None
    if live_entry is not None:
        shipped = sum(e.kind == "shipped" for e in entries)
        entries.insert(shipped, live_entry)
    if not entries:
        st.info("No generator yet: the shipped weights are missing and no run has a checkpoint. "
                "Train one on the Train page (or `python -m gan_core train`).")
        st.stop()
    entry = st.selectbox(label, entries, format_func=lambda e: e.label, key=key)
    if live and live_entry is None:
        st.caption("No run is training now, so no live copy is listed; a run's checkpoints appear here as it saves "
                   "them (by default at the end of each epoch).")
    if entry.kind == LIVE:
        return entry, _live_copy(key, entry)
    try:
        loaded = generator(entry.path, with_discriminator=with_discriminator)
    except CheckpointError as exc:
        st.error(f"Cannot load {entry.path.name}: {exc}")
        st.stop()
    return entry, loaded
