"""The live feed (gan_core.livefeed): what the Train page's live panel and the sidebar poll instead of rerunning."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest

from gan_core.config import TrainConfig
from gan_core.live import Snapshot
from gan_core.livefeed import (
    CURVE_POINTS,
    CURVES_FILE,
    GRIDS_KEPT,
    STATUS_FILE,
    FeedPublisher,
    FeedWriter,
    curves_doc,
    rates_text,
    remove_stale,
    status_doc,
)
from gan_core.runs import RunStatus
from tests.conftest import wait_for

CFG = TrainConfig(conditional=True, grid_size=100)


def _grid(step: int) -> np.ndarray:
    """A 10x10 grid of 28x28 images as make_grid lays it out (2-pixel padding), one grey level per step."""
    return np.full((10 * 30 + 2, 10 * 30 + 2), step % 256, dtype=np.uint8)


def _snap(step: int = 10, *, status: str = RunStatus.RUNNING, grids: int = 1, rows: int = 5, run: str = "r",
          config: TrainConfig = CFG, **fields) -> Snapshot:
    history = tuple({"step": float(s), "d_loss": 1.0 + s / 100, "g_loss": 0.5, "d_real": 0.6, "d_fake": 0.4,
                     "grad_norm_g": 2.0, "grad_norm_d": 3.0} for s in range(1, rows + 1))
    return Snapshot(status=status, run_name=run, run_dir=f"/runs/{run}", step=step, total_steps=1000, epoch=1,
                    epochs=10, images_per_sec=512.4, eta_s=125.0, elapsed_s=42.0, d_loss=1.23456, g_loss=0.5,
                    history=history, grids=tuple((s, _grid(s)) for s in range(grids)), grid_source="the EMA of G",
                    config=config, **fields)


def _read(folder, name):
    return json.loads((folder / name).read_text())


def test_status_holds_the_numbers_as_the_live_view_shows_them():
    doc = status_doc(_snap(), 5.0, "grid-000001-step-0.png", 3)
    assert doc["progress_text"] == "epoch 1 of 10 · step 10 of 1,000 · ETA 2 min 05 s"
    assert doc["sidebar_progress"] == "step 10 / 1,000 · epoch 1/10"
    assert doc["sidebar_rate"] == "512 images/s · ETA 2 min 05 s"
    assert [tuple(t[:2]) for t in doc["tiles"]] == [("Step", "10"), ("Epoch (of 10)", "1"), ("Images/s", "512"),
                                                    ("Training time", "0:42"), ("D loss", "1.235"), ("G loss", "0.500")]
    assert doc["progress"] == pytest.approx(0.01) and doc["t"] == 5.0 and doc["curves_rev"] == 3
    # The Step tile's help: the rates of the next step, and their anneal.
    assert doc["tiles"][0][2] == f"learning rates now: G {CFG.lr_g:.2e}, D {CFG.lr_d:.2e} (constant)"
    annealed = CFG.replace(lr_g=2e-3, lr_d=1e-3, lr_anneal_steps=20, lr_final=0.1)
    assert rates_text(_snap(config=annealed)) == ("learning rates now: G 1.10e-03, D 5.50e-04, annealing along a half "
                                                  "cosine to 0.1 of them at step 20")
    assert rates_text(_snap(step=30, config=annealed)) == ("learning rates now: G 2.00e-04, D 1.00e-04, annealed (0.1 "
                                                           "of them at step 20) and held there")
    assert doc["saved_step"] == -1 and status_doc(_snap(saved_step=9), 5.0, None, 0)["saved_step"] == 9
    assert "Drawn by the EMA of G. Each row is named by the class asked of it." in doc["grid"]["caption"]
    paused = status_doc(_snap(status=RunStatus.PAUSED), 5.0, None, 0)
    assert "ETA" not in paused["progress_text"] and "ETA" not in paused["sidebar_rate"], "no ETA while paused"
    assert paused["grid"] is None


def test_curves_are_thinned_keep_the_last_point_and_leave_out_what_was_not_logged():
    history = [{"step": float(s), "d_loss": float(s), "g_loss": 1.0, "d_real": 0.5, "d_fake": 0.5,
                "grad_norm_g": 0.0 if s == 3 else 1.0, "grad_norm_d": float("nan") if s == 4 else 2.0}
               for s in range(1, 2001)]
    doc = curves_doc(history, 7)
    titles = [c["title"] for c in doc["charts"]]
    assert doc["rev"] == 7 and "FID in the classifier's features (lower is better)" not in titles, "no FID logged"
    losses = doc["charts"][0]
    assert losses["title"] == "Losses" and [line["name"] for line in losses["lines"]] == ["D loss", "G loss"]
    d = losses["lines"][0]
    assert len(d["x"]) <= CURVE_POINTS and d["x"][0] == 1 and d["x"][-1] == 2000 and d["y"][-1] == 2000
    norms = next(c for c in doc["charts"] if c["log"])
    g = next(line for line in norms["lines"] if line["name"] == "‖∇G‖")
    assert 0.0 not in g["y"], "a log axis drops a zero norm"
    short = curves_doc([{"step": 5.0, "fid": 12.5}, {"step": 10.0, "fid": float("inf")}], 1)
    assert short["charts"] == [{"title": "FID in the classifier's features (lower is better)", "log": False,
                                "lines": [{"name": "FID", "x": [5.0], "y": [12.5]}]}]


def test_writer_writes_each_file_only_when_it_changed(tmp_path):
    w = FeedWriter(tmp_path / "feed", curves_every_s=3600)
    assert w.write(_snap(10), t=1.0)
    status = _read(w.folder, STATUS_FILE)
    assert status["grid"]["file"] == w.status["grid"]["file"] and (w.folder / status["grid"]["file"]).is_file()
    png = (w.folder / status["grid"]["file"]).read_bytes()
    assert png.startswith(b"\x89PNG")
    first_curves = _read(w.folder, CURVES_FILE)
    assert first_curves["rev"] == status["curves_rev"] == 1 and w.curves == first_curves

    assert not w.write(_snap(10), t=2.0), "nothing changed: status.json is left as it is"
    assert _read(w.folder, STATUS_FILE)["t"] == 1.0
    assert w.write(_snap(11, rows=6), t=3.0)
    assert _read(w.folder, STATUS_FILE)["curves_rev"] == 1, "new rows within the interval wait for the next write"
    assert not w.write(_snap(12, rows=7), t=2.5), "a snapshot older than the one written is not written over it"
    assert _read(w.folder, STATUS_FILE)["tiles"][0][1] == "11"

    # Ended, the curves catch up at once; a new grid is a new file and the oldest are removed.
    w.write(_snap(12, rows=7, status=RunStatus.STOPPED), t=4.0)
    assert _read(w.folder, CURVES_FILE)["rev"] == 2 and _read(w.folder, STATUS_FILE)["curves_rev"] == 2
    for g in range(2, 2 + GRIDS_KEPT + 2):
        w.write(_snap(12 + g, grids=g, rows=7), t=4.0 + g)
    grids = sorted(p.name for p in w.folder.glob("grid-*.png"))
    assert len(grids) == GRIDS_KEPT and _read(w.folder, STATUS_FILE)["grid"]["file"] == grids[-1]
    assert not list(w.folder.glob("*.tmp")) and not list(w.folder.glob(".*")), "no temporary file is left"


def test_a_new_run_with_the_same_step_gets_a_new_grid_file_and_curves_at_once(tmp_path):
    w = FeedWriter(tmp_path / "feed", curves_every_s=3600)
    w.write(_snap(10, run="a"), t=1.0)
    before = w.status
    w.write(_snap(10, run="b"), t=2.0)
    assert w.status["grid"]["file"] != before["grid"]["file"], "a browser must not show run a's cached grid for b"
    assert w.status["curves_rev"] == before["curves_rev"] + 1 and w.status["run_dir"] == "/runs/b"


def test_publisher_writes_at_start_and_in_its_thread_then_removes_its_folder(tmp_path):
    current = {"snap": _snap(10)}
    pub = FeedPublisher(lambda: current["snap"], tmp_path / "feed", interval_s=0.05).start()
    try:
        assert _read(pub.folder, STATUS_FILE)["tiles"][0][1] == "10", "written before start() returns"
        current["snap"] = _snap(99)
        deadline = time.monotonic() + 10
        while _read(pub.folder, STATUS_FILE)["tiles"][0][1] != "99":
            assert time.monotonic() < deadline, "the thread did not publish the new snapshot"
            time.sleep(0.02)
    finally:
        pub.stop()
    assert not pub.folder.exists()


def test_publisher_says_when_it_cannot_write_and_recovers(tmp_path):
    step = {"n": 10}
    pub = FeedPublisher(lambda: _snap(step["n"]), tmp_path / "feed", interval_s=0.05).start()
    try:
        shutil.rmtree(pub.folder)
        pub.folder.write_text("not a folder")  # the feed's folder replaced by a file: every write fails
        step["n"] = 11
        wait_for(lambda: pub.error is not None, 10, "an error reported for an unwritable feed")
        assert str(pub.folder) in pub.error
        pub.folder.unlink()
        wait_for(lambda: pub.error is None, 10, "the error cleared once the file is gone")
        status = _read(pub.folder, STATUS_FILE)
        assert status["tiles"][0][1] == "11" and (pub.folder / status["grid"]["file"]).is_file(), "all written again"
    finally:
        pub.stop()


def test_stale_feed_folders_are_removed_fresh_ones_and_links_kept(tmp_path):
    old, fresh, target = tmp_path / "old", tmp_path / "fresh", tmp_path.parent / f"{tmp_path.name}-target"
    for folder in (old, fresh, target):
        folder.mkdir()
        (folder / STATUS_FILE).write_text("{}")
    past = time.time() - 2 * 24 * 3600
    os.utime(old / STATUS_FILE, (past, past))
    os.utime(target / STATUS_FILE, (past, past))
    (tmp_path / "link").symlink_to(target)
    assert remove_stale(tmp_path) == [old]
    assert fresh.is_dir() and target.is_dir() and (tmp_path / "link").is_symlink()
    assert remove_stale(tmp_path / "missing") == []
