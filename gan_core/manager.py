"""The one background training run of a process.

A page (or a test) asks the manager to start, pause, resume or stop, and reads
`snapshot()`; the manager owns the worker thread. The worker never touches the
UI: it only updates the trainer's lock-protected snapshot.

Stopping the process saves the shared manager's run: at once on SIGTERM/SIGINT
where the server installed `SignalSave`, and at interpreter exit (atexit) otherwise.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from gan_core.config import TrainConfig
from gan_core.models import Discriminator, Generator
from gan_core.runs import RunStatus
from gan_core.stepview import StepReport
from gan_core.training import Snapshot, Trainer

# At exit, how long an active run gets to finish what it is doing and save its checkpoint: an evaluation of many
# samples or the checkpoint of a large network takes minutes on a CPU, and a short bound lost the work since the last
# checkpoint. A second Ctrl-C quits at once (SignalSave).
SHUTDOWN_WAIT_S = 600.0
# After SIGTERM/SIGINT, how long the server gets to exit by itself once the run is saved before SignalSave ends the
# process. Streamlit's server (uvicorn) waits without a limit for every open connection to finish its response (a
# browser tab mid-download, a client that stopped reading), so the process could outlive the signal forever. With
# nothing to wait for it exits about 2 s after the signal.
EXIT_GRACE_S = 10.0
# A repeat of the signal within this many seconds is the same request (a wrapper passing on the Ctrl-C its terminal
# also sent here), not a second one.
REPEAT_S = 1.0


class RunActiveError(RuntimeError):
    """A run is already training; only one runs at a time."""


class TrainingManager:
    def __init__(self, runs_root: str | Path | None = None) -> None:
        self.runs_root = Path(runs_root) if runs_root else None
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None
        self._thread: threading.Thread | None = None
        self._exit_lock = threading.Lock()
        self._announced: Trainer | None = None  # the run `shutdown` has already said it stops

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

        Called for the shared manager by SignalSave as the signal arrives and again at exit (atexit), so stopping the
        server (Ctrl-C, SIGTERM) loses nothing since the last checkpoint: the worker is a daemon thread, still alive
        when atexit handlers run. Says on `log` (stderr) what it waits for, once per run, since a server that does
        not exit at once looks hung. True when no run is left.
        """
        trainer = self._trainer
        if trainer is None or not self.active:
            return True
        with self._exit_lock:
            announced, self._announced = self._announced is trainer, trainer
        if announced:  # a second call (atexit after the signal's save): the stop is asked, wait for it quietly
            return self.join(wait)
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


class SignalSave:
    """SIGTERM and SIGINT save the run at once, then go on to the handlers they replaced (Streamlit's stop the server).

    The atexit save comes too late for a server: the interpreter exits only once Streamlit's server has closed every
    connection, which it waits for without a limit, so a server stopped with a page open could keep its run unsaved
    for ever. Here the signal stops the run (it saves a checkpoint at its current step) in a thread, at once, and the
    replaced handler runs as before; once the run is saved the process gets `grace_s` to exit by itself, then it ends
    anyway. A second signal, `REPEAT_S` or more after the first, quits at once.
    """

    def __init__(self, manager: TrainingManager, *, wait: float = SHUTDOWN_WAIT_S, grace_s: float = EXIT_GRACE_S,
                 log: TextIO | None = None, exit_process: Callable[[int], Any] = os._exit) -> None:
        self.manager, self.wait, self.grace_s, self.log = manager, wait, grace_s, log
        self._exit = exit_process  # os._exit: what is left hanging by then is the interpreter's own exit
        self.previous: dict[int, Any] = {}
        self.first_at: float | None = None
        self.saved = threading.Event()  # the save is over (the run stopped, or `wait` passed)

    def install(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Take over these signals, keeping the handlers they had; main thread only (signal.signal's rule)."""
        for sig in signals:
            if signal.getsignal(sig) is not signal.SIG_IGN:  # an ignored signal stays ignored
                self.previous[sig] = signal.signal(sig, self.handle)

    def uninstall(self) -> None:
        """Give the signals back the handlers they had."""
        for sig, handler in self.previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        self.previous.clear()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: start the save in a thread and hand the signal on; a second signal quits at once."""
        now = time.monotonic()
        if self.first_at is not None:
            if now - self.first_at >= REPEAT_S:
                self._quit(signum)
            return  # within REPEAT_S: the same request
        self.first_at = now
        previous = self.previous.get(signum)
        # A handler to hand on to stops the server, which then exits by itself (or not: the grace); without one the
        # signal's default action, ending the process, comes once the run is saved.
        grace, code = (self.grace_s, 0) if callable(previous) else (0.0, 128 + signum)
        threading.Thread(target=self._save_then_exit, args=(grace, code), name="gan-signal-save", daemon=True).start()
        if callable(previous):
            previous(signum, frame)

    def _save_then_exit(self, grace: float, code: int) -> None:
        """Stop and save the run (up to `wait` s), then give the process `grace` s to exit by itself."""
        stopped = self.manager.shutdown(self.wait, self.log)
        self.saved.set()
        time.sleep(grace)  # the process normally exits during this sleep, and this daemon thread with it
        if grace:
            kept = "" if stopped else " (the run had not stopped: it keeps the files written so far)"
            self._say(f"the server had not exited {grace:.0f} s after the signal's save (it waits for every open "
                      f"connection to close, without a limit); exiting now{kept}.")
        self._exit(code)

    def _quit(self, signum: int) -> None:
        if self.saved.is_set():
            self._say("a second signal: exiting now.")
            self._exit(0)
            return
        self._say("a second signal: exiting without waiting for the run to save; it keeps the files written so far, "
                  "its last checkpoint included.")
        self._exit(128 + signum)

    def _say(self, text: str) -> None:
        """One line on `log`, else straight on fd 2: a signal handler must not re-enter stderr's buffered writer."""
        line = f"Fashion GAN Studio: {text}\n"
        if self.log is not None:
            self.log.write(line)
            self.log.flush()
        else:
            os.write(2, line.encode())


_signal_save: SignalSave | None = None


def install_signal_save(manager: TrainingManager | None = None) -> bool:
    """Have SIGTERM and SIGINT save the shared (or this) manager's run at once: SignalSave, once per process.

    For a server, on its main thread, after the server has installed its own handlers (they are kept and called
    after the save starts). True when this call installed it. Nothing in gan_core calls it: the CLI has its own
    handlers (gan_core.cli.train) and a test importing gan_core gets none; the Streamlit app calls it from its event
    loop (ui/state.py), with atexit still the fallback.
    """
    global _signal_save
    if _signal_save is not None or threading.current_thread() is not threading.main_thread():
        return False
    _signal_save = SignalSave(manager or shared_manager())
    _signal_save.install()
    return True
