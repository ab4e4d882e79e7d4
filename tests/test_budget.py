"""Before Start, a run is held against the machine's memory and disk; a checkpoint is held against the free disk."""

from __future__ import annotations

import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gan_core import budget
from gan_core.budget import BudgetError, check_fits, estimate
from gan_core.presets import DEFAULT_PRESET, get_preset
from gan_core.runs import RunDir
from gan_core.training import Trainer
from tests.conftest import needs_data

HUGE = {"arch": "tf-tutorial", "width": 8.0, "batch_size": 4096}  # the example: tens of GB


def test_the_default_fits_and_its_estimate_is_near_what_was_measured():
    b = estimate(get_preset(DEFAULT_PRESET).config())
    # Measured here for studio-fast-deep: 1.04 GiB peak RSS, 15.9 MiB per checkpoint (studio-fast: 1.04 GB, 15 MB).
    assert 0.7 * 2**30 < b.memory < 1.5 * 2**30
    assert 13 * 2**20 < b.checkpoint < 18 * 2**20
    assert b.problems() == []


def test_r1_counts_the_graph_of_ds_input_gradient():
    """R1 keeps a second graph through D on the real batch for its double backward: the estimate grows by it."""
    base = get_preset(DEFAULT_PRESET).config(r1_gamma=0.0, batch_size=512)
    without, with_r1 = estimate(base), estimate(base.replace(r1_gamma=0.1))
    assert with_r1.memory > without.memory
    assert with_r1.checkpoint == without.checkpoint


def test_an_oversized_config_is_refused_with_its_numbers_and_the_fields_to_change(runs_root):
    cfg = get_preset("tf-tutorial").config(**HUGE)
    b = estimate(cfg)
    assert b.memory > 20 * 2**30
    with pytest.raises(BudgetError, match=r"needs about [\d.,]+ GB of memory .* lower “Batch size” or “Width"):
        check_fits(cfg)
    with pytest.raises(BudgetError):
        Trainer(cfg, runs_root=runs_root)
    assert not runs_root.exists(), "refused before any run folder is made"


def test_a_disk_filling_config_is_refused(monkeypatch):
    cfg = get_preset(DEFAULT_PRESET).config(epochs=100_000)
    with pytest.raises(BudgetError, match=r"would write about [\d.,]+ GB .* “Keep newest checkpoints”"):
        check_fits(cfg)
    assert check_fits(cfg.replace(keep_checkpoints=3)).disk < 2**30, "keeping 3 checkpoints bounds it"


def test_the_cli_refuses_an_oversized_run_with_exit_status_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gan_core", "train", "--preset", "tf-tutorial", "--width", "8",
                        "--batch-size", "4096", "--runs-root", str(tmp_path)], capture_output=True, text=True,
                       timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 2, r.stderr
    assert "does not fit this machine" in r.stderr and "GB of memory" in r.stderr
    assert not any(tmp_path.iterdir())


def test_the_train_page_shows_the_budget_and_refuses_an_oversized_run(runs_root, monkeypatch):
    from gan_core import speed
    from gan_core.manager import shared_manager

    monkeypatch.setattr(speed, "images_per_sec", lambda cfg: 500.0)  # not the point here, and slow for width 8

    page = str(Path(__file__).resolve().parent.parent / "pages" / "train.py")
    at = AppTest.from_file(page, default_timeout=90).run()
    at.session_state["train_tab"] = "New run"  # where an earlier test's run left the page on Live
    at.run()
    assert any("of memory" in str(c.value) and "of disk" in str(c.value) for c in at.caption)
    at.selectbox(key="train_preset").select("tf-tutorial").run()
    at.number_input(key="train_form.tf-tutorial.width").set_value(8.0).run()
    at.number_input(key="train_form.tf-tutorial.batch_size").set_value(4096).run()
    assert not at.exception
    assert any("does not fit this machine" in str(e.value) for e in at.error)
    at.button(key="train_start").click().run()
    assert any("Not started: this run does not fit" in str(e.value) for e in at.error)
    assert not shared_manager().active and not runs_root.exists()


@needs_data
def test_a_full_disk_before_a_checkpoint_fails_the_run_and_keeps_the_previous_one(tiny_config, runs_root,
                                                                                   monkeypatch):
    from gan_core import training

    Trainer(tiny_config.replace(name="disk"), runs_root=runs_root).run()
    run = RunDir(runs_root / "disk")
    before = {p.name: p.read_bytes() for _, p in run.checkpoints()}
    trainer = Trainer(tiny_config.replace(epochs=4), runs_root=runs_root, resume=run.path)
    usage = namedtuple("usage", "total used free")  # the disk fills up after Start
    monkeypatch.setattr(training.shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 10**6, 10**6))
    snap = trainer.run()
    assert snap.status == "failed"
    assert "not enough free disk space for a checkpoint" in snap.message and "step_0000016" in snap.message
    assert {p.name: p.read_bytes() for _, p in run.checkpoints()} == before
    assert not list(run.path.rglob("*.tmp"))


def test_grids_on_disk_are_capped(tmp_path, monkeypatch):
    import numpy as np

    from gan_core import runs
    from gan_core.config import TrainConfig

    monkeypatch.setattr(runs, "MAX_GRIDS_ON_DISK", 20)
    run = RunDir.create(TrainConfig(name="many"), tmp_path)
    for step in range(100):
        run.save_grid(step, np.zeros((30, 30), np.uint8))
    steps = [s for s, _ in run.grids()]
    assert len(steps) <= 20 and steps[0] == 0 and steps[-10:] == list(range(90, 100)), steps
    assert budget.MEMORY_SHARE < 1
