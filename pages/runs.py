"""Runs: every training run on disk; pick one to open it, two or more to see them side by side."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from gan_core.compare import Comparison, compare_runs
from gan_core.format import duration
from gan_core.paths import default_runs_root
from gan_core.runs import (
    DamagedRunError,
    RunDir,
    RunRecord,
    RunStatus,
    busy,
    delete_run,
    list_records,
    rename_run,
)
from ui.images import show_image
from ui.run_view import curves, run_view
from ui.state import manager

SELECT_KEY = "runs_compare"
MANAGE_KEY = "runs_manage"
NEW_NAME_KEY = "runs_new_name"
CONFIRM_KEY = "runs_confirm_delete"
FLASH_KEY = "runs_flash"


def active_run_name() -> str | None:
    snap = manager().snapshot()
    return snap.run_name or None if snap.active else None


def listing(records: list[RunRecord]) -> None:
    rows = [{**r.row(), "wall_time_s": duration(r.wall_time_s)} for r in records]
    st.dataframe(
        rows, hide_index=True, placeholder="—",
        column_order=["name", "preset", "arch", "created", "status", "steps", "wall_time_s", "world_size",
                      "images_per_sec", "d_loss", "g_loss", "fid", "coverage_classes"],
        column_config={
            "name": st.column_config.TextColumn("Run", pinned=True),
            "preset": "Preset", "arch": "Architecture", "created": "Created", "status": "Status",
            "steps": st.column_config.NumberColumn("Steps", format="localized"),
            "wall_time_s": "Wall time",
            "world_size": st.column_config.NumberColumn("Procs", format="%d",
                                                        help="processes that trained it (torchrun; README › Scaling out)"),
            "images_per_sec": st.column_config.NumberColumn("Images/s", format="%.0f"),
            "d_loss": st.column_config.NumberColumn("D loss", format="%.3f"),
            "g_loss": st.column_config.NumberColumn("G loss", format="%.3f"),
            "fid": st.column_config.NumberColumn("FID", format="%.2f", help="Fréchet distance in the classifier's features"),
            "coverage_classes": st.column_config.NumberColumn("Classes covered", format="%d",
                                                              help="classes with at least 5 % of the samples"),
        },
    )
    interrupted = [r.name for r in records if r.status == RunStatus.INTERRUPTED]
    if interrupted:
        st.info(f"**{', '.join(interrupted)}**: interrupted — the process training it ended mid-run (app or terminal "
                "closed). Nothing saved is lost: resume it from its last checkpoint on the Train page's **Checkpoints** "
                "tab, or with `python -m gan_core train --resume runs/NAME`.", icon=":material/history:")
    for r in records:
        if r.status == RunStatus.DAMAGED:
            st.warning(f"**{r.name}** is damaged: {r.error}. Every other run is unaffected; delete this one below, or "
                       "repair the file named.", icon=":material/report:")
        elif r.error:
            st.warning(f"**{r.name}**: {r.error}")


def section_table(comparison: Comparison, titles: tuple[str, ...]) -> None:
    """Rows of `Comparison.sections()` as a dataframe: one column per run."""
    rows = [{"": label, **dict(zip(comparison.names, cells, strict=True))}
            for title, section in comparison.sections() if title in titles for label, cells in section]
    st.dataframe(rows, hide_index=True, placeholder="—")


def coverage(comparison: Comparison) -> None:
    records = comparison.records
    if all(r.coverage_classes is None for r in records):
        st.caption("No coverage recorded: set eval_every on the Train page to count the classes a run generates.")
        return
    fig = go.Figure(go.Bar(
        x=[r.name for r in records], y=[r.coverage_classes or 0 for r in records], width=0.5,
        text=[f"{r.coverage_classes:.0f} / 10" if r.coverage_classes is not None else "not measured" for r in records],
        textposition="outside",
        hovertext=[f"KL from uniform: {r.coverage_kl:.3f}" if r.coverage_kl is not None else "no evaluation"
                   for r in records],
    ))
    fig.update_layout(title="Classes covered at the last evaluation (a class counts at ≥ 5 % of samples)",
                      yaxis={"range": [0, 11.5], "title": "classes", "dtick": 2}, height=320,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig)


def latest_grids(comparison: Comparison) -> None:
    st.caption(comparison.fixed_noise_note())
    for col, record in zip(st.columns(len(comparison.records)), comparison.records, strict=True):
        run = RunDir(record.path)
        grids = run.grids()
        with col:
            if not grids:
                st.caption(f"**{record.name}**: no sample grid yet")
                continue
            step, path = grids[-1]
            try:
                grid = run.load_grid(path)
            except (OSError, DamagedRunError) as exc:  # pruned meanwhile, or damaged: the other runs still show
                st.caption(f"**{record.name}**: cannot show {path.name}: {exc}")
                continue
            show_image(grid, scale=2, caption=f"{record.name} · step {step:,}")


def comparison_view(selected: list[RunRecord]) -> None:
    try:
        comparison = compare_runs([RunDir(r.path) for r in selected])
    except ValueError as exc:
        st.error(f"Cannot compare these runs: {exc}")
        return
    st.subheader("Config fields that differ")
    if comparison.differing:
        section_table(comparison, ("config fields that differ",))
    else:
        st.caption("The configs are identical apart from the run names.")
    st.subheader("Size and speed")
    st.caption(f"Size ratios are relative to the first run picked, **{comparison.names[0]}** "
               "(report 002 printed its GAN2 as a 25.6 % discriminator size ratio).")
    section_table(comparison, ("parameters", "speed"))
    st.subheader("Final metrics")
    section_table(comparison, ("final metrics",))
    st.subheader("Curves")
    curves(comparison.records)
    st.subheader("Class coverage")
    coverage(comparison)
    st.subheader("Latest sample grids")
    latest_grids(comparison)


# ----------------------------------------------------------------------------- rename and delete
def _flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def _on_rename(root_str: str) -> None:
    old = st.session_state.get(MANAGE_KEY)
    new = st.session_state.get(NEW_NAME_KEY, "")
    try:
        renamed = rename_run(RunDir(Path(root_str) / old), new, active_run_name(), runs_root=Path(root_str))
    except (ValueError, OSError) as exc:
        _flash("error", f"Could not rename {old}: {exc}")
        return
    st.session_state[SELECT_KEY] = [renamed.name if n == old else n for n in st.session_state.get(SELECT_KEY, [])]
    st.session_state[MANAGE_KEY] = renamed.name
    st.session_state[NEW_NAME_KEY] = ""
    _flash("success", f"Renamed {old} to {renamed.name}.")


def _on_delete(root_str: str) -> None:
    name = st.session_state.get(MANAGE_KEY)
    confirmed = st.session_state.get(CONFIRM_KEY, False)
    st.session_state[CONFIRM_KEY] = False
    if not confirmed:
        _flash("error", f"Tick the confirmation box before deleting {name}.")
        return
    try:
        delete_run(RunDir(Path(root_str) / name), active_run_name(), runs_root=Path(root_str))
    except (ValueError, OSError) as exc:
        _flash("error", f"Could not delete {name}: {exc}")
        return
    st.session_state[SELECT_KEY] = [n for n in st.session_state.get(SELECT_KEY, []) if n != name]
    # Point the picker at a run that exists: a dropped key would leave the browser showing the deleted name.
    remaining = [r.name for r in list_records(Path(root_str))]
    if remaining:
        st.session_state[MANAGE_KEY] = remaining[0]
    _flash("success", f"Deleted run {name} with its checkpoints and samples.")


def manage(records: list[RunRecord], root_str: str) -> None:
    names = [r.name for r in records]
    if st.session_state.get(MANAGE_KEY) not in names:  # renamed or deleted elsewhere
        st.session_state[MANAGE_KEY] = names[0]
    # A confirmation given for one run must not carry over to the next one picked.
    name = st.selectbox("Run", names, key=MANAGE_KEY, on_change=lambda: st.session_state.update({CONFIRM_KEY: False}))
    record = next(r for r in records if r.name == name)
    trainer = busy(RunDir(record.path), active_run_name())
    if trainer:
        reason = trainer.reason("rename or delete")
        st.warning(f"{reason[:1].upper()}{reason[1:]}.")
    # Rename on one row, delete below it at full width: in half a column the confirmation was cut off at 1400 px.
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    with left:
        st.text_input("New name", key=NEW_NAME_KEY, placeholder="letters, digits, - and _",
                      help="a plain folder name; the run's config.json is updated too")
    with right:
        st.button("Rename", on_click=_on_rename, args=(root_str,), disabled=trainer is not None,
                  key="runs_rename_button", width="stretch")
    n_ckpt = len(RunDir(record.path).checkpoints())
    st.checkbox(f"Delete **{name}**, its {n_ckpt} checkpoint{'s' if n_ckpt != 1 else ''} and grids (cannot be undone)",
                key=CONFIRM_KEY, disabled=trainer is not None)
    st.button("Delete run", type="primary", on_click=_on_delete, args=(root_str,), icon=":material/delete:",
              disabled=trainer is not None or not st.session_state.get(CONFIRM_KEY), key="runs_delete_button")


# ----------------------------------------------------------------------------- page
st.title("Runs")
root = default_runs_root()
flash = st.session_state.pop(FLASH_KEY, None)
if flash:
    (st.success if flash[0] == "success" else st.error)(flash[1])

records = list_records(root)
if not records:
    st.info(f"No runs in `{root}` yet. Train one on the Train page (or `python -m gan_core train --preset studio`).")
    st.stop()

st.caption(f"{len(records)} run{'s' if len(records) != 1 else ''} in `{root}`, newest first.")
listing(records)

by_name = {r.name: r for r in records}
if SELECT_KEY in st.session_state:  # a run deleted or renamed elsewhere leaves the selection
    st.session_state[SELECT_KEY] = [n for n in st.session_state[SELECT_KEY] if n in by_name]
picked = st.multiselect("Open or compare runs", list(by_name), key=SELECT_KEY,
                        placeholder="one run opens it; two or more are compared (the first is the reference for size "
                                    "ratios)")
if len(picked) >= 2:
    comparison_view([by_name[n] for n in picked])
elif picked:
    run_view(by_name[picked[0]])

st.divider()
st.subheader("Rename or delete a run")
manage(records, str(root))
