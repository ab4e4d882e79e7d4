"""Before Start, a run is held against the machine's memory and disk; a checkpoint is held against the free disk."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gan_core import budget
from gan_core.budget import BudgetError, check_fits, estimate
from gan_core.presets import DEFAULT_PRESET, get_preset
from gan_core.runs import RunDir
from gan_core.training import Trainer
from tests.conftest import in_process, needs_data

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
    with pytest.raises(BudgetError, match=r"would write up to [\d.,]+ GB .* “Keep newest checkpoints”"):
        check_fits(cfg)
    kept = check_fits(cfg.replace(keep_checkpoints=3))
    assert kept.checkpoints == 4, "keeping 3 checkpoints bounds them (the newest is written before the oldest goes)"
    # What is left grows with the steps: 93.7 M steps log 18.7 M metrics rows.
    assert kept.metrics_rows == 93_700_000 // 5 and kept.disk - kept.metrics_rows * budget.METRICS_ROW_BYTES < 2**30


def test_the_cli_refuses_an_oversized_run_with_exit_status_2(tmp_path, capsys):
    r = in_process(capsys, "train", "--preset", "tf-tutorial", "--width", "8", "--batch-size", "4096", "--runs-root",
                   str(tmp_path))
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
    from gan_core import launch, recorder

    Trainer(tiny_config.replace(name="disk"), runs_root=runs_root).run()
    run = RunDir(runs_root / "disk")
    before = {p.name: p.read_bytes() for _, p in run.checkpoints()}
    trainer = Trainer(tiny_config.replace(epochs=4), runs_root=runs_root, resume=run.path)
    usage = namedtuple("usage", "total used free")
    real_setup = launch.Launch.setup

    def setup_then_the_disk_fills(self):  # after the budget admitted the resume
        gan = real_setup(self)
        monkeypatch.setattr(recorder.shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 10**6, 10**6))
        return gan

    monkeypatch.setattr(launch.Launch, "setup", setup_then_the_disk_fills)
    snap = trainer.run()
    assert snap.status == "failed"
    assert "not enough free disk space for a checkpoint" in snap.message and "step_0000016" in snap.message
    assert {p.name: p.read_bytes() for _, p in run.checkpoints()} == before
    assert not list(run.path.rglob("*.tmp"))


def test_grids_on_disk_are_capped(tmp_path, monkeypatch):
    import numpy as np

    from gan_core.config import TrainConfig
    from gan_core.runs import folder

    monkeypatch.setattr(folder, "MAX_GRIDS_ON_DISK", 20)
    run = RunDir.create(TrainConfig(name="many"), tmp_path)
    for step in range(100):
        run.save_grid(step, np.zeros((30, 30), np.uint8))
    steps = [s for s, _ in run.grids()]
    assert len(steps) <= 20 and steps[0] == 0 and steps[-10:] == list(range(90, 100)), steps
    assert budget.MEMORY_SHARE < 1


# ---------------------------------------------------------------------------------------------- what a run writes
ONE_CLASS = dict(width=8.0, batch_size=64, classes=("Ankle boot",), max_steps=56_220, epochs=1000, checkpoint_every=1,
                 grid_every_s=0.0)  # the case: estimated at 60.8 GB (60,000 images an epoch) and admitted


def _roomy(monkeypatch, free: int) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda _p: usage(2 * free, free, free))
    monkeypatch.setattr(budget, "memory_available", lambda: 64 * 2**30)


def test_a_one_class_run_counts_its_6000_image_epochs_and_is_refused(monkeypatch):
    import math

    import torch

    from gan_core.models import build_discriminator, build_generator

    _roomy(monkeypatch, free=100 * 10**9)
    cfg = get_preset("tf-tutorial").config(**ONE_CLASS)
    b = estimate(cfg)
    # Worked out apart from gan_core.budget: one class is 6,000 images, 93 steps of 64 an epoch; 56,220 steps end
    # 48 steps into epoch 605 (604 x 93 = 56,172), so a checkpoint after each of 604 epochs, one at the last step,
    # and the 3 allowed for pauses (nothing is pruned). Grids: step 0's, one per epoch, the last step's.
    with torch.device("meta"):
        model = cfg.model_config()
        params = sum(t.numel() for net in (build_generator(model), build_discriminator(model))
                     for t in [*net.parameters(), *net.buffers()])
    checkpoint = 3 * params * 4  # G, D and both Adam moments, float32 (no EMA in tf-tutorial)
    checkpoints = 604 + 1 + 3
    grids = 1 + 604 + 1
    grid_png = grids * 16 * 900
    gif = 2 * math.ceil(120 * (4 * 30 + 2) ** 2 * 2**2 * 0.7)  # 120 frames of the 4x4 grid at 2x, written twice
    metrics = (56_220 // 5 + 1) * 320  # a row with its gradient-norm columns
    assert (b.checkpoint, b.checkpoints, b.grids, b.metrics_rows) == (checkpoint, checkpoints, grids, 56_220 // 5)
    assert b.disk == checkpoints * checkpoint + grid_png + gif + metrics
    assert b.disk > 9 * 60.8e9, "ten times the epochs the old estimate counted"
    with pytest.raises(BudgetError, match=r"56,220 steps of 93 an epoch \(6,000 images\): 608 checkpoints .* 3 of "
                                          r"them for pauses \(each pause saves one\)"):
        check_fits(cfg)
    kept = check_fits(cfg.replace(keep_checkpoints=5))
    assert kept.checkpoints == 6, "five kept, and the newest written before the oldest is pruned"


def test_memory_counts_the_images_of_the_classes_trained():
    one, ten = (estimate(get_preset(DEFAULT_PRESET).config(classes=c)) for c in (("Bag",), ()))
    assert ten.memory - one.memory == (60_000 - 6_000) * 28 * 28 * 4
    assert one.step_memory == ten.step_memory > 0


@needs_data
@pytest.mark.parametrize("changes", [{}, {"max_steps": 13, "sample_every": 5, "log_every": 3},
                                     {"keep_checkpoints": 1, "epochs": 3}])
def test_the_counts_are_what_a_real_run_writes(tiny_config, runs_root, changes):
    """A real (tiny) run: its checkpoints, grids and metrics rows as the budget counted them, its files within it."""
    cfg = tiny_config.replace(name="counted", **changes)
    b = estimate(cfg, runs_root)
    assert Trainer(cfg, runs_root=runs_root).run().status == "finished"
    run = RunDir(runs_root / "counted")
    pauses = budget.PAUSE_CHECKPOINTS if not cfg.keep_checkpoints else 1  # keep + 1: before pruning
    assert len(run.checkpoints()) == b.checkpoints - pauses
    assert len(run.grids()) == b.grids
    assert len(run.read_metrics()) == b.metrics_rows
    written = sum(p.stat().st_size for p in run.path.rglob("*") if p.is_file())
    assert written <= b.disk


# ---------------------------------------------------------------------------------------------- BatchNorm and one image
@pytest.mark.parametrize(("preset", "changes", "message"), [
    ("tf-tutorial", {"batch_size": 1}, "batch size 1 cannot train tf-tutorial with BatchNorm"),
    ("mlp-gan", {"batch_size": 1}, "batch size 1 cannot train mlp with BatchNorm"),
    ("ankle-boot", {"max_images": 1}, "1 training image cannot train ankle-boot-gan2 with BatchNorm"),
    ("tf-tutorial", {"max_images": 1, "batch_size": 1}, "batch size 1 cannot train tf-tutorial"),
])
def test_a_batch_of_one_image_with_batchnorm_is_refused_before_anything_runs(preset, changes, message, runs_root):
    from gan_core.config import ConfigError

    cfg = get_preset(preset).config(**changes)
    with pytest.raises(ConfigError, match=message + r".*(use a batch of at least 2|allow at least 2).*“Batch norm”"):
        estimate(cfg)
    with pytest.raises(ConfigError, match=message):
        Trainer(cfg, runs_root=runs_root)
    assert not runs_root.exists()
    assert estimate(cfg.replace(batch_norm=False)).problems() == [], "without BatchNorm one image trains"


def test_batchnorm_over_image_positions_takes_a_batch_of_one():
    """dcgan's BatchNorm follows convolutions only: each channel has 7 x 7 or more values even for one image."""
    assert estimate(get_preset("studio").config(batch_size=1)).schedule.batch == 1


@pytest.mark.parametrize("flags", [["--batch-size", "1"], ["--max-images", "1"]])
def test_the_cli_refuses_a_batch_of_one_with_batchnorm_with_the_same_message(tmp_path, flags, capsys):
    r = in_process(capsys, "train", "--preset", "tf-tutorial", *flags, "--runs-root", str(tmp_path))
    assert r.returncode == 2, r.stderr
    assert "cannot train tf-tutorial with BatchNorm" in r.stderr and "Traceback" not in r.stderr
    assert not any(tmp_path.iterdir())


def test_the_train_page_refuses_a_batch_of_one_with_batchnorm(runs_root, monkeypatch):
    from gan_core import speed
    from gan_core.manager import shared_manager

    def never(*_a, **_k):
        raise AssertionError("a config that cannot train is never timed")

    monkeypatch.setattr(speed, "images_per_sec", never)
    page = str(Path(__file__).resolve().parent.parent / "pages" / "train.py")
    at = AppTest.from_file(page, default_timeout=90).run()
    at.session_state["train_tab"] = "New run"
    at.run()
    at.selectbox(key="train_preset").select("tf-tutorial").run()
    at.number_input(key="train_form.tf-tutorial.batch_size").set_value(1).run()
    assert not at.exception, at.exception
    assert any("This run cannot train: batch size 1 cannot train tf-tutorial" in str(e.value) for e in at.error)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    assert any("Not started: batch size 1 cannot train tf-tutorial" in str(e.value) for e in at.error)
    assert not shared_manager().active and not runs_root.exists()


@needs_data
def test_a_resume_is_budgeted_by_the_run_it_continues_not_by_the_config_given(tiny_config, runs_root):
    """A resume trains the saved model: a given config that alone would not fit (58 GB here) does not refuse it."""
    assert Trainer(tiny_config.replace(name="small", max_steps=4), runs_root=runs_root).run().status == "finished"
    huge = tiny_config.replace(arch="tf-tutorial", width=8.0, batch_size=4096, max_images=0)
    with pytest.raises(BudgetError, match="of memory while training"):
        check_fits(huge, runs_root)
    snap = Trainer(huge.replace(max_steps=8), runs_root=runs_root, resume=runs_root / "small").run()
    assert snap.status == "finished" and snap.step == 8, snap.message
    assert snap.config.arch == "dcgan" and snap.config.width == 0.25


def test_a_batch_that_leaves_each_process_one_image_is_refused_for_batchnorm_after_a_dense_layer():
    """Under torchrun each rank trains on batch / N images: 2 over 2 processes is one image each."""
    from gan_core.config import ConfigError, TrainConfig

    cfg = TrainConfig(arch="mlp", batch_size=2, max_images=64)
    assert estimate(cfg).schedule.batch == 2  # one process: two images, fine
    with pytest.raises(ConfigError, match=r"a batch of 2 over 2 processes leaves each process one image.*"
                                          r"--batch-size 4 or more"):
        check_fits(cfg, ranks=2)
    assert check_fits(cfg.replace(batch_size=4), ranks=2).schedule.batch == 4


def test_tensorboard_output_is_counted_on_disk():
    cfg = get_preset(DEFAULT_PRESET).config()
    plain, with_events = estimate(cfg), estimate(cfg.replace(tensorboard=True))
    extra = with_events.disk - plain.disk
    grids = plain.grids * cfg.grid_size * budget.GRID_PNG_BYTES_PER_IMAGE
    assert extra == (plain.metrics_rows + 1) * budget.TENSORBOARD_ROW_BYTES + grids
