"""The sidebar every page shares: navigation and the training status."""

from __future__ import annotations

import streamlit as st

from gan_core.training import Snapshot
from ui.format import duration
from ui.live import live

# (script, title, icon): app.py builds st.navigation from this list and the sidebar links to each page.
PAGES = [
    ("pages/dataset.py", "Dataset", ":material/grid_view:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/sample.py", "Sample", ":material/casino:"),
    ("pages/arithmetic.py", "Latent arithmetic", ":material/calculate:"),
    ("pages/evaluate.py", "Evaluate", ":material/analytics:"),
    ("pages/runs.py", "Runs", ":material/folder_open:"),
]

STATUS_ICONS = {
    "idle": ":material/radio_button_unchecked:", "starting": ":material/hourglass_top:",
    "running": ":green[:material/play_circle:]", "paused": ":orange[:material/pause_circle:]",
    "stopping": ":orange[:material/stop_circle:]", "finished": ":green[:material/check_circle:]",
    "stopped": ":material/stop_circle:", "failed": ":red[:material/error:]",
}


def sidebar() -> None:
    with st.sidebar:
        st.markdown("### :material/checkroom: Fashion GAN Studio")
        for path, title, icon in PAGES:
            st.page_link(path, label=title, icon=icon)
        st.divider()
        # While idle, poll slowly so a run started from another tab still shows up here.
        live(_status_box, interval="1s", idle_interval="5s")


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
