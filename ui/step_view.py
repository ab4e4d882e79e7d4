"""The Live tab's views inside training: a paused run's single step, before and after ("Step"), and what the running
D sees on the live grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from gan_core import inspect
from gan_core.images import grid_cells, upscale
from gan_core.live import Snapshot
from gan_core.runs import RunStatus
from gan_core.step import grid_classes, grid_row
from gan_core.stepview import StepReport
from ui.live import lazy_expander
from ui.state import manager

REPORT_KEY = "train_step_report"
D_VIEW_KEY = "train_d_view"
D_OPEN_KEY = "train_d_open"  # the expander's state: its body is drawn only while open
ERROR_KEY = "train_step_error"
SCALE = 2
STEP_TIMEOUT_S = 600.0  # a step that writes a checkpoint or an evaluation takes longer than a plain one


def take_step() -> None:
    """The button's callback: the paused run's next step, its report kept for the views below."""
    st.session_state.pop(ERROR_KEY, None)
    try:
        st.session_state[REPORT_KEY] = manager().step_once(timeout=STEP_TIMEOUT_S)
    except (ValueError, TimeoutError) as exc:
        st.session_state[ERROR_KEY] = str(exc)


def button(where: st.delta_generator.DeltaGenerator, snap: Snapshot) -> None:
    where.button("Step", key="train_step_once", icon=":material/skip_next:", on_click=take_step,
                 disabled=snap.status != RunStatus.PAUSED, width="stretch")


def show(snap: Snapshot) -> None:
    """The last single step's before and after, while the run is still paused at the step it ended on."""
    if error := st.session_state.get(ERROR_KEY):
        st.error(f"Not stepped: {error}", icon=":material/block:")
    report: StepReport | None = st.session_state.get(REPORT_KEY)
    if snap.status != RunStatus.PAUSED or report is None or report.step_after != snap.step:
        if snap.status == RunStatus.PAUSED:
            st.caption("Paused. **Step** takes exactly the next training step (the one the run would have taken, "
                       "so a stepped run ends as an uninterrupted one would) and shows what it changed.")
        return
    s = report.stats
    st.markdown(f"**Step {report.step_before:,} → {report.step_after:,}**: D loss {s['d_loss']:.3f}, G loss "
                f"{s['g_loss']:.3f}, D(x) {s['d_real']:.3f}, D(G(z)) {s['d_fake']:.3f}")
    cols = st.columns(3)
    _image(cols[0], report.grid_before, f"before (step {report.step_before:,})")
    _image(cols[1], report.grid_after, f"after (step {report.step_after:,})")
    _image(cols[2], report.difference, f"what changed: |after − before|, white = {report.largest_change:.3f} "
                                       "(pixels in [0, 1])")
    left, right = st.columns([1, 2])
    _image(left, report.g_gradient, "the gradient G's loss sends to each image (through D after its update): "
                                    "where G is pushed to change, brightest = strongest")
    right.dataframe(_table(report), hide_index=True, height=260)
    right.caption("D's probability that each grid image is real, before and after the step (D learns to lower it, "
                  "G to raise it), and how hard this step pushed G at that image (the gradient's L2 norm).")


def _image(where: st.delta_generator.DeltaGenerator, grid: np.ndarray, caption: str) -> None:
    where.image(upscale(grid, SCALE), caption=caption, output_format="PNG")


def _table(report: StepReport) -> pd.DataFrame:
    return pd.DataFrame({
        "image": np.arange(1, len(report.d_before) + 1),
        "D before": np.round(report.d_before, 3),
        "D after": np.round(report.d_after, 3),
        "change": np.round(report.d_after - report.d_before, 3),
        "push on G": np.round(report.g_gradient_norms, 4),
    })


def d_on_grid(snap: Snapshot) -> None:
    """What the run's D makes of the latest live grid: its probability of "real" under each image and, overlaid,
    where a change of the image would move that verdict most (the input gradient of D's logit)."""
    if not snap.grids or snap.config is None:
        return
    box = lazy_expander("What D sees on this grid", D_OPEN_KEY)
    if box is None:
        return
    with box:
        grid_step, grid = snap.grids[-1]
        if st.button("Look with D as it is now", key="train_d_look", icon=":material/visibility:",
                     disabled=not snap.active):
            copied = manager().live_discriminator()
            if copied is None:
                st.session_state.pop(D_VIEW_KEY, None)
            else:
                d, d_step = copied
                cfg = snap.config
                images = torch.from_numpy(grid_cells(grid, cfg.grid_size)).float().div(127.5).sub(1).unsqueeze(1)
                labels = torch.tensor(grid_classes(cfg)) if cfg.conditional else None
                nrow = grid_row(cfg)
                view = inspect.d_view(d, images, labels)
                st.session_state[D_VIEW_KEY] = (snap.run_name, grid_step, d_step, inspect.overlay_grid(view, nrow=nrow),
                                                float(view.scores.mean()))
        kept = st.session_state.get(D_VIEW_KEY)
        if not kept or kept[0] != snap.run_name:
            st.caption("D's verdict on each image of the latest grid, and where it looks: taken on request from a "
                       "copy of the running D (training goes on untouched).")
            return
        _, grid_step, d_step, picture, mean = kept
        st.image(picture, output_format="PNG",
                 caption=f"The grid of step {grid_step:,} through D at step {d_step:,}: D's probability of real "
                         f"under each image (mean {mean:.2f}); brighter = a change of those pixels moves D's verdict "
                         "more (|∂ logit / ∂ pixel|, averaged over noisy copies).")
