"""The training status every page shows in the sidebar (the links are drawn by ui.nav)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import streamlit as st

from ui.format import duration

if TYPE_CHECKING:
    from gan_core.training import Snapshot

STATUS_ICONS = {
    "idle": ":material/radio_button_unchecked:", "starting": ":material/hourglass_top:",
    "running": ":green[:material/play_circle:]", "paused": ":orange[:material/pause_circle:]",
    "stopping": ":orange[:material/stop_circle:]", "finished": ":green[:material/check_circle:]",
    "stopped": ":material/stop_circle:", "failed": ":red[:material/error:]",
}


def training_status() -> None:
    with st.sidebar:
        if "gan_core.manager" not in sys.modules:
            # No page of this server process has loaded the trainer yet, so no run can exist: say so without
            # importing torch, and the first page paints at once. The next rerun shows the live status.
            st.markdown(f"**Training:** {STATUS_ICONS['idle']} idle")
            return
        from ui.live import live

        # Every 5 s, running or idle: while idle so a run started from another tab shows up here; while running
        # no faster, because each refresh costs the run throughput and the Train page's live view is the close-up.
        live(_status_box, interval="5s", idle_interval="5s")


def _status_box(snap: Snapshot) -> None:
    st.markdown(f"**Training:** {STATUS_ICONS.get(snap.status, '')} {snap.status}")
    if snap.status != "idle":
        st.caption(f"run `{snap.run_name}`")
        st.progress(snap.progress, text=f"step {snap.step:,} / {snap.total_steps:,} · epoch {snap.epoch}/{snap.epochs}")
        if snap.images_per_sec:
            eta = f" · ETA {duration(snap.eta_s)}" if snap.eta_s and snap.status == "running" else ""
            st.caption(f"{snap.images_per_sec:,.0f} images/s{eta}")
        if snap.status == "failed":
            st.error(snap.message)
