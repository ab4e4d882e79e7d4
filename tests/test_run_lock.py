"""One lock per run folder: the process that trains a run holds it; resume, rename and delete refuse while it does."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from gan_core.config import TrainConfig
from gan_core.runs import (
    RunBusyError,
    RunDir,
    RunLock,
    busy,
    delete_run,
    rename_run,
    run_record,
    training_elsewhere,
)
from gan_core.training import Trainer
from tests.conftest import needs_data

_HOLD = """
import sys, time
from pathlib import Path
from gan_core.runs import RunDir, RunLock
lock = RunLock.acquire(RunDir(Path(sys.argv[1])))
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def held_elsewhere():
    """Hold a run's lock from a second process, as a `python -m gan_core train` in a terminal would."""
    procs: list[subprocess.Popen] = []

    def hold(run: RunDir) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(run.path)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(30)


@needs_data
def test_a_run_trained_by_another_process_refuses_resume_rename_and_delete(tiny_config, runs_root, held_elsewhere):
    Trainer(tiny_config.replace(name="busy"), runs_root=runs_root).run()
    run = RunDir(runs_root / "busy")
    metrics_before, status_before = run.metrics_path.read_bytes(), run.status_path.read_bytes()
    holder = held_elsewhere(run)

    snap = Trainer(tiny_config.replace(epochs=4), runs_root=runs_root, resume=run.path).run()
    assert snap.status == "failed"
    assert f"being trained by another process (pid {holder.pid} on " in snap.message
    assert run.metrics_path.read_bytes() == metrics_before, "a refused resume must not truncate the other's metrics"
    assert run.status_path.read_bytes() == status_before, "nor write its status"
    with pytest.raises(RunBusyError, match=f"pid {holder.pid}"):
        rename_run(run, "renamed")
    with pytest.raises(RunBusyError, match=f"pid {holder.pid}"):
        delete_run(run, runs_root=runs_root)
    assert training_elsewhere(run)

    holder.kill()  # kill -9 releases the lock with the process: the run is free again, and reads as interrupted
    holder.wait(30)
    run.write_status(status="running")
    assert not training_elsewhere(run) and run_record(run).status == "interrupted"
    assert Trainer(tiny_config.replace(epochs=3), runs_root=runs_root, resume=run.path).run().status == "finished"


def test_the_lock_is_exclusive_and_released(tmp_path):
    run = RunDir.create(TrainConfig(name="solo"), tmp_path)
    lock = RunLock.acquire(run)
    assert RunLock.holder(run) is not None
    with pytest.raises(RunBusyError):
        RunLock.acquire(run)
    lock.release()
    assert RunLock.holder(run) is None
    RunLock.acquire(run).release()


def test_busy_names_who_trains_a_run_and_why_it_must_wait(tmp_path, held_elsewhere):
    """The one answer listings, rename, delete and the pages read: this app's trainer, another process, or nobody."""
    run = RunDir.create(TrainConfig(name="watched"), tmp_path)
    assert busy(run) is None and busy(run, active_run_name="other") is None
    here = busy(run, active_run_name="watched")
    assert here is not None and here.here
    assert here.reason("rename") == ("run 'watched' is training right now: stop it on the Train page before you "
                                     "rename it")
    assert type(here.error("delete")) is ValueError
    holder = held_elsewhere(run)
    there = busy(run)
    assert there is not None and not there.here and there.holder.startswith(f"pid {holder.pid} on ")
    assert f"another process (pid {holder.pid} on " in there.reason("delete") and "before you delete it" in \
        there.reason("delete")
    assert isinstance(there.error("delete"), RunBusyError) and training_elsewhere(run)


@needs_data
def test_a_starting_run_is_published_and_locked_before_its_setup_ends(tiny_config, runs_root, monkeypatch):
    """Its name is known (and its folder locked) while the data still loads, so it cannot be deleted from under it."""
    from gan_core import launch

    loading, release = threading.Event(), threading.Event()
    real_load = launch.load_split

    def slow_load(*args, **kwargs):
        loading.set()
        release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(launch, "load_split", slow_load)
    trainer = Trainer(tiny_config.replace(name="early"), runs_root=runs_root)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    try:
        assert loading.wait(30)
        snap = trainer.snapshot()
        assert snap.status == "starting" and snap.run_name == "early"
        with pytest.raises(ValueError, match="is training"):
            delete_run(RunDir(runs_root / "early"), active_run_name=snap.run_name, runs_root=runs_root)
        with pytest.raises(RunBusyError):
            delete_run(RunDir(runs_root / "early"), runs_root=runs_root)
    finally:
        release.set()
        thread.join(60)
    assert trainer.snapshot().status == "finished"
    assert RunLock.holder(RunDir(runs_root / "early")) is None, "the lock is released when the run ends"
