"""One run on its own (Runs page): curves, its saved grids on a slider, the GIF, checkpoints, config, and where to go next.

Its own module because the Runs page already holds the listing, the comparison and rename/delete; the curves
are shared with the comparison so both read the same.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from gan_core.catalog import GeneratorEntry, checkpoint_generators
from gan_core.config import FIELD_LABELS, TrainConfig
from gan_core.format import count, duration
from gan_core.images import labelled_png
from gan_core.runlog import Summary
from gan_core.runs import DamagedRunError, RunDir, RunRecord, checkpoint_rows, metrics_safely
from gan_core.step import fixed_grid_names
from ui import keys
from ui.charts import (
    GROUPS_HELP,
    NETWORK_NAMES,
    NO_GRAD_NORMS,
    NORMS_HELP,
    grad_norm_figure,
    has_grad_norms,
    layer_figures,
    metric_figure,
)
from ui.images import open_grid_image, show_png

# Widget keys of the pages the links open (ui.pickers' `pick_generator(key)` and the Train page's tabs and run picker).
SAMPLE_PICKER_KEY, EVALUATE_PICKER_KEY = keys.SAMPLE_GEN, keys.EVALUATE_GEN
TRAIN_TAB_KEY, TRAIN_RUN_KEY = keys.TRAIN_TAB, keys.TRAIN_RUN


def curves(records: list[RunRecord], summaries: dict[str, Summary] | None = None) -> None:
    """Losses with the gradient norms beside them and, when any run measured it, FID over steps: one colour per run
    (at most runlog.MAX_POINTS rows of each, thinned evenly; FID from every evaluated row the summary keeps)."""
    summaries = summaries or {r.name: metrics_safely(RunDir(r.path)) for r in records}
    series = {name: list(s.rows) for name, s in summaries.items()}
    fids = {name: list(s.evaluated) for name, s in summaries.items()}
    smoothing = st.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="runs_smoothing",
                          help="exponential moving average of the curves (0: raw rows of metrics.csv)")
    losses, norms = st.columns(2, gap="large")
    losses.plotly_chart(metric_figure(series, ["d_loss", "g_loss"], smoothing=smoothing,
                                      title="Losses (solid: D, dashed: G)", y_title="loss"))
    with norms:
        layered = grad_norms(series, smoothing)
    if layered is not None:
        with st.expander("Gradient norms of each layer group"):
            layer_groups(layer_figures(layered, smoothing=smoothing), key="runs_view_layers")
    if any(fids.values()):
        st.plotly_chart(metric_figure(fids, ["fid"], smoothing=0.0, title="FID over steps (lower is better)",
                                      y_title="FID"))
    else:
        st.caption(f"No FID recorded: set “{FIELD_LABELS['eval_every']}” on the Train page's New run tab to measure it "
                   "while training.")


def grad_norms(series: dict[str, list[dict[str, float]]], smoothing: float) -> list[dict[str, float]] | None:
    """G's and D's gradient norms (runs trained before they were logged are named); returns the rows whose layer
    groups to draw (one run's, when it logged norms), else None."""
    logged = {name: rows for name, rows in series.items() if has_grad_norms(rows)}
    if not logged:
        st.caption(NO_GRAD_NORMS if len(series) == 1 else
                   "These runs were trained before gradient norms were logged: their metrics.csv files have no "
                   "grad_norm_g or grad_norm_d column.")
        return None
    # Every run passed, those without norms drawing no line: each run keeps the colour it has in the losses chart.
    st.plotly_chart(grad_norm_figure(series, smoothing=smoothing, title="Gradient norms (solid: D, dashed: G)"))
    if missing := [name for name in series if name not in logged]:
        st.caption(f"Not drawn: {', '.join(missing)}, trained before gradient norms were logged.")
    st.caption(NORMS_HELP)
    return next(iter(logged.values())) if len(series) == 1 else None


def layer_groups(figures: dict[str, go.Figure | None], key: str) -> None:
    """The per-layer-group figures of G, then D (charts.layer_figures); a caption for a network without them."""
    for network, fig in figures.items():
        if fig is None:
            st.caption(f"No per-layer-group gradient norms of {NETWORK_NAMES[network]} in this run's metrics.")
        else:
            st.plotly_chart(fig, key=f"{key}.{network}")
    st.caption(GROUPS_HELP)


def config_rows(config: TrainConfig) -> list[dict[str, str]]:
    """The config as (form label, field, value) rows: text values, so one column can hold numbers, words and lists."""
    rows = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        text = ", ".join(value) if isinstance(value, tuple) else str(value)
        rows.append({"setting": f.metadata.get("label", f.name), "field": f.name, "value": text})
    return rows


# ----------------------------------------------------------------------------- sections
def _summary(record: RunRecord) -> None:
    params = f" · {count(record.total_params)} parameters" if record.total_params is not None else ""
    of_total = f" of {record.total_steps:,}" if record.total_steps else ""
    st.caption(f"{record.preset or 'custom'} · {record.arch}{params} · **{record.status}** · step {record.steps:,}"
               f"{of_total} · {duration(record.wall_time_s)} of training"
               f"{f' on {record.world_size} processes' if record.world_size > 1 else ''} · started {record.created_date} · "
               f"`{record.path}`")


def _go(page: str, state: dict[str, Any]) -> None:
    st.session_state.update(state)
    st.switch_page(page)


def _latest_entry(run: RunDir, latest: Path) -> GeneratorEntry | None:
    """The generator pickers' own option for the run's checkpoint `latest` (they compare options by label): the
    pickers list every run under the runs root the run is in."""
    return next((e for e in checkpoint_generators(run.path.parent) if e.path == latest), None)


def links(record: RunRecord, run: RunDir) -> None:
    """Buttons to the Sample, Evaluate and Train pages, with this run's latest checkpoint or the run itself picked.

    Buttons rather than st.page_link: a link cannot set the other page's picker when clicked, and setting it on
    every view of this page would change what the Sample page shows for someone who only looked at a run.
    """
    latest = run.latest_checkpoint()
    sample, evaluate, resume = st.columns(3)
    clicked = {
        "sample": sample.button("Sample from it", icon=":material/casino:", key="runs_view_sample", disabled=latest is None,
                                width="stretch", help="the Sample page, with this run's latest checkpoint picked"),
        "evaluate": evaluate.button("Evaluate it", icon=":material/analytics:", key="runs_view_evaluate",
                                    disabled=latest is None, width="stretch",
                                    help="the Evaluate page (FID, coverage, memorization) with its latest checkpoint"),
        "resume": resume.button("Resume or extend it", icon=":material/model_training:", key="runs_view_resume",
                                disabled=latest is None or record.config is None, width="stretch",
                                help="the Train page's Checkpoints tab, with this run picked"),
    }
    if latest is None:
        st.caption("No checkpoint yet: a run saves one every epoch (“Checkpoint every”), on pause and on stop.")
        return
    if record.config is None:
        st.caption("Its config.json cannot be read, so it cannot be resumed; its checkpoints can still be sampled.")
    if clicked["resume"]:
        _go("pages/train.py", {TRAIN_TAB_KEY: "Checkpoints", TRAIN_RUN_KEY: record.name})
    if clicked["sample"] or clicked["evaluate"]:
        page, key = (("pages/sample.py", SAMPLE_PICKER_KEY) if clicked["sample"]
                     else ("pages/evaluate.py", EVALUATE_PICKER_KEY))
        entry = _latest_entry(run, latest)
        if entry is None:  # deleted or renamed since this page was drawn
            st.error(f"{latest.name} of {record.name} is gone: reload the page.")
            return
        _go(page, {key: entry})


def grids(record: RunRecord, run: RunDir) -> None:
    """The saved fixed-noise grids on a slider (the step shown), the progress GIF beside them."""
    saved = run.grids()
    if not saved:
        st.caption("No sample grid saved yet.")
        return
    steps = [s for s, _ in saved]
    left, right = st.columns(2)
    with left:
        step = steps[0]
        if len(steps) > 1:
            step = st.select_slider("Grid at step", steps, value=steps[-1], format_func=lambda s: f"{s:,}",
                                    key=f"runs_view_grid.{record.name}",
                                    help="the grids saved while training, all from the same fixed noise")
        path = dict(saved)[step]
        try:
            grid = run.load_grid(path)
        except (OSError, DamagedRunError) as exc:  # pruned, cut short by a crash, a link or not a PNG
            st.warning(f"Cannot show {path.name}: {exc}")
        else:
            rows, cells = fixed_grid_names(record.config, grid)
            show_png(labelled_png(grid, scale=2, row_labels=rows, cell_labels=cells),
                     f"{record.name} · step {step:,}" + (" · rows named by the class asked of them" if rows else ""))
            with st.expander("Open one image of this grid large"):
                open_grid_image(grid, record.config, key=f"runs_view_image.{record.name}")
    with right:
        try:
            gif = run.read_gif()
        except FileNotFoundError:
            st.caption("No progress GIF: a run writes it when it ends.")
        except (OSError, DamagedRunError) as exc:
            st.warning(f"Cannot show the progress GIF: {exc}")
        else:
            st.image(gif, caption=f"Progress over {len(steps):,} grids (written at the end of a run)")


def checkpoints(run: RunDir, metrics: Summary) -> None:
    rows = checkpoint_rows(run, metrics)
    if not rows:
        st.caption("No checkpoints yet.")
        return
    st.dataframe(
        rows, hide_index=True, placeholder="—",
        column_config={
            "step": st.column_config.NumberColumn("Step", format="localized"),
            "epoch": st.column_config.NumberColumn("Epoch", format="%.0f"),
            "file": "File",
            "size_mb": st.column_config.NumberColumn("Size", format="%.2f MB"),
            "fid": st.column_config.NumberColumn("FID", format="%.2f", help="Fréchet distance in the classifier's "
                                                 "features, logged at this step (eval_every)"),
            "coverage_classes": st.column_config.NumberColumn("Classes covered", format="%d",
                                                              help="classes with at least 5 % of the samples"),
            "coverage_kl": st.column_config.NumberColumn("Coverage KL", format="%.3f",
                                                         help="KL divergence of the class histogram from uniform"),
        },
    )
    if all(r["fid"] is None for r in rows):
        st.caption("FID and coverage show where an in-training evaluation fell on a checkpoint's step; measure any "
                   "checkpoint on the Evaluate page.")


def config(record: RunRecord) -> None:
    if record.config is None:
        st.warning(f"config.json cannot be read: {record.error}")
        return
    st.dataframe(config_rows(record.config), hide_index=True, column_order=["setting", "value", "field"],
                 column_config={"setting": "Setting", "value": st.column_config.TextColumn("Value", width="medium"),
                                "field": st.column_config.TextColumn("Key", help="its name in config.json")})


def run_view(record: RunRecord) -> None:
    """Everything about one run, with the ways to use it on the other pages first."""
    run = RunDir(record.path)
    st.subheader(record.name)
    _summary(record)
    links(record, run)
    metrics = metrics_safely(run)  # read once per rerun, and only what was appended since the last
    st.subheader("Curves")
    curves([record], {record.name: metrics})
    st.subheader("Sample grids")
    grids(record, run)
    st.subheader("Checkpoints")
    checkpoints(run, metrics)
    st.subheader("Config")
    config(record)
