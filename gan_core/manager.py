"""The one background training run of a process.

A page (or a test) asks the manager to start, pause, resume or stop, and reads
`snapshot()`; the manager owns the worker thread. The worker never touches the
UI: it only updates the trainer's lock-protected snapshot.
"""

from __future__ import annotations

import atexit
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from gan_core.config import TrainConfig
from gan_core.models import Discriminator, Generator
from gan_core.runs import RunStatus
from gan_core.stepview import StepReport
from gan_core.training import Snapshot, Trainer

# At exit, how long an active run gets to finish what it is doing and save its checkpoint: an evaluation of many
# samples or the checkpoint of a large network takes minutes on a CPU, and a short bound lost the work since the last
# checkpoint. A second Ctrl-C quits at once.
SHUTDOWN_WAIT_S = 600.0


class RunActiveError(RuntimeError):
    """A run is already training; only one runs at a time."""


class TrainingManager:
    def __init__(self, runs_root: str | Path | None = None) -> None:
        self.runs_root = Path(runs_root) if runs_root else None
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None
        self._thread: threading.Thread | None = None

    def start(self, config: TrainConfig, *, resume: str | Path | None = None) -> Trainer:
        """Start training in a daemon thread; refuses while another run is active."""
        with self._lock:
            snap = self.snapshot()
            if snap.active:
                raise RunActiveError(
                    f"run '{snap.run_name or 'starting'}' is {snap.status}: stop it before starting another "
                    "(one run trains at a time)"
                )
            trainer = Trainer(config, runs_root=self.runs_root, resume=resume)
            thread = threading.Thread(target=trainer.run, name="gan-trainer", daemon=True)
            thread.start()  # first: a snapshot must never see this run "starting" with its thread not yet alive
            self._trainer, self._thread = trainer, thread
            return trainer

    def snapshot(self) -> Snapshot:
        """The run's snapshot; a worker that died while its run looked active reads as failed, so Start works."""
        trainer, thread = self._trainer, self._thread
        if trainer is None:
            return Snapshot()
        snap = trainer.snapshot()
        if snap.active and thread is not None and not thread.is_alive():
            return replace(snap, status=RunStatus.FAILED, message=f"the training thread ended unexpectedly while "
                                                         f"{trainer.phase}; the run's files are kept as they were")
        return snap

    def forget(self) -> None:
        """Drop the last run, which has ended, so the manager reads as idle again (as in a fresh process)."""
        with self._lock:
            if self.active:
                raise RunActiveError("a run is active: stop it before the manager can forget it")
            self._trainer = self._thread = None

    def live_generator(self) -> tuple[Generator, int] | None:
        """A copy of the active run's current generator and its step (None when no run is active or set up)."""
        trainer = self._trainer
        if trainer is None or not self.active:
            return None
        return trainer.generator_copy()

    @property
    def active(self) -> bool:
        return self.snapshot().active

    def pause(self) -> None:
        if self._trainer is not None:
            self._trainer.pause()

    def resume(self) -> None:
        if self._trainer is not None:
            self._trainer.resume()

    def live_discriminator(self) -> tuple[Discriminator, int] | None:
        """A copy of the active run's D and its step (None without a run): for views of what D sees."""
        trainer = self._trainer
        return trainer.discriminator_copy() if trainer is not None and self.active else None

    def step_once(self, timeout: float = 600.0) -> StepReport:
        """The paused run's next step, exactly the one it would have taken, and what it changed; the run stays
        paused. ValueError when no run is paused."""
        trainer = self._trainer
        if trainer is None or self.snapshot().status != RunStatus.PAUSED:
            raise ValueError("no run is paused: pause the run, then step it")
        return trainer.step_once(timeout)

    def stop(self, wait: float | None = None) -> None:
        """Ask the run to stop (it saves a checkpoint); optionally wait up to `wait` seconds for it."""
        if self._trainer is not None:
            self._trainer.stop()
        if wait is not None:
            self.join(wait)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when no run is left running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


    def shutdown(self, wait: float = SHUTDOWN_WAIT_S, log: TextIO | None = None) -> bool:
        """The process is ending: ask an active run to stop, which saves its checkpoint, and wait up to `wait` s.

        Registered with atexit for the shared manager, so stopping the server (Ctrl-C, SIGTERM) loses nothing since
        the last checkpoint: the worker is a daemon thread, still alive when atexit handlers run. Says on `log`
        (stderr) what it waits for, since a server that does not exit at once looks hung. True when no run is left.
        """
        trainer = self._trainer
        if trainer is None or not self.active:
            return True
        log = log or sys.stderr
        print(f"Fashion GAN Studio: stopping run {self.snapshot().run_name!r} (it was {trainer.phase}) and saving "
              "its checkpoint before the server exits; press Ctrl-C to quit without waiting.", file=log, flush=True)
        self.stop()
        if self.join(wait):
            print(f"Fashion GAN Studio: {self.snapshot().message or 'the run stopped'}.", file=log, flush=True)
            return True
        print(f"Fashion GAN Studio: the run did not stop within {wait:.0f} s (it is {trainer.phase}); it keeps the "
              "files written so far, its last checkpoint included.", file=log, flush=True)
        return False


_shared: TrainingManager | None = None
_shared_lock = threading.Lock()


def shared_manager() -> TrainingManager:
    """The process-wide manager; the lock stops two browser sessions from each building one."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TrainingManager()
            atexit.register(_shared.shutdown)
        return _shared
