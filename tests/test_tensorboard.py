"""TensorBoard event files (gan_core.tboard): written while a run trains with `tensorboard` on, by the `tensorboard`
command for a run trained without it, continued on resume without doubling back, and refused, with how to install
the package, before anything exists when it is missing."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_core import tboard
from gan_core.cli import build_parser
from gan_core.cli import main as cli_main
from gan_core.config import FIELDS, TrainConfig
from gan_core.manager import TrainingManager
from gan_core.runs import RunDir, RunLock
from gan_core.training import Trainer
from tests.conftest import needs_data

# Eight steps (256 images, batch 32, one epoch), a row each, grids at 0, 4 and 8, FID and coverage at 4 and 8.
CONFIG = TrainConfig(name="tb", width=0.25, max_images=256, batch_size=32, epochs=1, sample_every=4, grid_every_s=0,
                     log_every=1, grid_size=16, threads=1, seed=3, eval_every=4, eval_samples=100, tensorboard=True)


def _board(run: Path) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[tuple[int, np.ndarray]]]]:
    """Everything TensorBoard shows of a run: {tag: [(step, value)]} and {tag: [(step, grayscale image)]}."""
    acc = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                              reason="the tensorboard package is not installed (requirements.txt)")
    ea = acc.EventAccumulator(str(run / "tensorboard"), size_guidance={acc.SCALARS: 0, acc.IMAGES: 0})
    ea.Reload()
    scalars = {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}
    images = {t: [(e.step, np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("L")))
                  for e in ea.Images(t)] for t in ea.Tags()["images"]}
    return scalars, images


def _from_csv(run: Path) -> dict[str, list[tuple[int, float]]]:
    """What metrics.csv says each tag should show."""
    out: dict[str, list[tuple[int, float]]] = {}
    for row in RunDir(run).read_metrics():
        for tag, value in tboard.scalars(row).items():
            out.setdefault(tag, []).append((int(row["step"]), value))
    return out


def _assert_board_is_the_run(run: Path) -> None:
    """Scalars as metrics.csv has them (steps, values to its 6 digits) and every saved grid as an image, pixel for
    pixel."""
    scalars, images = _board(run)
    expected = _from_csv(run)
    assert set(scalars) == set(expected)
    for tag, points in expected.items():
        assert [s for s, _ in scalars[tag]] == [s for s, _ in points], tag
        assert [v for _, v in scalars[tag]] == pytest.approx([v for _, v in points], rel=1e-5, abs=1e-7), tag
    grids = [(s, RunDir(run).load_grid(p)) for s, p in RunDir(run).grids()]
    assert [s for s, _ in images[tboard.GRID_TAG]] == [s for s, _ in grids]
    for (_, shown), (_, saved) in zip(images[tboard.GRID_TAG], grids, strict=True):
        assert np.array_equal(shown, saved)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny run trained with TensorBoard on (the tests copy it before changing anything)."""
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (requirements.txt)")
    root = tmp_path_factory.mktemp("tbruns")
    snap = Trainer(CONFIG, runs_root=root).run()
    assert snap.status == "finished", snap.message
    return root / "tb"


def _copy(run: Path, to: Path, *, events: bool) -> Path:
    shutil.copytree(run, to)
    if not events:
        shutil.rmtree(to / "tensorboard")
    return to


@needs_data
def test_a_run_with_tensorboard_on_writes_its_metrics_and_grids(trained):
    scalars, images = _board(trained)
    # The groups a person looks for, each at the steps the run logged it.
    assert {"loss/d", "loss/g", "D/real", "D/fake", "eval/fid", "eval/coverage_classes", "eval/coverage_kl",
            "speed/images_per_sec", "lr/g", "lr/d"} <= set(scalars)
    assert [s for s, _ in scalars["loss/d"]] == list(range(1, 9))
    assert [v for _, v in scalars["lr/g"]] == [pytest.approx(CONFIG.lr_g)] * 8, "constant rates: no anneal asked for"
    assert [s for s, _ in scalars["eval/fid"]] == [4, 8]
    assert [s for s, _ in images[tboard.GRID_TAG]] == [0, 4, 8]
    assert not {"metrics/step", "metrics/epoch", "metrics/time_s"} & set(scalars)
    _assert_board_is_the_run(trained)


def test_the_field_is_an_off_by_default_resumable_toggle_and_a_flag():
    spec = FIELDS["tensorboard"]
    assert (spec.default, spec.widget, spec.resumable, spec.place.section) == (False, "toggle", True, "schedule")
    assert build_parser().parse_args(["train", "--tensorboard"]).tensorboard is True


def test_every_numeric_column_gets_a_tag_in_its_group():
    row = {"step": 5, "epoch": 1, "time_s": 2.5, "d_loss": 0.7, "grad_norm_g": 3.0, "grad_norm_d/body.0": 0.25,
           "r1": 0.1, "fid": float("nan")}
    assert tboard.scalars(row) == {"loss/d": 0.7, "grad_norm/g": 3.0, "grad_norm/d/body.0": 0.25, "metrics/r1": 0.1}
    with pytest.raises(ValueError, match="2-D uint8"):
        tboard.write_grid(None, 0, np.zeros((3, 8, 8), np.float32))  # type: ignore[arg-type]


@needs_data
def test_the_command_writes_the_same_for_a_run_trained_without_it(trained, tmp_path, capsys):
    run = _copy(trained, tmp_path / "old", events=False)
    lock = RunLock.acquire(RunDir(run))  # as while it trains: refused, nothing written
    try:
        assert cli_main(["tensorboard", str(run)]) == 2
    finally:
        lock.release()
    assert "being trained" in capsys.readouterr().err and not (run / "tensorboard").exists()
    assert cli_main(["tensorboard", str(run)]) == 0
    out = capsys.readouterr().out
    assert "8 metrics rows and 3 grids" in out and "--logdir" in out
    assert set(_board(run)[0]) == set(_board(trained)[0])  # the tags a run trained with it has
    _assert_board_is_the_run(run)
    # Again: refused, nothing touched; with --replace, written afresh (one event file, the same contents).
    before = tboard.event_files(RunDir(run))
    assert cli_main(["tensorboard", str(run)]) == 2
    assert "--replace" in capsys.readouterr().err
    assert tboard.event_files(RunDir(run)) == before
    assert cli_main(["tensorboard", "--replace", str(run)]) == 0
    assert len(tboard.event_files(RunDir(run))) == 1 and tboard.event_files(RunDir(run)) != before
    _assert_board_is_the_run(run)


@needs_data
def test_a_resume_appends_to_the_same_folder_without_doubling_back(trained, tmp_path):
    run = _copy(trained, tmp_path / "resumed", events=True)
    snap = Trainer(CONFIG.replace(epochs=2, eval_every=0), resume=run).run()
    assert snap.status == "finished", snap.message
    assert len(tboard.event_files(RunDir(run))) == 2
    scalars, _ = _board(run)
    assert [s for s, _ in scalars["loss/d"]] == list(range(1, 17))
    _assert_board_is_the_run(run)


@needs_data
def test_turned_on_at_a_resume_the_history_is_written_first(trained, tmp_path):
    """A run trained without TensorBoard (or forked from another) gets its curves up to the resume point first."""
    run = RunDir(_copy(trained, tmp_path / "late", events=False))
    tboard.resume_writer(run, 8).close()
    _assert_board_is_the_run(run.path)


def test_a_rewound_resume_purges_what_came_after_its_step(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (requirements.txt)")
    run = RunDir(tmp_path / "rewound")
    run.path.mkdir()
    writer = tboard.open_writer(run)
    for step in range(1, 11):
        tboard.write_row(writer, {"step": step, "d_loss": 1.0})
    writer.close()
    # As a crashed run's file is: older. (TensorBoard reads a folder's files in name order, and the name starts with
    # the second it was opened: two opened within one second here could sort either way.)
    (old,) = tboard.event_files(run)
    stamp = old.name.split(".")[3]
    old.rename(old.with_name(old.name.replace(stamp, f"{int(stamp) - 60:010d}", 1)))
    writer = tboard.resume_writer(run, 5)  # the checkpoint of step 5: steps 6-10 are replayed
    for step in (6, 7):
        tboard.write_row(writer, {"step": step, "d_loss": 2.0})
    writer.close()
    assert _board(run.path)[0]["loss/d"] == [(s, 1.0) for s in range(1, 6)] + [(6, 2.0), (7, 2.0)]


def test_a_linked_tensorboard_folder_is_refused(tmp_path):
    run = RunDir(tmp_path / "hostile")
    run.path.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (run.path / "tensorboard").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="symbolic link"):
        tboard.open_writer(run)
    assert not any((tmp_path / "elsewhere").iterdir())


def test_without_the_package_tensorboard_output_is_refused_before_anything_exists(monkeypatch, runs_root,
                                                                                   tiny_config, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what `import` does when it is missing
    wanted = tiny_config.replace(name="tb-missing", tensorboard=True)
    with pytest.raises(tboard.TensorBoardMissing, match="pip install 'tensorboard"):
        Trainer(wanted, runs_root=runs_root)
    with pytest.raises(tboard.TensorBoardMissing, match="turn “Write TensorBoard event files” off"):
        TrainingManager(runs_root).start(wanted)  # the app's Start
    assert not runs_root.exists() or not any(runs_root.iterdir())
    Trainer(tiny_config, runs_root=runs_root)  # the same run without it is not refused
    assert cli_main(["train", "--tensorboard", "--runs-root", str(runs_root), "--max-images", "256"]) == 2
    assert cli_main(["tensorboard", "any-run", "--runs-root", str(runs_root)]) == 2
    err = capsys.readouterr().err
    assert err.count("pip install 'tensorboard") == 2
    assert not runs_root.exists() or not any(runs_root.iterdir())
