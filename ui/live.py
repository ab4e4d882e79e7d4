"""Live views: fragments that refresh while a run is active and stop when none is."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from gan_core.training import Snapshot
from ui.state import manager

SNAPSHOT_KEY = "_live_snapshot"
SNAPSHOT_MAX_AGE_S = 0.5


def shared_snapshot() -> Snapshot:
    """The run's snapshot, one per timed refresh of this browser session.

    The sidebar and the page's live view refresh every 5 s from timers started in the same script run, so the second
    to fire reuses the first's copy and both show the same step and ETA.
    """
    now = time.monotonic()
    cached = st.session_state.get(SNAPSHOT_KEY)
    if cached is None or now - cached[0] > SNAPSHOT_MAX_AGE_S:
        cached = (now, manager().snapshot())
        st.session_state[SNAPSHOT_KEY] = cached
    return cached[1]


def live(body: Callable[[Snapshot], None], *, interval: str = "1s", idle_interval: str | None = None) -> None:
    """Render `body(snapshot)` in a fragment that reruns every `interval` while a run is active.

    When the run's status changes the fragment triggers one full rerun, so every view of the page says the same:
    after Pause in the Live tab the sidebar says paused at once, not at its next refresh; and when the run ends the
    page is redrawn with refreshing off (`idle_interval`, None by default), as Streamlit's threading notes advise.
    """
    was = manager().snapshot()
    st.session_state.pop(SNAPSHOT_KEY, None)  # a full run (a click, a page change) always shows the run as it is now

    def fragment() -> None:
        snap = shared_snapshot()
        body(snap)
        if snap.status != was.status:
            st.rerun()

    st.fragment(fragment, run_every=interval if was.active else idle_interval)()


def lazy_expander(label: str, key: str) -> st.delta_generator.DeltaGenerator | None:
    """An expander whose body is drawn only while it is open: the expander, or None while it is closed.

    A live view rebuilds all it holds at every refresh: a closed expander's body (an image every 5 s, figures every
    30 s) would be built and sent to the browser unseen, on a machine whose training shares the cores with every
    refresh (benchmarks/README.md, "What watching costs"). Opening or closing it reruns the fragment it is in.
    """
    box = st.expander(label, key=key, on_change="rerun")
    return box if box.open else None
