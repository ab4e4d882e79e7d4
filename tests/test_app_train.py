"""The Train page under AppTest: renders, presets fill the form, bad values start nothing, a good one starts a run.

AppTest has no browser timer, so the live view only redraws on `.run()`; the live
refresh itself is covered by tests/test_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from gan_core.manager import shared_manager
from gan_core.presets import DEFAULT_PRESET
from tests.apphelpers import panel, rendered, run_state, texts
from tests.conftest import needs_data, wait_for
from ui.charts import metric_figure, smooth, thin_points


def _tab(at: AppTest, label: str) -> AppTest:
    """Open a tab (the page's tabs run only the open one), as a click on it would."""
    at.session_state["train_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def mgr(runs_root):
    """ui.state.manager() is gan_core's process singleton: make sure each test leaves it with no run going."""
    m = shared_manager()
    assert not m.active, "a run from another test is still going"
    yield m
    m.stop(wait=30)
    assert m.join(30)


def test_renders_with_presets_start_and_layer_tables(mgr):
    at = rendered("train", 90)
    assert [t.label for t in at.tabs] == ["Live", "New run", "Checkpoints"]
    assert at.session_state["train_tab"] == "New run", "with no run yet the page opens on the form"
    assert at.selectbox(key="train_preset").value == DEFAULT_PRESET
    assert at.button(key="train_start").label == "Start training"
    assert re.search(r"Estimated duration: \*\*about [\d ]+(s|min|h)", texts(at, "markdown")), \
        "the ETA before Start, from a timing of the preset's own step"
    at.selectbox(key="train_preset").select("studio").run()
    g_table, d_table = at.dataframe[0].value, at.dataframe[1].value
    assert list(g_table.columns) == ["Layer", "Type", "Output shape", "Params"]
    assert g_table["Output shape"].iloc[-2:].tolist()[-1] == "(None, 1, 28, 28)"
    assert d_table["Params"].sum() == 138_561 and g_table["Params"].sum() == 760_065  # the studio DCGAN
    text = texts(at, "markdown", "caption")
    assert "Total params: **760,065**" in text and "Discriminator size ratio (D / G params): **18.2%**" in text


def test_choosing_a_preset_resets_the_form(mgr):
    at = rendered("train", 90)
    at.number_input(key=f"train_form.{DEFAULT_PRESET}.width").set_value(0.5).run()
    at.selectbox(key="train_preset").select("ankle-boot").run()
    assert not at.exception
    assert at.selectbox(key="train_form.ankle-boot.arch").value == "ankle-boot-gan2"
    assert at.multiselect(key="train_form.ankle-boot.classes").value == ["Ankle boot"]
    assert at.number_input(key="train_form.ankle-boot.max_images").value == 100
    assert "002 (Venkatesh)" in texts(at, "markdown")
    # Report 002's GAN2 totals as the preset describes them.
    assert at.dataframe[0].value["Params"].sum() == 106_657 and at.dataframe[1].value["Params"].sum() == 29_921
    at.selectbox(key="train_preset").select(DEFAULT_PRESET).run()
    assert at.number_input(key=f"train_form.{DEFAULT_PRESET}.width").value == 1.0, \
        "the edit should not survive a preset change"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("lr_g", 0.0, "lr_g must be a number > 0"),
    ("batch_size", 0, "batch_size must be between 1 and 4096"),
])
def test_invalid_value_shows_the_message_and_starts_nothing(mgr, runs_root, field, value, message):
    at = rendered("train", 90)
    at.number_input(key=f"train_form.{DEFAULT_PRESET}.{field}").set_value(value).run()
    assert message in texts(at, "error")
    at.button(key="train_start").click().run()
    assert not at.exception
    assert "Not started: fix the value" in texts(at, "error")
    assert not mgr.active and mgr.snapshot().status == "idle"
    assert not runs_root.exists() or not any(runs_root.iterdir())


@needs_data
def test_start_pause_stop_and_resume_from_a_checkpoint(mgr, runs_root):
    at = rendered("train", 90)
    form = f"train_form.{DEFAULT_PRESET}"
    for field, value in [("width", 0.25), ("max_images", 256), ("batch_size", 32), ("epochs", 1000),
                         ("grid_size", 16), ("threads", 1)]:
        at.number_input(key=f"{form}.{field}").set_value(value)
    at.text_input(key=f"{form}.name").input("apptest")
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    assert f"Started a run from preset {DEFAULT_PRESET}" in texts(at, "success")
    wait_for(lambda: mgr.snapshot().status == "running" and mgr.snapshot().step > 0, 60, "the run training", run_state)
    snap = mgr.snapshot()
    assert snap.run_name == "apptest" and snap.config.width == 0.25 and snap.config.max_images == 256
    assert (runs_root / "apptest" / "config.json").is_file()

    # Start switched to the live view, which shows the run; the New run tab's Start is disabled, saying why.
    assert at.session_state["train_tab"] == "Live"
    # A rerun from a browser that has not taken the Live tab yet carries the tab it had (New run): Live still wins,
    # until a rerun arrives with Live; from then on the tabs are the person's.
    _tab(at, "New run")
    assert at.session_state["train_tab"] == "Live" and "Run `apptest`" in texts(at, "subheader")
    at.run()
    assert "Run `apptest`" in texts(at, "subheader")
    wait_for(lambda: mgr.snapshot().grid_source, 30, "the first grid", run_state)
    at.run()
    # An active run is shown in the live panel: its grid's caption is in the feed the page hands it.
    grid = panel(at, "grid")["initial"]["grid"]
    assert "Drawn by the EMA of G's weights" in grid["caption"], "the grid's caption names the generator copy that drew it"
    assert grid["file"].endswith(".png")
    _tab(at, "New run")
    assert at.button(key="train_start").disabled, "Start is disabled while a run is active"
    assert "Start is disabled until it ends or you stop it" in texts(at, "info"), "with the reason beside it"
    _tab(at, "Live")

    at.button(key="train_pause").click().run()
    wait_for(lambda: mgr.snapshot().status == "paused", 5, "paused", run_state)
    at.run()
    assert at.button(key="train_resume").disabled is False and at.button(key="train_pause").disabled is True
    at.button(key="train_stop").click().run()
    assert mgr.join(30) and mgr.snapshot().status == "stopped"
    stopped_at = mgr.snapshot().step
    assert mgr.snapshot().saved_step == stopped_at, "the snapshot names the newest checkpoint (the live panel's cue)"

    # The checkpoint list offers the stopped run; resuming from its latest checkpoint continues the same run.
    _tab(at, "Checkpoints")
    assert at.selectbox(key="train_ckpt_run").value == "apptest"
    assert at.dataframe[-1].value["Step"].iloc[0] == stopped_at
    at.number_input(key="train_ckpt_lr_g.apptest").set_value(5e-5)  # annealing: the rate may change, not the model
    at.button(key="train_resume_ckpt").click().run()
    assert not at.exception, at.exception
    assert f"Resumed apptest from step {stopped_at:,}" in texts(at, "success")
    assert at.session_state["train_tab"] == "Live"
    wait_for(lambda: mgr.snapshot().step > stopped_at, 60, "steps after the resume", run_state)
    assert mgr.snapshot().saved_step >= stopped_at, "a resumed run names the checkpoint it continued from"
    assert mgr.snapshot().run_name == "apptest" and mgr.snapshot().config.lr_g == 5e-5
    at.run()  # the browser's next rerun, on the Live tab it took: the tabs are the person's again
    mgr.stop(wait=30)

    # "Resume from here" on an older checkpoint says it forks, and does: a new run, the original left intact.
    _tab(at, "Checkpoints")
    older = at.selectbox(key="train_ckpt_step.apptest").options[1]
    at.selectbox(key="train_ckpt_step.apptest").select(older).run()
    older_step = int(older.replace(",", ""))
    assert f"starts a new run `apptest-from-{older_step}`" in texts(at, "info")
    kept = sorted(p.name for p in (runs_root / "apptest" / "checkpoints").iterdir())
    at.button(key="train_resume_ckpt").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: mgr.snapshot().status == "running", 60, "the forked run training", run_state)
    assert mgr.snapshot().run_name == f"apptest-from-{older_step}"
    assert sorted(p.name for p in (runs_root / "apptest" / "checkpoints").iterdir()) == kept


def _resume_widgets(at: AppTest, run: str) -> dict[str, object]:
    """{field: widget} of the Checkpoints tab's resume form for `run` (its widgets are keyed train_ckpt_<field>.<run>)."""
    widgets = [*at.number_input, *at.selectbox, *at.checkbox, *at.toggle, *at.text_input, *at.multiselect]
    return {w.key.removeprefix("train_ckpt_").removesuffix(f".{run}"): w for w in widgets
            if w.key and w.key.startswith("train_ckpt_") and w.key.endswith(f".{run}")}


def test_the_resume_form_offers_every_resumable_field_from_the_saved_run(mgr, runs_root):
    """Generated from the fields marked resumable: each once, filled from the run's config, the main ones first."""
    from gan_core.config import FIELDS, RESUMABLE, TrainConfig
    from gan_core.runs import RunDir

    run = RunDir(runs_root / "saved")
    run.path.mkdir(parents=True)
    saved = TrainConfig(name="saved", epochs=7, lr_g=1e-4, eval_every=300, threads=1, precision="bf16", data_dir="somewhere")
    run.write_config(saved)
    run.checkpoints_dir.mkdir()
    run.checkpoint_path(8).write_bytes(b"not read until a resume or a download")
    at = _tab(rendered("train", 90), "Checkpoints")
    widgets = _resume_widgets(at, "saved")
    assert set(widgets) == {"step", *RESUMABLE}, "the resume form offers exactly the fields a resume may change"
    for name in RESUMABLE:
        assert widgets[name].value == getattr(saved, name), name
        assert widgets[name].label == (FIELDS[name].resume.label or FIELDS[name].label)
    assert widgets["epochs"].label == "Epochs in total" and "anneal" in widgets["lr_g"].help
    first = [w.key for w in at.number_input if w.key and w.key.startswith("train_ckpt_")][:4]
    assert first == [f"train_ckpt_{n}.saved" for n in ("epochs", "max_steps", "lr_g", "lr_d")]


def test_charts_smooth_and_one_trace_per_series_and_metric():
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0]), "debiased: no pull towards 0 at the start"
    assert smooth([0.0, 10.0], 0.0) == [0.0, 10.0]
    assert smooth([0.0, 10.0], 0.5) == pytest.approx([0.0, 10.0 * 0.5 / 0.75])
    with pytest.raises(ValueError, match="smoothing weight"):
        smooth([1.0], 1.0)
    rows = [{"step": 1, "d_loss": 1.0, "g_loss": 2.0}, {"step": 2, "d_loss": 0.5}, {"step": 3, "d_loss": 0.4, "fid": 9.0}]
    fig = metric_figure({"a": rows, "b": rows[:1]}, ["d_loss", "g_loss", "fid"], title="t", y_title="loss")
    names = [t.name for t in fig.data]
    assert names == ["a · D loss", "a · G loss", "a · FID", "b · D loss", "b · G loss"]
    assert list(fig.data[1].x) == [1], "rows without the metric are skipped"
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dash"
    assert fig.data[0].line.color != fig.data[3].line.color, "one colour per run"
    single = metric_figure({"a": rows}, ["d_loss"], smoothing=0.5)
    assert [t.name for t in single.data] == ["D loss"] and single.data[0].y[-1] < 1.0


def test_long_curves_are_thinned_to_the_last_point():
    assert thin_points(list(range(10)), 20) == list(range(10))
    thinned = thin_points(list(range(10_001)), 500)
    assert len(thinned) <= 500 and thinned[0] == 0 and thinned[-1] == 10_000
    rows = [{"step": i, "d_loss": float(i)} for i in range(3000)]
    fig = metric_figure({"a": rows}, ["d_loss"], max_points=300)
    assert len(fig.data[0].x) <= 300 and fig.data[0].x[-1] == 2999 and fig.data[0].y[-1] == 2999.0


# ------------------------------------------------------------------ gradient norms on the Live tab
def _norm_rows(steps: range, norms: bool) -> list[dict[str, float]]:
    """metrics.csv rows as the trainer logs them; with `norms`, the whole-network and per-layer-group columns."""
    rows = []
    for i, step in enumerate(steps, 1):
        row = {"step": float(step), "epoch": 0.0, "d_loss": 1.2, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4}
        if norms:
            row |= {"grad_norm_g": 2.0 / i, "grad_norm_d": 5.0, "grad_norm_g/body.0": 1.5 / i,
                    "grad_norm_g/body.3": 0.02, "grad_norm_d/features.0": 4.0, "grad_norm_d/head": 0.5}
        rows.append(row)
    return rows


def _live_with(monkeypatch, history: list[dict[str, float]], status: str = "finished") -> AppTest:
    """The Train page's Live tab showing a run with this history and status (the manager's snapshot replaced)."""
    from gan_core.config import TrainConfig
    from gan_core.training import Snapshot

    snap = Snapshot(status=status, run_name="gn", run_dir=f"/runs/gn-{status}", step=int(history[-1]["step"]),
                    total_steps=500, epochs=1, message="Finished", history=tuple(history),
                    config=TrainConfig(eval_every=0))
    monkeypatch.setattr(shared_manager(), "snapshot", lambda: snap)
    at = rendered("train", 90)
    assert at.session_state["train_tab"] == "Live"
    return at


def _figures(at: AppTest) -> dict[str, dict]:
    """The page's Plotly figures by title."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"].get("title", {}).get("text", ""): s for s in specs}


def test_live_tab_draws_gradient_norms_on_a_log_axis_with_each_layer_group(mgr, monkeypatch):
    at = _live_with(monkeypatch, _norm_rows(range(5, 505, 5), norms=True))
    figures = _figures(at)
    norms = figures["Gradient norms"]
    assert norms["layout"]["yaxis"]["type"] == "log", "norms span orders of magnitude"
    assert [t["name"] for t in norms["data"]] == ["‖∇D‖", "‖∇G‖"]
    assert norms["data"][1]["y"][-1] == pytest.approx(2.0 / 100), "unsmoothed by default: the logged values"
    assert "Gradient norms of each layer group" in [e.label for e in at.expander]
    assert "Losses" in figures and "trained before gradient norms" not in texts(at)
    # The closed expander's figures are not drawn (every refresh would redraw them unseen); opened, they are.
    assert not any("layer group" in title for title in figures)
    at.session_state["train_layers_open"] = True
    figures = _figures(at.run())
    g_layers = figures["G: gradient norm of each layer group's own parameters"]
    d_layers = figures["D: gradient norm of each layer group's own parameters"]
    assert [t["name"] for t in g_layers["data"]] == ["body.0", "body.3"]
    assert [t["name"] for t in d_layers["data"]] == ["features.0", "head"]


def test_a_running_run_is_drawn_by_the_live_panel_and_plotly_on_request(mgr, monkeypatch):
    """While a run is active the numbers, grid and curves are the live panel's (no fragment refreshes them); the
    interactive charts are Plotly's, drawn only while their toggle is on."""
    at = _live_with(monkeypatch, _norm_rows(range(5, 505, 5), norms=True), status="running")
    status, curves = panel(at, "status"), panel(at, "curves")
    assert status["initial"]["run_dir"] == "/runs/gn-running" and status["status"] == "running" and status["rerun"]
    assert status["initial"]["tiles"][0][:2] == ["Step", "500"]
    assert [c["title"] for c in curves["initial_curves"]["charts"]] == [
        "Losses", "Gradient norms", "D(x) on real and D(G(z)) on generated images"]
    assert not curves["rerun"] and not at.get("plotly_chart"), "no Plotly chart unless asked for"
    at.toggle(key="train_interactive_charts").set_value(True).run()
    assert not at.exception, at.exception
    assert set(_figures(at)) >= {"Losses", "Gradient norms", "D(x) on real and D(G(z)) on generated images"}
    assert "curves" not in {json.loads(e.proto.json)["part"] for e in at.get("bidi_component")}


def test_live_tab_says_a_run_without_gradient_norms_was_trained_before_them(mgr, monkeypatch):
    from ui.charts import NO_GRAD_NORMS

    at = _live_with(monkeypatch, _norm_rows(range(5, 305, 5), norms=False))
    assert NO_GRAD_NORMS in texts(at)
    assert "Gradient norms" not in _figures(at) and "Losses" in _figures(at)
    assert "Gradient norms of each layer group" not in [e.label for e in at.expander]
    # A resumed older run: the norms start where the new code took over, and the page says from which step.
    at = _live_with(monkeypatch, [*_norm_rows(range(5, 105, 5), False), *_norm_rows(range(105, 205, 5), True)])
    assert "Logged from step 105 on" in texts(at) and "Gradient norms" in _figures(at)


def test_gradient_norm_charts_label_groups_and_smooth_on_the_log_scale():
    from ui.charts import grad_norm_figure, has_grad_norms, layer_columns, layer_figure, metric_label

    rows = _norm_rows(range(1, 4), norms=True)
    assert has_grad_norms(rows) and not has_grad_norms(_norm_rows(range(1, 4), norms=False))
    assert layer_columns(rows, "grad_norm_g") == ["grad_norm_g/body.0", "grad_norm_g/body.3"]
    assert metric_label("grad_norm_d/features.0") == "features.0" and metric_label("grad_norm_g") == "‖∇G‖"
    assert layer_figure(_norm_rows(range(1, 4), norms=False), "grad_norm_g") is None
    # One spike of 1000x: smoothed on the logarithms it moves the curve as far up as a dip of 1000x would move it down.
    spiky = [{"step": s, "grad_norm_g": 1000.0 if s == 5 else 1.0, "grad_norm_d": 0.001 if s == 5 else 1.0}
             for s in range(1, 11)]
    g, d = (list(t.y) for t in grad_norm_figure({"a": spiky}, smoothing=0.5).data[::-1])
    assert g[4] > 1.0 and g[4] * d[4] == pytest.approx(1.0) and g[-1] * d[-1] == pytest.approx(1.0)
    assert g[-1] < 1.2, "the spike has faded five rows later (an average of the values would still be above 10)"
    assert len(grad_norm_figure({"a": rows, "b": rows}).data) == 4


@needs_data
def test_step_on_a_paused_run_shows_the_step_before_and_after(mgr, tiny_config):
    """The Live tab's Step: disabled while the run trains; once paused, the run's next step, shown as the grid
    before and after, what changed, D's scores and the gradient G received, and the run stays paused; then what the
    run's D sees on the live grid."""
    mgr.start(tiny_config.replace(name="stepper", epochs=1000))
    wait_for(lambda: mgr.snapshot().step >= 2, 60, "the run's first steps", run_state)
    at = rendered("train", 90)
    assert at.button(key="train_step_once").disabled, "Step is for a paused run"
    mgr.pause()
    wait_for(lambda: mgr.snapshot().status == "paused", 60, "the pause", run_state)
    at.run()
    paused_at = mgr.snapshot().step
    step = at.button(key="train_step_once")
    assert not step.disabled
    at = step.click().run()
    assert not at.exception, at.exception
    assert f"Step {paused_at:,} → {paused_at + 1:,}" in texts(at)
    assert mgr.snapshot().status == "paused" and mgr.snapshot().step == paused_at + 1
    captions = " ".join(cap for img in at.get("image") for cap in img.captions)
    assert f"before (step {paused_at:,})" in captions and "what changed" in captions and "G's loss" in captions
    assert len(at.dataframe) >= 1 and list(at.dataframe[-1].value.columns) == [
        "image", "D before", "D after", "change", "push on G"]
    # What the running D makes of the live grid: a copy of D, taken on request, scores each image. The expander's
    # body (the button) is drawn only while it is open.
    assert "train_d_look" not in [b.key for b in at.button]
    at.session_state["train_d_open"] = True
    at = at.run().button(key="train_d_look").click().run()
    assert not at.exception, at.exception
    captions = " ".join(cap for img in at.get("image") for cap in img.captions)
    assert f"through D at step {paused_at + 1:,}" in captions and "D's probability of real" in captions
