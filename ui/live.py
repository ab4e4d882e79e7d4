"""Live views: fragments that refresh while a run is active and stop when none is."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from gan_core.training import Snapshot
from ui.state import manager


def live(body: Callable[[Snapshot], None], *, interval: str = "1s", idle_interval: str | None = None) -> None:
    """Render `body(snapshot)` in a fragment that reruns every `interval` while a run is active.

    When the run ends the fragment triggers one full rerun so the page is redrawn with
    refreshing off (`idle_interval`, None by default), as Streamlit's threading notes advise.
    """
    was_active = manager().active

    def fragment() -> None:
        snap = manager().snapshot()
        body(snap)
        if was_active != snap.active:
            st.rerun()

    st.fragment(fragment, run_every=interval if was_active else idle_interval)()
