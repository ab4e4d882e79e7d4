"""The background manager driven from the test thread, as a page would: start, watch, pause, resume, stop, restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gan_core.config import TrainConfig
from gan_core.manager import RunActiveError, TrainingManager
from gan_core.runs import RunDir
from gan_core.training import Snapshot
from tests.conftest import needs_data

pytestmark = needs_data


def _wait(manager: TrainingManager, ok: Callable[[Snapshot], bool], timeout: float, what: str) -> Snapshot:
    deadline = time.monotonic() + timeout
    while True:
        snap = manager.snapshot()
        if ok(snap):
            return snap
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s; last snapshot: status={snap.status} "
                                 f"step={snap.step} message={snap.message!r}")
        time.sleep(0.02)


@pytest.fixture
def manager(tmp_path):
    mgr = TrainingManager(runs_root=tmp_path)
    yield mgr
    mgr.stop(wait=30)
    assert mgr.join(30), "the worker thread did not end"


def _config(name: str) -> TrainConfig:
    # epochs=1000: the run cannot end by itself during the test; only stop() ends it.
    return TrainConfig(name=name, width=0.25, max_images=256, batch_size=32, epochs=1000, threads=1, seed=1,
                       log_every=1, sample_every=5, grid_size=16, checkpoint_every=0)


def test_manager_controls_a_real_run(manager, tmp_path):
    assert manager.snapshot().status == "idle" and not manager.active
    manager.start(_config("first"))
    assert manager.active  # "starting" counts as active at once, before the thread has set anything up

    snap = _wait(manager, lambda s: s.status == "running" and s.step >= 3, 60, "three steps")
    assert snap.run_name == "first" and snap.run_dir == str(tmp_path / "first")
    assert snap.total_steps == 1000 * (256 // 32)
    later = _wait(manager, lambda s: s.step >= snap.step + 5 and len(s.history) > len(snap.history), 30, "progress")
    assert [r["step"] for r in later.history] == sorted(r["step"] for r in later.history)
    assert all(k in later.history[-1] for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert later.d_loss is not None and later.images_per_sec > 0
    grids = _wait(manager, lambda s: len(s.grids) >= 2, 30, "a second sample grid").grids
    assert grids[0][0] == 0 and grids[0][1].dtype.name == "uint8" and grids[0][1].shape == (122, 122)

    # A second start is refused while this one runs, and the message says what to do.
    with pytest.raises(RunActiveError, match="stop it before starting another"):
        manager.start(_config("second"))

    asked_at = manager._trainer.step
    manager.pause()
    paused = _wait(manager, lambda s: s.status == "paused", 30, "status paused")
    assert paused.step <= asked_at + 1, "it pauses at the next step (one may be under way)"
    time.sleep(0.5)
    assert manager.snapshot().step == paused.step, "steps went on while paused"
    assert manager.active  # a paused run still blocks a second start
    with pytest.raises(RunActiveError, match="paused"):
        manager.start(_config("second"))

    manager.resume()
    _wait(manager, lambda s: s.status == "running" and s.step > paused.step, 10, "steps after resume")

    asked_at = manager._trainer.step
    manager.stop()
    stopped = _wait(manager, lambda s: s.status == "stopped", 30, "status stopped")
    assert stopped.step <= asked_at + 1, "it stops at the next step (one may be under way)"
    assert manager.join(5) and not manager.active
    assert stopped.message.startswith("stopped at step")
    assert (tmp_path / "first" / "checkpoints" / f"step_{stopped.step:07d}.safetensors").is_file()

    # Once the first run has ended, a new one starts and is the one the snapshot shows.
    manager.start(_config("second"))
    again = _wait(manager, lambda s: s.status == "running" and s.step >= 1, 60, "the second run training")
    assert again.run_name == "second" and again.history[0]["step"] == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread dies on purpose
def test_a_worker_that_dies_leaves_the_manager_startable(manager, monkeypatch):
    from gan_core import training

    def die(self, on_step=None):
        self._publish(status="running")
        raise SystemExit("killed")  # not an Exception: Trainer.run cannot catch it, the thread just ends

    monkeypatch.setattr(training.Trainer, "run", die)
    manager.start(_config("dies"))
    assert manager.join(10)
    snap = manager.snapshot()
    assert snap.status == "failed" and "ended unexpectedly" in snap.message and not manager.active
    monkeypatch.undo()
    manager.start(_config("after-death"))  # not refused
    _wait(manager, lambda s: s.status == "running" and s.step > 0, 60, "the next run training")


def test_a_fault_mid_run_frees_the_manager_at_once(manager, monkeypatch):
    from gan_core import recorder

    real = recorder.RunRecorder.checkpoint

    def full_disk(self, gan, wall_time):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder.RunRecorder, "checkpoint", full_disk)
    manager.start(_config("diskfull"))
    _wait(manager, lambda s: s.step > 2, 60, "steps")
    manager.stop()  # the stop saves a checkpoint: the fault happens there
    snap = _wait(manager, lambda s: not s.active, 30, "the run ending")
    assert snap.status == "failed" and "while finishing" in snap.message and "No space left" in snap.message
    monkeypatch.setattr(recorder.RunRecorder, "checkpoint", real)
    manager.start(_config("after-fault"))
    _wait(manager, lambda s: s.status == "running" and s.step > 0, 60, "the next run training")


@needs_data
def test_a_copy_of_the_live_generator_is_taken_between_steps_and_samples(tiny_config, runs_root):
    import torch

    from gan_core.sampling import generate

    m = TrainingManager(runs_root)
    assert m.live_generator() is None, "no run: nothing to copy"
    m.start(tiny_config.replace(epochs=1000, name="live-g"))
    try:
        deadline = time.monotonic() + 60
        while m.snapshot().step < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        g, step = m.live_generator()
        assert step >= 3 and not g.training
        x = generate(g, 8, seed=0)
        assert x.shape == (8, 1, 28, 28) and torch.isfinite(x).all()
        assert all(p.data_ptr() != q.data_ptr() for p, q in
                   zip(g.parameters(), m._trainer.gan.G.parameters(), strict=True)), "a copy, not the live weights"
        # The snapshot is published after each step, so it may still show the step before the copy's: training
        # goes on past the copy (within a deadline), untouched by it.
        while m.snapshot().step <= step:
            assert time.monotonic() < deadline, "training stopped after the copy"
            time.sleep(0.05)
    finally:
        m.stop(wait=30)
    assert m.live_generator() is None, "a stopped run has no live generator"



def test_forget_reads_idle_again_and_refuses_an_active_run(tiny_config, runs_root):
    m = TrainingManager(runs_root)
    m.start(tiny_config.replace(epochs=1000, name="kept"))
    try:
        with pytest.raises(RunActiveError, match="stop it before"):
            m.forget()
    finally:
        m.stop(wait=30)
    assert m.snapshot().status == "stopped"
    m.forget()
    assert m.snapshot().status == "idle" and (runs_root / "kept" / "config.json").is_file(), "the run folder stays"


@needs_data
def test_shutdown_waits_for_a_save_longer_than_the_old_ten_seconds_and_says_so(manager, monkeypatch):
    """A server stopped during a slow save (a big network's checkpoint, a long evaluation) keeps the run's work."""
    import io

    from gan_core import recorder

    real = recorder.RunRecorder.checkpoint

    def slow_save(self, gan, wall_time):
        if manager._trainer.controls.stop_requested:
            time.sleep(11)  # longer than the ten seconds shutdown used to wait
        return real(self, gan, wall_time)

    monkeypatch.setattr(recorder.RunRecorder, "checkpoint", slow_save)
    manager.start(_config("slow-save").replace(epochs=1000))
    _wait(manager, lambda s: s.status == "running" and s.step > 2, 60, "the run training")
    log = io.StringIO()
    assert manager.shutdown(log=log)
    snap = manager.snapshot()
    assert snap.status == "stopped", snap.message
    status = RunDir(Path(snap.run_dir)).read_status()
    assert status["status"] == "stopped" and status["last_checkpoint"] == f"step_{status['step']:07d}.safetensors"
    said = log.getvalue()
    assert "stopping run 'slow-save'" in said and "Ctrl-C" in said and "stopped at step" in said
    assert manager.shutdown(log=log) and log.getvalue() == said, "nothing to do once no run is active"


@pytest.fixture
def previous_sigterm():
    """A SIGTERM handler standing for Streamlit's (it stops the server): records its calls; the real one is put back."""
    import signal

    calls: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGTERM, old)


def test_a_signal_saves_the_run_at_once_hands_on_and_bounds_the_exit(manager, previous_sigterm):
    """The save starts as SIGTERM arrives, not at interpreter exit (which a server waiting for open connections may
    never reach); the handler it replaced runs as before; once saved, the process gets the grace, then is ended."""
    import io
    import signal

    from gan_core.manager import SignalSave

    manager.start(_config("signal"))
    _wait(manager, lambda s: s.status == "running" and s.step > 2, 60, "the run training")
    log, exits = io.StringIO(), []
    hook = SignalSave(manager, grace_s=0.5, log=log, exit_process=exits.append)
    hook.install((signal.SIGTERM,))
    try:
        signal.raise_signal(signal.SIGTERM)
        assert previous_sigterm == [signal.SIGTERM], "handed on at once, as the save starts"
        _wait(manager, lambda s: "stopping run 'signal'" in log.getvalue() or s.status == "stopped", 10, "the save")
        atexit_log = io.StringIO()
        assert manager.shutdown(log=atexit_log), "the atexit fallback waits for the same stop"
        assert atexit_log.getvalue() == "", "and says nothing the signal's save has said"
        deadline = time.monotonic() + 10
        while not exits and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hook.uninstall()
    assert exits == [0], log.getvalue()
    said = log.getvalue()
    assert "stopping run 'signal'" in said and "stopped at step" in said and "exiting now" in said
    status = RunDir(Path(manager.snapshot().run_dir)).read_status()
    assert status["status"] == "stopped" and status["last_checkpoint"] == f"step_{status['step']:07d}.safetensors"


class _SlowSave:
    """A manager whose run takes until `release` to save."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def shutdown(self, wait: float, log) -> bool:
        return self.release.wait(wait)


def test_a_second_signal_quits_at_once_and_a_repeat_within_a_second_is_the_same_request():
    import io
    import signal

    from gan_core.manager import REPEAT_S, SignalSave

    slow = _SlowSave()
    handed_on, exits, log = [], [], io.StringIO()
    hook = SignalSave(slow, grace_s=60, log=log, exit_process=exits.append)
    hook.previous[signal.SIGINT] = lambda signum, frame: handed_on.append(signum)
    hook.handle(signal.SIGINT, None)
    hook.handle(signal.SIGINT, None)  # the same Ctrl-C, passed on by a wrapper
    assert handed_on == [signal.SIGINT] and exits == []
    hook.first_at -= REPEAT_S  # a second Ctrl-C, a second later, while the run still saves
    hook.handle(signal.SIGINT, None)
    assert exits == [128 + signal.SIGINT] and "without waiting for the run to save" in log.getvalue()
    slow.release.set()
    deadline = time.monotonic() + 5
    while not hook.saved.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    hook.handle(signal.SIGINT, None)  # once saved, a second signal ends the wait for the server: nothing is lost
    assert exits[-1] == 0 and log.getvalue().endswith("a second signal: exiting now.\n")


def test_a_signal_with_no_handler_to_hand_on_to_ends_the_process_once_saved():
    """Where nothing else handles the signal, its default action (ending the process) comes after the save."""
    import io
    import signal

    from gan_core.manager import SignalSave

    slow, exits = _SlowSave(), []
    slow.release.set()
    hook = SignalSave(slow, grace_s=60, log=io.StringIO(), exit_process=exits.append)
    hook.previous[signal.SIGTERM] = signal.SIG_DFL
    hook.handle(signal.SIGTERM, None)
    deadline = time.monotonic() + 5
    while not exits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert exits == [128 + signal.SIGTERM]


def test_the_signal_save_is_installed_once_and_only_on_the_main_thread(monkeypatch, previous_sigterm):
    import signal
    import threading

    from gan_core import manager as manager_module

    monkeypatch.setattr(manager_module, "_signal_save", None)
    mgr = TrainingManager()
    from_thread: list[bool] = []
    worker = threading.Thread(target=lambda: from_thread.append(manager_module.install_signal_save(mgr)))
    worker.start()
    worker.join()
    assert from_thread == [False], "signal handlers can only be set on the main thread"
    try:
        assert manager_module.install_signal_save(mgr)
        hook = manager_module._signal_save
        assert signal.getsignal(signal.SIGTERM) == hook.handle and hook.manager is mgr
        assert not manager_module.install_signal_save(mgr), "once per process"
        assert signal.getsignal(signal.SIGTERM) == hook.handle
    finally:
        manager_module._signal_save.uninstall()
    assert signal.getsignal(signal.SIGTERM) is not hook.handle
