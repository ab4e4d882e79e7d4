"""The Runs page under AppTest, with two tiny real runs on disk."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from gan_core.config import TrainConfig
from gan_core.manager import shared_manager
from gan_core.runlog import Summary
from gan_core.runs import RunDir, checkpoint_rows
from gan_core.training import Snapshot, Trainer
from tests.apphelpers import page, rendered, texts
from tests.conftest import needs_data

pytestmark = needs_data



@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    base = TrainConfig(max_images=128, batch_size=32, max_steps=4, log_every=1, sample_every=2, grid_size=16,
                       threads=1, seed=2)
    for cfg in (base.replace(name="conv", width=0.25), base.replace(name="mlp", arch="mlp")):
        assert Trainer(cfg, runs_root=root).run().status == "finished"
    return root


@pytest.fixture
def runs(trained, tmp_path, monkeypatch):
    """A private copy of the two runs (the page renames and deletes them)."""
    root = tmp_path / "runs"
    shutil.copytree(trained, root)
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


def test_lists_runs_and_compares_two(runs):
    at = rendered("runs")
    listing = at.dataframe[0].value
    assert sorted(listing["name"]) == ["conv", "mlp"]
    assert set(listing["status"]) == {"finished"} and set(listing["steps"]) == {4}
    at.multiselect(key="runs_compare").set_value(["conv", "mlp"]).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Config fields that differ" in shown and "Latest sample grids" in shown
    differing = at.dataframe[1].value
    assert list(differing.columns) == ["", "conv", "mlp"]
    assert dict(zip(differing[""], differing["mlp"], strict=True))["arch"] == "mlp"
    sizes = at.dataframe[2].value
    ratios = dict(zip(sizes[""], sizes["mlp"], strict=True))
    assert ratios["D size ratio vs conv"].endswith(" %") and ratios["G size ratio vs conv"] != "100.0 %"
    assert "No coverage recorded" in shown and "share their fixed noise" in shown
    assert len(at.get("plotly_chart")) >= 1 and len(at.get("image")) == 2


def test_one_run_picked_opens_its_own_view(runs):
    """One run picked opens the single-run view (it used to ask for a second run to compare)."""
    at = rendered("runs")
    at.multiselect(key="runs_compare").set_value(["conv"]).run()
    assert not at.exception, at.exception
    shown = texts(at)
    for heading in ("Curves", "Sample grids", "Checkpoints", "Config"):
        assert heading in shown, heading
    assert "Config fields that differ" not in shown  # not the comparison
    assert len(at.get("plotly_chart")) >= 1
    grid = at.select_slider(key="runs_view_grid.conv")
    steps = [s for s, _ in RunDir(runs / "conv").grids()]
    assert len(steps) >= 2 and grid.value == steps[-1]
    pick = at.selectbox(key="runs_view_image.conv")  # any image of the grid opened large
    assert len(pick.options) == 16 and pick.options[0].startswith("0 · row 1, column 1")
    grid.set_value(steps[0]).run()
    assert not at.exception, at.exception
    assert any(f"conv · step {steps[0]:,}" in str(img.proto) for img in at.get("image"))
    ckpts = at.dataframe[1].value
    run_ckpts = RunDir(runs / "conv").checkpoints()
    assert list(ckpts["step"]) == [s for s, _ in reversed(run_ckpts)] and (ckpts["size_mb"] > 0).all()
    assert {"fid", "coverage_classes"} <= set(ckpts.columns)
    config = at.dataframe[2].value
    assert dict(zip(config["field"], config["value"], strict=True))["arch"] == "dcgan"
    for key in ("runs_view_sample", "runs_view_evaluate", "runs_view_resume"):
        assert not at.button(key=key).disabled, key


def test_checkpoint_rows_take_metrics_logged_at_their_step(runs):
    run = RunDir(runs / "conv")
    (step, _), *_ = reversed(run.checkpoints())
    logged = ({"step": float(step), "epoch": 1.0, "fid": 12.5, "coverage_classes": 9.0},
              {"step": float(step) + 1, "fid": 99.0})
    rows = checkpoint_rows(run, Summary(rows=logged[:1], evaluated=logged))
    assert rows[0]["step"] == step and rows[0]["fid"] == 12.5 and rows[0]["coverage_classes"] == 9.0
    assert all(r["fid"] is None for r in rows[1:])


def _app_on_runs_page() -> AppTest:
    """The whole app (st.navigation registers the pages the view's buttons switch to), on the Runs page."""
    at = page("app", 120)
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    return at


def test_the_view_opens_sample_and_evaluate_on_the_latest_checkpoint_and_train_on_the_run(runs):
    latest = {name: RunDir(runs / name).latest_checkpoint() for name in ("conv", "mlp")}
    # (run, the view's button, the page it opens, the picker there, what the picker must hold)
    for run, button, title, picker, expected in (
        ("conv", "runs_view_sample", "Sample", "sample_gen", latest["conv"]),
        ("mlp", "runs_view_evaluate", "Evaluate", "evaluate_gen", latest["mlp"]),
        ("mlp", "runs_view_resume", "Train", "train_ckpt_run", "mlp"),
    ):
        at = _app_on_runs_page()
        at.multiselect(key="runs_compare").set_value([run]).run()
        at.button(key=button).click().run()
        assert not at.exception, at.exception
        assert at.title[0].value == title
        value = at.selectbox(key=picker).value
        assert getattr(value, "path", value) == expected, button  # generator pickers hold a file, Train a run name


def test_rename_and_delete_from_the_page(runs):
    at = rendered("runs")
    at.multiselect(key="runs_compare").set_value(["conv", "mlp"]).run()
    at.selectbox(key="runs_manage").set_value("mlp").run()
    at.text_input(key="runs_new_name").input("mlp-small").run()
    at.button(key="runs_rename_button").click().run()
    assert not at.exception, at.exception
    assert (runs / "mlp-small").is_dir() and not (runs / "mlp").exists()
    assert "Renamed mlp to mlp-small" in texts(at)
    assert at.multiselect(key="runs_compare").value == ["conv", "mlp-small"]

    at.selectbox(key="runs_manage").set_value("conv").run()
    assert at.button(key="runs_delete_button").disabled  # the confirmation comes first
    at.checkbox(key="runs_confirm_delete").check().run()
    assert not at.button(key="runs_delete_button").disabled
    at.selectbox(key="runs_manage").set_value("mlp-small").run()  # confirming conv does not confirm mlp-small
    assert at.button(key="runs_delete_button").disabled and not at.checkbox(key="runs_confirm_delete").value
    at.selectbox(key="runs_manage").set_value("conv").run()
    at.checkbox(key="runs_confirm_delete").check().run()
    at.button(key="runs_delete_button").click().run()
    assert not at.exception, at.exception
    assert not (runs / "conv").exists() and (runs / "mlp-small").is_dir()
    assert "Deleted run conv" in texts(at)
    assert at.multiselect(key="runs_compare").value == ["mlp-small"]
    assert at.selectbox(key="runs_manage").value == "mlp-small"  # never left pointing at the deleted run


def test_the_training_run_cannot_be_renamed_or_deleted(runs, monkeypatch):
    monkeypatch.setattr(shared_manager(), "snapshot", lambda: Snapshot(status="running", run_name="conv"))
    at = rendered("runs")
    at.selectbox(key="runs_manage").set_value("conv").run()
    assert "is training right now" in texts(at)
    assert at.button(key="runs_delete_button").disabled and at.button(key="runs_rename_button").disabled
    assert at.checkbox(key="runs_confirm_delete").disabled
    assert (runs / "conv").is_dir()


@pytest.mark.parametrize("content", ["[]", "null", '{"classes": 5}'])
def test_a_run_with_a_malformed_config_is_listed_as_unreadable_and_the_page_works(runs, content):
    broken = runs / "broken"
    shutil.copytree(runs / "conv", broken)
    (broken / "config.json").write_text(content)
    at = rendered("runs")
    assert sorted(at.dataframe[0].value["name"]) == ["broken", "conv", "mlp"]
    assert any("broken" in str(w.value) and "config.json" in str(w.value) for w in at.warning), texts(at)
    at.multiselect(key="runs_compare").set_value(["broken"]).run()  # its own view opens too, without resume
    assert not at.exception, at.exception
    assert "config.json cannot be read" in texts(at) and at.button(key="runs_view_resume").disabled
    assert not at.button(key="runs_view_sample").disabled


def test_a_damaged_run_is_shown_as_damaged_opened_without_error_and_deleted(runs):
    import os

    bad = RunDir(runs / "mlp")
    bad.status_path.write_text('{"step": "12"}')
    bad.metrics_path.unlink()
    os.mkfifo(bad.metrics_path)  # would block a reader that waits on it
    at = rendered("runs")
    listing = at.dataframe[0].value
    assert dict(zip(listing["name"], listing["status"], strict=True)) == {"conv": "finished", "mlp": "damaged"}
    assert "mlp is damaged" in " ".join(w.value for w in at.warning).replace("*", "")
    at.multiselect(key="runs_compare").set_value(["mlp"]).run()
    assert not at.exception, at.exception
    at.selectbox(key="runs_manage").set_value("mlp").run()
    at.checkbox(key="runs_confirm_delete").check().run()
    at.button(key="runs_delete_button").click().run()
    assert not at.exception, at.exception
    assert not bad.path.exists() and (runs / "conv").is_dir()
    assert "Deleted run mlp" in texts(at)


def test_linked_grids_and_gif_are_not_shown_and_the_view_and_comparison_still_work(runs, tmp_path):
    secret = tmp_path / "secret.png"
    shutil.copyfile(next((runs / "conv" / "samples").iterdir()), secret)
    run = RunDir(runs / "mlp")
    latest = run.grids()[-1][1]
    latest.unlink()
    latest.symlink_to(secret)  # would show another file's picture as the run's
    run.gif_path.unlink(missing_ok=True)
    run.gif_path.symlink_to(secret)
    at = rendered("runs")
    at.multiselect(key="runs_compare").set_value(["mlp"]).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert f"Cannot show {latest.name}" in shown and "symbolic link" in shown
    assert "Cannot show the progress GIF" in shown
    at.multiselect(key="runs_compare").set_value(["conv", "mlp"]).run()
    assert not at.exception, at.exception
    assert f"cannot show {latest.name}" in texts(at)


# ------------------------------------------------------------------ gradient norms in the run view
@pytest.fixture
def norm_runs(tmp_path, monkeypatch):
    """Two runs written by hand (no training): "logged" has gradient-norm columns, "older" was trained before them."""
    import csv

    from gan_core.config import TrainConfig

    root = tmp_path / "runs"
    for name, norms in (("older", False), ("logged", True)):
        run = RunDir(root / name)
        run.path.mkdir(parents=True)
        run.write_config(TrainConfig(name=name, width=0.25, threads=1))
        run.write_status(status="finished", step=100, total_steps=100)
        rows = []
        for step in range(5, 105, 5):
            row = {"step": step, "epoch": 0, "d_loss": 1.1, "g_loss": 0.9}
            if norms:
                row |= {"grad_norm_g": 3.0 - step / 50, "grad_norm_d": 8.0,
                        "grad_norm_g/body.0": 1.0, "grad_norm_d/features.0": 6.0, "grad_norm_d/head": 0.4}
            rows.append(row)
        with run.metrics_path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[-1]))
            writer.writeheader()
            writer.writerows(rows)
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


def _figure_titles(at: AppTest) -> dict[str, dict]:
    import json

    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"].get("title", {}).get("text", ""): s for s in specs}


def test_the_run_view_draws_gradient_norms_or_says_the_run_is_older_than_them(norm_runs):
    from ui.charts import NO_GRAD_NORMS

    at = rendered("runs")
    at.multiselect(key="runs_compare").set_value(["logged"]).run()
    assert not at.exception, at.exception
    figures = _figure_titles(at)
    norms = figures["Gradient norms (solid: D, dashed: G)"]
    assert norms["layout"]["yaxis"]["type"] == "log" and [t["name"] for t in norms["data"]] == ["‖∇D‖", "‖∇G‖"]
    assert [t["name"] for t in figures["D: gradient norm of each layer group's own parameters"]["data"]] == \
        ["features.0", "head"]
    assert [t["name"] for t in figures["G: gradient norm of each layer group's own parameters"]["data"]] == ["body.0"]
    assert NO_GRAD_NORMS not in texts(at)

    at.multiselect(key="runs_compare").set_value(["older"]).run()
    assert not at.exception, at.exception
    assert NO_GRAD_NORMS in texts(at) and "Gradient norms (solid: D, dashed: G)" not in _figure_titles(at)
    assert "Losses (solid: D, dashed: G)" in _figure_titles(at)

    at.multiselect(key="runs_compare").set_value(["logged", "older"]).run()  # the comparison: the older one is named
    assert not at.exception, at.exception
    compared = _figure_titles(at)["Gradient norms (solid: D, dashed: G)"]
    assert [t["name"] for t in compared["data"]] == ["logged · ‖∇D‖", "logged · ‖∇G‖"]
    assert "Not drawn: older, trained before gradient norms were logged" in texts(at)
