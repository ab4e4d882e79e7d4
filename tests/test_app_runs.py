"""The Runs page under AppTest, with two tiny real runs on disk."""

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gan_core.config import TrainConfig
from gan_core.manager import shared_manager
from gan_core.training import Snapshot, Trainer
from tests.conftest import needs_data

pytestmark = needs_data

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "runs.py")


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


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in (at.markdown, at.caption, at.subheader, at.success, at.error, at.warning)
                    for e in kind)


def test_lists_runs_and_compares_two(runs):
    at = _page()
    listing = at.dataframe[0].value
    assert sorted(listing["name"]) == ["conv", "mlp"]
    assert set(listing["status"]) == {"finished"} and set(listing["steps"]) == {4}
    at.multiselect(key="runs_compare").set_value(["conv", "mlp"]).run()
    assert not at.exception, at.exception
    texts = _texts(at)
    assert "Config fields that differ" in texts and "Latest sample grids" in texts
    differing = at.dataframe[1].value
    assert list(differing.columns) == ["", "conv", "mlp"]
    assert dict(zip(differing[""], differing["mlp"], strict=True))["arch"] == "mlp"
    sizes = at.dataframe[2].value
    ratios = dict(zip(sizes[""], sizes["mlp"], strict=True))
    assert ratios["D size ratio vs conv"].endswith(" %") and ratios["G size ratio vs conv"] != "100.0 %"
    assert "No coverage recorded" in texts and "share their fixed noise" in texts
    assert len(at.get("plotly_chart")) >= 1 and len(at.get("image")) == 2


def test_one_run_picked_asks_for_another(runs):
    at = _page()
    at.multiselect(key="runs_compare").set_value(["conv"]).run()
    assert not at.exception and "Pick at least one more run" in _texts(at)
    assert len(at.dataframe) == 1


def test_rename_and_delete_from_the_page(runs):
    at = _page()
    at.multiselect(key="runs_compare").set_value(["conv", "mlp"]).run()
    at.selectbox(key="runs_manage").set_value("mlp").run()
    at.text_input(key="runs_new_name").input("mlp-small").run()
    at.button(key="runs_rename_button").click().run()
    assert not at.exception, at.exception
    assert (runs / "mlp-small").is_dir() and not (runs / "mlp").exists()
    assert "Renamed mlp to mlp-small" in _texts(at)
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
    assert "Deleted run conv" in _texts(at)
    assert at.multiselect(key="runs_compare").value == ["mlp-small"]
    assert at.selectbox(key="runs_manage").value == "mlp-small"  # never left pointing at the deleted run


def test_the_training_run_cannot_be_renamed_or_deleted(runs, monkeypatch):
    monkeypatch.setattr(shared_manager(), "snapshot", lambda: Snapshot(status="running", run_name="conv"))
    at = _page()
    at.selectbox(key="runs_manage").set_value("conv").run()
    assert "is training right now" in _texts(at)
    assert at.button(key="runs_delete_button").disabled and at.button(key="runs_rename_button").disabled
    assert at.checkbox(key="runs_confirm_delete").disabled
    assert (runs / "conv").is_dir()


@pytest.mark.parametrize("content", ["[]", "null", '{"classes": 5}'])
def test_a_run_with_a_malformed_config_is_listed_as_unreadable_and_the_page_works(runs, content):
    broken = runs / "broken"
    shutil.copytree(runs / "conv", broken)
    (broken / "config.json").write_text(content)
    at = _page()
    assert sorted(at.dataframe[0].value["name"]) == ["broken", "conv", "mlp"]
    assert any("broken" in str(w.value) and "config.json" in str(w.value) for w in at.warning), _texts(at)
