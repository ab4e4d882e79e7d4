"""The training status every page shows in the sidebar (the links are drawn by ui.nav)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import streamlit as st

from gan_core.runs import RunStatus  # torch-free, like everything this module imports

if TYPE_CHECKING:
    from gan_core.training import Snapshot

STATUS_ICONS = {
    RunStatus.IDLE: ":material/radio_button_unchecked:", RunStatus.STARTING: ":material/hourglass_top:",
    RunStatus.RUNNING: ":green[:material/play_circle:]", RunStatus.PAUSED: ":orange[:material/pause_circle:]",
    RunStatus.STOPPING: ":orange[:material/stop_circle:]", RunStatus.FINISHED: ":green[:material/check_circle:]",
    RunStatus.STOPPED: ":material/stop_circle:", RunStatus.FAILED: ":red[:material/error:]",
}


def training_status() -> None:
    with st.sidebar:
        if "gan_core.manager" not in sys.modules:
            # No page of this server process has loaded the trainer yet, so no run can exist: say so without
            # importing torch, and the first page paints at once. The next rerun shows the live status.
            st.markdown(f"**Training:** {STATUS_ICONS[RunStatus.IDLE]} idle")
            return
        from ui import live_panel
        from ui.live import live
        from ui.state import manager

        if live_panel.available():
            # The panel changes the numbers in place and reruns the page when the status changes, a run started
            # from another tab included.
            _status_box(manager().snapshot(), panel=True)
        else:
            # Every 5 s, running or idle: while idle so a run started from another tab shows up here; while running
            # no faster, because each refresh costs the run throughput and the Train page's live view is the close-up.
            live(_status_box, interval="5s", idle_interval="5s")


def _status_box(snap: Snapshot, panel: bool = False) -> None:
    from gan_core.livefeed import sidebar_lines

    st.markdown(f"**Training:** {STATUS_ICONS.get(snap.status, '')} {snap.status}")
    if snap.status != RunStatus.IDLE:
        st.caption(f"run `{snap.run_name}`")
    if panel:
        from ui import live_panel

        live_panel.show("sidebar" if snap.status != RunStatus.IDLE else "watch", snap)
    elif snap.status != RunStatus.IDLE:
        progress, rate = sidebar_lines(snap)
        st.progress(snap.progress, text=progress)
        if rate:
            st.caption(rate)
    if snap.status == RunStatus.FAILED:
        st.error(snap.message)
