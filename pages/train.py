"""Train: configure a run from a preset, start it in the background, watch it live, pause, stop, resume.

The run belongs to the process-wide manager, not to this page: switching pages,
refreshing or opening a second tab leaves it training. The live view is a fragment
that reads the manager's snapshot every few seconds; nothing here trains.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from gan_core import speed
from gan_core.budget import BudgetError
from gan_core.budget import estimate as estimate_budget
from gan_core.checkpoints import export_card, generator_bytes, load_generator
from gan_core.config import ConfigError, FieldSpec, TrainConfig, resume_fields
from gan_core.format import duration, size
from gan_core.livefeed import CHARTS, grid_caption, grid_png, metric_tiles, progress_text
from gan_core.manager import RunActiveError
from gan_core.models import ModelConfig, ModelSummary, build_discriminator, build_generator, summarize
from gan_core.presets import DEFAULT_PRESET, PRESETS, preset_config
from gan_core.runs import DamagedRunError, RunDir, RunStatus, busy, check_layout, list_runs
from gan_core.training import Snapshot
from ui import keys, live_panel, step_view
from ui.charts import NO_GRAD_NORMS, NORMS_HELP, grad_norm_figure, has_grad_norms, layer_figures, metric_figure
from ui.config_form import config_form, field_widget, padded_columns
from ui.images import open_grid_image, show_png
from ui.live import lazy_expander, live
from ui.run_view import layer_groups
from ui.state import manager

FLASH_KEY = "train_flash"
TAB_KEY, RUN_KEY = keys.TRAIN_TAB, keys.TRAIN_RUN
SHOW_LIVE_KEY = "train_show_live"
SHOW_LIVE_S = 5.0  # how long after Start the page insists on the Live tab until the browser has taken it
LAYERS_KEY, LARGE_KEY = "train_layers_open", "train_large_open"  # the Live tab's expanders, drawn only while open
CHARTS_KEY = "train_interactive_charts"
TABS = ("Live", "New run", "Checkpoints")
# Where the live panel (ui/live_panel.py) cannot be served, the Live tab refreshes fragments. Every refresh costs the
# run throughput on a small machine: the browser's work to redraw the page takes CPU time from it (the server's own
# work is about 1 % of a core; benchmarks/README.md, "What watching costs"). The status and grid refresh every 5 s
# (a grid is drawn every 10 s), with the sidebar, and the curves every 30 s; so do Plotly's charts while open.
LIVE_INTERVAL = "5s"
CURVES_INTERVAL = "30s"
CHECKPOINTS_REFRESH_S = 5.0  # the Checkpoints tab follows an active run's saves at most this often
LATEST = -1  # the checkpoint picker's "latest" entry
LOSSES, GRAD_NORMS, D_OUTPUTS, FID = CHARTS  # the live charts, the panel's and Plotly's alike
# Material icons ship with Streamlit's own font, so they render even where the browser has no emoji font.
STATUS_BADGES = {
    RunStatus.STARTING: ("yellow", ":material/hourglass_top:"), RunStatus.RUNNING: ("green", ":material/play_arrow:"),
    RunStatus.PAUSED: ("orange", ":material/pause:"), RunStatus.STOPPING: ("orange", ":material/hourglass_bottom:"),
    RunStatus.FINISHED: ("green", ":material/check_circle:"), RunStatus.STOPPED: ("gray", ":material/stop_circle:"),
    RunStatus.FAILED: ("red", ":material/error:"),
}


# ------------------------------------------------------------------ helpers
@st.cache_data(max_entries=64, show_spinner="Building the networks to count their layers…")
def _summaries(model_json: str) -> tuple[ModelSummary, ModelSummary]:
    """Built on the meta device: no memory, and no draws from torch's global RNG that a running trainer uses."""
    model = ModelConfig.from_dict(json.loads(model_json))
    with torch.device("meta"):
        return summarize(build_generator(model), "generator"), summarize(build_discriminator(model), "discriminator")


def _layer_table(summary: ModelSummary) -> None:
    rows = [{"Layer": r.name, "Type": r.kind, "Output shape": "(None, " + ", ".join(map(str, r.output_shape)) + ")",
             "Params": r.params} for r in summary.rows]
    st.dataframe(rows, hide_index=True, key=f"train_layers_{summary.title}",
                 column_config={"Params": st.column_config.NumberColumn(format="localized")})
    st.caption(f"Total params: **{summary.total:,}** · trainable {summary.trainable:,} · "
               f"non-trainable {summary.non_trainable:,} (BatchNorm's moving mean and variance, as Keras counts them)")


def _generator_file(checkpoint: Path) -> Callable[[], bytes]:
    """Deferred: the generator-only safetensors (EMA weights when the run kept them) is written when clicked."""

    def build() -> bytes:
        loaded = load_generator(checkpoint)
        name = f"{RunDir.of_checkpoint(checkpoint).name}-step{loaded.step}"
        return generator_bytes(loaded.generator, export_card(loaded, name))

    return build


def _newest_generator_file(run: RunDir) -> Callable[[], bytes]:
    """Deferred like `_generator_file`, from the checkpoint that is the run's newest when clicked: a live page is not
    redrawn at each checkpoint."""
    def build() -> bytes:
        latest = run.latest_checkpoint()
        if latest is None:
            raise FileNotFoundError(f"run {run.name} has no checkpoint any more (its folder was changed meanwhile)")
        return _generator_file(latest)()

    return build


def _read_file(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def _start(config: TrainConfig, resume: Path | None = None, what: str = "Started") -> None:
    """Start (or resume) through the manager; a refusal is shown where the button is."""
    try:
        manager().start(config, resume=resume)
    except RunActiveError as exc:
        st.warning(f"Not started: {exc}.", icon=":material/hourglass_top:")
        return
    except BudgetError as exc:
        st.error(f"Not started: {exc}.", icon=":material/memory:")
        return
    except ConfigError as exc:  # e.g. a batch BatchNorm cannot train on (gan_core.budget)
        st.error(f"Not started: {exc}.", icon=":material/block:")
        return
    st.session_state[FLASH_KEY] = (f"{what}. The live view refreshes every few seconds; training goes on if you leave "
                                   "this page or close the tab.")
    st.session_state[SHOW_LIVE_KEY] = {"until": time.monotonic() + SHOW_LIVE_S, "from": st.session_state.get(TAB_KEY),
                                       "set": False}
    st.rerun()  # on the Live tab, which now refreshes


def _open_live_after_start() -> None:
    """Open the Live tab after Start (or a resume), until the browser says it has. A rerun asked for before the
    browser took the tab (the live panel's, when the new run's status changes a moment later) carries the tab the
    browser still had, the one Start was pressed on, which would otherwise win. A rerun with Live, one with another
    tab (a person's click), or SHOW_LIVE_S give the tabs back to the person."""
    show = st.session_state.get(SHOW_LIVE_KEY)
    if show is None:
        return
    tab = st.session_state.get(TAB_KEY)
    if (show["set"] and tab != show["from"]) or time.monotonic() > show["until"]:
        del st.session_state[SHOW_LIVE_KEY]
        return
    st.session_state[TAB_KEY] = "Live"
    show["set"] = True


# ------------------------------------------------------------------ Live tab (a fragment)
_CONTROL_DONE = {"pause": (RunStatus.PAUSED,), "resume": (RunStatus.RUNNING,),
                 "stop": (RunStatus.STOPPED, RunStatus.FINISHED, RunStatus.FAILED)}


def _control(action: str) -> None:
    """Pause, resume or stop, then wait (≤ 1 s) for the trainer to get there, so this very rerun shows it."""
    mgr = manager()
    getattr(mgr, action)()
    deadline = time.monotonic() + 1.0
    while mgr.snapshot().status not in _CONTROL_DONE[action] and time.monotonic() < deadline:
        time.sleep(0.05)


def _live_tab() -> None:
    """An active run in the live panel, which changes in place (the page reruns only when the run's status does);
    anything else, or where the panel cannot be served, in fragments that refresh while a run is active."""
    snap = manager().snapshot()
    if snap.active and live_panel.available():
        _live_view(snap, panel=True)
        _panel_curves(snap)
    else:
        live(_live_view, interval=LIVE_INTERVAL)
        live(_curves, interval=CURVES_INTERVAL)


def _live_view(snap: Snapshot, panel: bool = False) -> None:
    if snap.status == RunStatus.IDLE:
        st.info("No run has trained in this server yet: configure one on the **New run** tab and press "
                "**Start training**, or resume one on the **Checkpoints** tab.")
        return
    _run_status(snap, panel)
    download_slots = _controls(snap)
    step_view.show(snap)
    for w in snap.warnings:
        st.warning(w, icon=":material/warning:")
    grid_png = _grid(snap, panel)
    step_view.d_on_grid(snap)
    _downloads(snap, grid_png, download_slots)


def _run_status(snap: Snapshot, panel: bool) -> None:
    """The run's name and badge, how it ended, its progress and its latest numbers."""
    colour, icon = STATUS_BADGES.get(snap.status, ("gray", None))
    head, badge = st.columns([5, 1], vertical_alignment="center")
    head.subheader(f"Run `{snap.run_name or '…'}`", anchor=False)
    badge.badge(snap.status, icon=icon, color=colour)
    if snap.status == RunStatus.FAILED:
        st.error(snap.message, icon=":material/error:")
    elif snap.status in (RunStatus.FINISHED, RunStatus.STOPPED):
        st.success(snap.message + ". Continue it from the **Checkpoints** tab.", icon=":material/check:")

    if panel:
        live_panel.show("status", snap)
        return
    st.progress(snap.progress, text=progress_text(snap))
    for col, (label, value, help_text) in zip(st.columns(6), metric_tiles(snap), strict=True):
        col.metric(label, value, help=help_text)


def _controls(snap: Snapshot) -> list:
    """Pause, resume, stop and step; returns the three places left in the row for the download buttons."""
    buttons = st.columns(7)
    buttons[0].button("Pause", key="train_pause", icon=":material/pause:", on_click=_control, args=("pause",),
                      disabled=snap.status != RunStatus.RUNNING, width="stretch")
    buttons[1].button("Resume", key="train_resume", icon=":material/play_arrow:", on_click=_control, args=("resume",),
                      disabled=snap.status != RunStatus.PAUSED, width="stretch")
    buttons[2].button("Stop", key="train_stop", icon=":material/stop:", on_click=_control, args=("stop",),
                      disabled=not snap.active, width="stretch")
    step_view.button(buttons[3], snap)
    # One caption instead of a help tooltip on each button: Streamlit draws a hidden second copy of a button that
    # has one, so every control would exist twice in the page.
    st.caption("Pause finishes the current step and saves a checkpoint (nothing is lost); Step, while paused, takes "
               "exactly the next step and shows what it changed; Stop also writes the last "
               "grid and the GIF, then ends the run. GIF: the fixed-noise grids as an animation, rewritten at every "
               "checkpoint; Generator: G of the latest checkpoint as a generator-only file for the Sample page or "
               "`python -m gan_core sample`.")
    return buttons[4:]


def _panel_curves(snap: Snapshot) -> None:
    """The live charts in the panel, or on request Plotly's (zoom, smoothing, each layer group), which refresh as a
    fragment and so cost the run some speed while shown."""
    if st.toggle("Interactive charts", key=CHARTS_KEY,
                 help="Plotly's charts, with zoom, smoothing and each layer group's gradient norms, redrawn every 30 s "
                      "while this is on; on a small machine the redraws cost the run some speed"):
        live(_curves, interval=CURVES_INTERVAL)
    else:
        live_panel.show("curves", snap, rerun=False)


def _curves(snap: Snapshot) -> None:
    """The curves, in their own slower fragment: the figures are the costliest part of a refresh."""
    if snap.status == RunStatus.IDLE:
        return
    if not snap.history:
        st.caption("The curves appear after the first logged step.")
        return
    smoothing = st.slider("Curve smoothing", 0.0, 0.99, 0.0, 0.01, key="train_smoothing",
                          help="exponential moving average of the curves (0: the logged values)")
    figures = _shared_figures((snap.run_dir, len(snap.history), snap.history[-1].get("step"), smoothing), snap)
    left, right = st.columns(2, gap="large")
    left.plotly_chart(figures["loss"], key="train_chart_loss")
    with right:
        _grad_norm_chart(snap, figures)
    left, right = st.columns(2, gap="large")
    left.plotly_chart(figures["d"], key="train_chart_d")
    if "fid" in figures:
        right.plotly_chart(figures["fid"], key="train_chart_fid")
    elif snap.config is not None and not snap.config.eval_every:
        right.caption("FID is not measured in this run (set “Evaluate FID / coverage every” on the New run tab).")
    if figures["layers"] and (box := lazy_expander("Gradient norms of each layer group", LAYERS_KEY)) is not None:
        with box:
            layer_groups(figures["layers"], key="train_chart_layers")


def _grad_norm_chart(snap: Snapshot, figures: dict[str, Any]) -> None:
    """G's and D's gradient norms beside the losses; for a resumed older run, from the step they were first logged."""
    if "grad" not in figures:
        st.caption(NO_GRAD_NORMS)
        return
    st.plotly_chart(figures["grad"], key="train_chart_grad")
    first = next(r for r in snap.history if has_grad_norms([r]))
    if first is not snap.history[0]:
        st.caption(f"Logged from step {first['step']:,.0f} on: the steps before were trained before gradient norms "
                   "were logged.")
    st.caption(NORMS_HELP)


@st.cache_resource(max_entries=8, show_spinner=False)
def _shared_figures(key: tuple, _snap: Snapshot) -> dict[str, Any]:
    """Built once per new data for all sessions (a second browser tab paints at once); `key` names the data
    (run, rows, last step, smoothing), `_snap` (not hashed) holds it."""
    return _figures(_snap, key[-1])


def _figures(snap: Snapshot, smoothing: float) -> dict[str, Any]:
    """The live figures by name: loss, d, grad and layers (when gradient norms were logged), fid (when measured)."""
    series = {snap.run_name: snap.history}
    figures: dict[str, Any] = {
        "loss": metric_figure(series, LOSSES.keys, smoothing=smoothing, title=LOSSES.title, y_title="loss"),
        "d": metric_figure(series, D_OUTPUTS.keys, smoothing=smoothing, title=D_OUTPUTS.title,
                           y_title="D's output (0–1)"),
        "layers": {},
    }
    if has_grad_norms(snap.history):
        figures["grad"] = grad_norm_figure(series, smoothing=smoothing, title=GRAD_NORMS.title)
        figures["layers"] = layer_figures(snap.history, smoothing=smoothing)
    if any("fid" in row for row in snap.history):
        figures["fid"] = metric_figure(series, FID.keys, title=FID.title, y_title="FID")
    return figures


def _grid(snap: Snapshot, panel: bool) -> bytes | Callable[[], bytes] | None:
    """The fixed-noise grid: the latest one (in the live panel when `panel`), or an earlier one picked with the
    slider; returns its PNG for the download button (built at the click for the panel's, which changes in place)."""
    if not snap.grids:
        st.caption("The first fixed-noise grid appears when training starts.")
        return None
    steps = [s for s, _ in snap.grids]
    follow = st.toggle("Follow the latest grid", value=True, key="train_follow",
                       help="off: look back at earlier grids of the same fixed noise")
    index = len(steps) - 1
    if follow and panel:
        live_panel.show("grid", snap)
        _large_image(snap, index)
        return _latest_grid_png
    if not follow and len(steps) > 1:
        chosen = st.select_slider("Grid at step", options=steps, value=steps[-1], key="train_grid_step",
                                  format_func=lambda s: f"{s:,}")
        index = steps.index(chosen)
    step, grid = snap.grids[index]
    # Encoding takes longer than the rest of a refresh on a busy CPU; a grid only changes every sample_every steps.
    cache_key = (snap.run_dir, step)
    cached = st.session_state.get("train_grid_png")
    if cached is None or cached[0] != cache_key:
        cached = (cache_key, grid_png(snap.config, grid))
        st.session_state["train_grid_png"] = cached
    show_png(cached[1], grid_caption(snap, index))  # its own size, as the panel draws it
    _large_image(snap, index)
    return cached[1]


def _large_image(snap: Snapshot, index: int) -> None:
    if (box := lazy_expander("Open one image of this grid large", LARGE_KEY)) is not None:
        with box:
            step, grid = snap.grids[index]
            st.caption(f"From the grid of step {step:,}.")
            open_grid_image(grid, snap.config, key="train_grid_image")


def _latest_grid_png() -> bytes:
    """The run's latest grid as the live panel shows it, built when the download is clicked."""
    snap = manager().snapshot()
    return grid_png(snap.config, snap.grids[-1][1]) if snap.grids else b""


def _downloads(snap: Snapshot, grid_file: bytes | Callable[[], bytes] | None, slots: list) -> None:
    if not snap.run_dir:
        return
    run = RunDir(Path(snap.run_dir))
    latest = run.latest_checkpoint()
    slots[0].download_button("GIF", _read_file(run.gif_path), file_name=f"{run.name}-progress.gif", mime="image/gif",
                             key="train_dl_gif", on_click="ignore", width="stretch", icon=":material/animation:",
                             disabled=not run.gif_path.exists())
    slots[1].download_button("Grid PNG", grid_file or b"", file_name=f"{run.name}-grid.png", mime="image/png",
                             key="train_dl_grid", on_click="ignore", disabled=grid_file is None, width="stretch",
                             icon=":material/grid_on:")
    slots[2].download_button("Generator", _newest_generator_file(run) if latest else b"",
                             file_name=f"{run.name}-generator.safetensors", mime="application/octet-stream",
                             key="train_dl_gen", on_click="ignore", disabled=latest is None, width="stretch",
                             icon=":material/download:")


# ------------------------------------------------------------------ New run tab
def _new_run() -> None:
    names = list(PRESETS)
    preset_name = st.selectbox("Preset", names, index=names.index(DEFAULT_PRESET), key="train_preset",
                               help="a named starting point; every field below stays editable")
    preset = PRESETS[preset_name]
    with st.container(border=True):
        st.markdown(preset.description)
        st.markdown(f"**From:** {preset.report}  \n**What that report observed:** {preset.observed}")

    # Keyed by preset, and the previous preset's edits dropped: choosing a preset (again) shows its own values.
    if st.session_state.get("train_form_preset") != preset_name:
        for stale in [k for k in st.session_state if str(k).startswith("train_form.")]:
            del st.session_state[stale]
        st.session_state["train_form_preset"] = preset_name
    config = config_form(f"train_form.{preset_name}", preset_config(preset_name))
    _model_summary(config, preset_name)

    snap = manager().snapshot()
    if snap.active:
        st.info("A run is in progress (see the **Live** tab): Start is disabled until it ends or you stop it.",
                icon=":material/hourglass_top:")
    if config is not None:
        _eta_before_start(config, snap.active)
    if st.button("Start training", type="primary", key="train_start", icon=":material/play_arrow:",
                 disabled=snap.active, help="one run trains at a time: stop the active one first" if snap.active else None):
        if config is None:
            st.error("Not started: fix the value named in the message above first.", icon=":material/block:")
        else:
            _start(config, what=f"Started a run from preset {preset_name} (architecture {config.arch})")


def _model_summary(config: TrainConfig | None, preset_name: str) -> None:
    """The layers of G and D for the form's configuration (the preset's while the form has an error)."""
    with st.expander("Model summary: the layers of G and D for this configuration"):
        shown = config or preset_config(preset_name)
        if config is None:
            st.caption("The configuration above has an error; this is the preset's own networks.")
        g_sum, d_sum = _summaries(json.dumps(shown.model_config().to_dict()))
        cg, cd = st.columns(2)
        with cg:
            st.markdown("**Generator**")
            _layer_table(g_sum)
        with cd:
            st.markdown("**Discriminator**")
            _layer_table(d_sum)
        st.markdown(f"Discriminator size ratio (D / G params): **{d_sum.total / g_sum.total:.1%}** · "
                    f"both networks: {g_sum.total + d_sum.total:,} parameters")


@st.cache_data(max_entries=32, ttl="10m", show_spinner="Timing a few training steps of these networks…")
def _images_per_sec(timing_json: str) -> float:
    return speed.images_per_sec(TrainConfig.from_dict(json.loads(timing_json)))


def _eta_before_start(config: TrainConfig, active: bool) -> None:
    """Whether the run fits this machine, and its length from a short timing of its own training step."""
    try:
        budget = estimate_budget(config)
    except ConfigError as exc:  # the same refusal Start and the CLI's `train` give
        st.error(f"This run cannot train: {exc}.", icon=":material/block:")
        return
    if problems := budget.problems():
        st.error("This run does not fit this machine: " + "; ".join(problems) + ".", icon=":material/memory:")
        return
    st.caption(f"Needs about {size(budget.memory)} of memory ({size(budget.memory_available)} available) "
               f"and up to {size(budget.disk)} of disk ({size(budget.disk_free)} free).")
    steps = f"{budget.schedule.total_steps:,} steps of {budget.schedule.batch:,} images"
    if active:
        st.caption(f"Estimated duration: {steps}, timed when no run is training (a timing now would share the cores).")
        return
    try:
        rate = _images_per_sec(speed.timing_key(config).to_json())
    except speed.ProbeUnavailable as exc:  # another tab's timing, or too little memory now: not cached, retried
        st.caption(f"Estimated duration: {steps}, not timed: {exc}.")
        return
    est = speed.estimate(config, rate)
    st.markdown(f"Estimated duration: **about {duration(est.seconds)}** ({est.text()}, timed just now on this "
                "machine; a page refreshing beside the run slows it).")


# ------------------------------------------------------------------ Checkpoints tab (a slow fragment)
def _pick_run(snap: Snapshot) -> RunDir | None:
    """The run picker, on the training run when it is on disk; None (and why) when there is no run yet."""
    runs = list_runs()
    if not runs:
        st.caption("No runs on disk yet. A run saves a checkpoint every epoch (see “Checkpoint every”), on pause and "
                   "on stop.")
        return None
    run_names = [r.name for r in runs]
    default_run = run_names.index(snap.run_name) if snap.run_name in run_names else 0
    if st.session_state.get(RUN_KEY) not in run_names:  # e.g. the Runs page's "Resume" sets it
        st.session_state[RUN_KEY] = run_names[default_run]
    run_name = st.selectbox("Run", run_names, key=RUN_KEY,
                            help="every folder under the runs directory, newest first")
    return runs[run_names.index(run_name)]


def _checkpoint_table(run: RunDir) -> tuple[TrainConfig, list[tuple[int, Path]]] | None:
    """The run's saved config and its checkpoints, listed; None (and why) when it cannot be resumed."""
    try:
        saved = run.read_config()
    except ConfigError as exc:
        st.error(f"{run.name} cannot be resumed: {exc}")
        return None
    try:
        status = run.read_status()
    except DamagedRunError as exc:  # the trainer rewrites it on resume
        st.warning(f"{exc}. A resume rewrites it.")
        status = {}
    st.caption(f"{saved.preset or 'custom'} · {saved.arch} · {status.get('status', 'unknown')} · "
               f"step {status.get('step', 0):,} of {status.get('total_steps', 0):,} · {saved.epochs:,} epochs planned")
    ckpts = run.checkpoints()
    if not ckpts:
        st.caption("This run has no checkpoint yet.")
        return None
    rows = []
    for s, p in reversed(ckpts):
        try:
            st_ = p.stat()
        except OSError:  # pruned by the trainer since it was listed
            continue
        rows.append({"Step": s, "File": p.name, "Size (MB)": st_.st_size / 1e6,
                     "Saved": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st_.st_mtime))})
    st.dataframe(
        rows,
        hide_index=True, key="train_ckpt_table",
        column_config={"Step": st.column_config.NumberColumn(format="localized"),
                       "Size (MB)": st.column_config.NumberColumn(format="%.2f")},
    )
    return saved, ckpts


def _resume_form(run: RunDir, saved: TrainConfig, steps: list[int]) -> tuple[int, dict[str, Any]]:
    """The checkpoint to resume from, and the value asked for every field a resume may change (TrainConfig names):
    generated from the fields' declarations (gan_core.config), the main ones at once, the rest folded away."""
    first, rest = resume_fields()
    rows = -(-(1 + len(first)) // 3)  # the checkpoint picker, then the main fields, three to a row
    cells = [cell for _ in range(rows) for cell in st.columns(3)]
    # LATEST stands for whichever checkpoint is newest, so the default follows a run that is still saving them. Its
    # step is in the caption below, not in the option: the picker kept showing the option's text from when it was
    # first drawn (seen: "352 (latest)" beside a list whose newest was 656), while a caption is redrawn each rerun.
    choice = cells[0].selectbox("Resume from the checkpoint at step", [LATEST, *reversed(steps[:-1])],
                                key=f"train_ckpt_step.{run.name}",
                                format_func=lambda s: "latest" if s == LATEST else f"{s:,}")
    cells[0].caption(f"The latest checkpoint is step {steps[-1]:,}.")
    values = {spec.name: _resume_widget(cell, spec, saved, run) for cell, spec in zip(cells[1:], first, strict=False)}
    with st.expander("More that a resume may change: sample grids, checkpoints, logging, evaluation, runtime"):
        for i in range(0, len(rest), 4):
            row = rest[i:i + 4]
            for cell, spec in zip(padded_columns(st, [s.width for s in row], 4), row, strict=False):
                values[spec.name] = _resume_widget(cell, spec, saved, run)
    step = steps[-1] if choice == LATEST else choice
    return step, values


def _resume_widget(where: Any, spec: FieldSpec, saved: TrainConfig, run: RunDir) -> Any:
    """One resumable field's widget, keyed by run so another run's form starts from that run's own values."""
    assert spec.resume is not None
    return field_widget(where, spec, getattr(saved, spec.name), f"train_ckpt_{spec.name}.{run.name}",
                        label=spec.resume.label, help=spec.resume.help, preset=saved.preset or saved.arch)


def _schedule_notes(run: RunDir, step: int, latest: int, epochs: int) -> None:
    """Say that an older checkpoint forks the run, and when the step already ends the epochs asked for."""
    if step != latest:
        st.info(f"Step {step:,} is not the latest checkpoint of `{run.name}` (that is {latest:,}): resuming from it "
                f"starts a new run `{run.name}-from-{step}` holding the history up to step {step:,}; `{run.name}` "
                "itself is left as it is.", icon=":material/call_split:")
    per_epoch = run.steps_per_epoch()
    if per_epoch and step >= epochs * per_epoch:
        st.warning(f"Step {step:,} is already at the end of {epochs:,} epochs ({per_epoch:,} steps each): "
                   "raise “Epochs in total” to train further, or the run ends at once.")


def _blocked(snap: Snapshot, run: RunDir) -> str:
    """Why the run cannot be resumed here right now ("" when it can)."""
    if snap.active:
        return f"Run `{snap.run_name or '…'}` is {snap.status}: stop it on the **Live** tab before resuming."
    try:
        check_layout(run)  # the refusal a resume would meet, said before the button is pressed
    except DamagedRunError as exc:
        return f"`{run.name}` cannot be resumed: {exc}"
    if trainer := busy(run):  # another process: this app's own run is the `snap.active` case above
        return f"`{run.name}` cannot be resumed here: {trainer.reason('resume')} (two trainings would interleave)."
    return ""


def _resume_buttons(run: RunDir, saved: TrainConfig, step: int, ckpt_path: Path, changes: dict[str, Any],
                    blocked: str) -> None:
    d1, d2, d3 = st.columns(3)
    if d1.button(f"Resume from step {step:,}", type="primary", key="train_resume_ckpt", disabled=bool(blocked),
                 icon=":material/restart_alt:", width="stretch"):
        try:
            override = saved.replace(**changes)
        except ConfigError as exc:
            st.error(f"Not started: {exc}.", icon=":material/block:")
        else:
            _start(override, resume=ckpt_path, what=f"Resumed {run.name} from step {step:,}")
    d2.download_button(f"Generator at step {step:,}", _generator_file(ckpt_path),
                       file_name=f"{run.name}-step{step}-generator.safetensors", mime="application/octet-stream",
                       key="train_ckpt_dl_gen", on_click="ignore", width="stretch", icon=":material/download:",
                       help="this checkpoint's G as a generator-only safetensors file")
    d3.download_button("Progress GIF", run.read_gif, file_name=f"{run.name}-progress.gif",  # never a link or FIFO
                       mime="image/gif", key="train_ckpt_dl_gif", on_click="ignore", width="stretch",
                       icon=":material/animation:", disabled=not run.gif_path.is_file() or run.gif_path.is_symlink())


def _checkpoints(snap: Snapshot) -> None:
    run = _pick_run(snap)
    listed = _checkpoint_table(run) if run is not None else None
    if listed is None:
        return
    saved, ckpts = listed
    steps = [s for s, _ in ckpts]
    step, changes = _resume_form(run, saved, steps)
    _schedule_notes(run, step, steps[-1], changes["epochs"])
    blocked = _blocked(snap, run)
    if blocked:
        st.info(blocked, icon=":material/hourglass_top:")
    _resume_buttons(run, saved, step, dict(ckpts)[step], changes, blocked)


def _checkpoints_tab() -> None:
    """The tab follows an active run: where the live panel is served, the page reruns when the run saves a
    checkpoint (at most every CHECKPOINTS_REFRESH_S) or changes status; a fragment that refreshed every 5 s cost
    the run 8 % of its images/s (benchmarks/README.md, "What the Checkpoints tab costs"). Elsewhere, that fragment."""
    snap = manager().snapshot()
    if snap.active and live_panel.available():
        _checkpoints(snap)
        live_panel.show("watch", snap, follow_saves_s=CHECKPOINTS_REFRESH_S)
    else:
        live(_checkpoints, interval=f"{CHECKPOINTS_REFRESH_S:g}s")


# ------------------------------------------------------------------ page
st.title("Train")
st.caption("Training runs in the background: switch pages, refresh or open another tab and it keeps going. "
           "One run trains at a time.")
if flash := st.session_state.pop(FLASH_KEY, None):
    st.success(flash, icon=":material/play_arrow:")
_open_live_after_start()
has_run = manager().snapshot().status != RunStatus.IDLE
live_tab, new_tab, ckpt_tab = st.tabs(TABS, key=TAB_KEY, on_change="rerun", default="Live" if has_run else "New run")
# Only the open tab runs (on_change="rerun"), so a hidden live view costs nothing.
if live_tab.open:
    with live_tab:
        _live_tab()
if new_tab.open:
    with new_tab:
        _new_run()
if ckpt_tab.open:
    with ckpt_tab:
        _checkpoints_tab()
