"""What other threads see of a run and how they steer it: the snapshot, the controls, the ETA.

The trainer's thread publishes; a page, the CLI's progress bar or a test reads `LiveState.snapshot()`, an immutable
copy taken under a lock, and asks for a pause, a resume or a stop through `Controls`. Neither side knows the other:
the trainer never knows who is watching, a view never holds a network.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gan_core.config import TrainConfig
from gan_core.runs import ACTIVE, RunStatus

MAX_HISTORY = 2000   # chart points kept in memory; older points are thinned
MAX_GRIDS = 60       # sample grids kept in memory; all of them stay on disk
ETA_WINDOW_S = 180.0  # the ETA's rate is measured over this much wall-clock time


@dataclass(frozen=True)
class Snapshot:
    """Everything a view needs, copied under the live state's lock."""

    status: str = RunStatus.IDLE  # a RunStatus: idle, starting, running, paused, stopping, finished, stopped, failed
    run_name: str = ""
    run_dir: str = ""
    step: int = 0
    total_steps: int = 0
    steps_per_epoch: int = 0
    epoch: int = 0
    epochs: int = 0
    images_per_sec: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    d_loss: float | None = None
    g_loss: float | None = None
    d_real: float | None = None
    d_fake: float | None = None
    message: str = ""
    history: tuple[dict[str, float], ...] = ()
    grids: tuple[tuple[int, np.ndarray], ...] = ()
    grid_source: str = ""       # which copy of G drew the grids: the EMA copy (with its decay now) or G itself
    compute: str = ""           # the device and the precision the steps run in (GanStep.compute)
    warnings: tuple[str, ...] = ()
    saved_step: int = -1        # the step of the run's newest checkpoint, -1 while it has none
    config: TrainConfig | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class LiveState:
    """The run as views see it: the latest snapshot fields, the chart history and the last grids, behind one lock."""

    def __init__(self, config: TrainConfig) -> None:
        self._lock = threading.Lock()
        self._snap = Snapshot(status=RunStatus.STARTING, config=config)
        self._history: list[dict[str, float]] = []
        self._grids: list[tuple[int, np.ndarray]] = []

    def snapshot(self) -> Snapshot:
        with self._lock:
            return replace(self._snap, history=tuple(self._history), grids=tuple(self._grids))

    def publish(self, **fields: Any) -> None:
        with self._lock:
            self._snap = replace(self._snap, **fields)

    def restore(self, history: list[dict[str, float]], grids: list[tuple[int, np.ndarray]]) -> None:
        """A resumed run's past, as its folder holds it."""
        with self._lock:
            self._history, self._grids = thin(history), grids[-MAX_GRIDS:]

    def add_row(self, row: dict[str, float]) -> tuple[list[dict[str, float]], list[np.ndarray]]:
        """Append a metrics row; returns the history and the grids as they now are (for the health checks)."""
        with self._lock:
            self._history.append(row)
            if len(self._history) > MAX_HISTORY:
                self._history = thin(self._history)
            return list(self._history), [g for _, g in self._grids]

    def add_grid(self, step: int, grid: np.ndarray, source: str) -> None:
        with self._lock:
            self._grids.append((step, grid))
            del self._grids[:-MAX_GRIDS]
            self._snap = replace(self._snap, grid_source=source)


class StepRequest:
    """One step asked of a paused run: `done` is set when it was taken (`report` then says what it did) or when the
    run was resumed or stopped first (`report` stays None)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.report: Any = None


class Controls:
    """Requests from other threads, honoured by the loop between two steps: pause, resume, stop, one step.

    The one place a pause lives: the loop asks `pause_requested` before each step and, when it is, waits in
    `wait_while_paused` (with a callback every `beat_s`, the run's heartbeat) until a resume, a stop or a request
    for a single step (`step_once`), which the loop takes, reports with `step_done`, and then pauses again.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = self._stop = False
        self._asked: list[StepRequest] = []       # single steps asked for while paused, in order
        self._taking: StepRequest | None = None   # the one the loop is taking

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        self._release(stop=False)

    def stop(self) -> None:
        self._release(stop=True)

    def _release(self, stop: bool) -> None:
        with self._cond:
            self._stop, self._paused = self._stop or stop, False
            waiting, self._asked = self._asked, []
            self._cond.notify_all()
        for request in waiting:  # not taken: the run goes on (or ends) by itself
            request.done.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def pause_requested(self) -> bool:
        return self._paused

    def step_once(self) -> StepRequest:
        """Ask a paused run for its next step (ValueError if it is not paused)."""
        request = StepRequest()
        with self._cond:
            if not self._paused or self._stop:
                raise ValueError("only a paused run takes a single step: pause it first")
            self._asked.append(request)
            self._cond.notify_all()
        return request

    def wait_while_paused(self, beat_s: float, beat: Any) -> bool:
        """Block until resumed, stopped or asked for one step, calling `beat()` every `beat_s` seconds meanwhile.

        True when one step was asked for (the loop takes it, then calls `step_done`); False otherwise."""
        while True:
            with self._cond:
                if not self._paused or self._stop:
                    return False
                if self._asked:
                    self._taking = self._asked.pop(0)
                    return True
                woken = self._cond.wait(timeout=beat_s)
            if not woken:
                beat()

    def close(self) -> None:
        """The run has ended: whoever still waits for a step is woken without a report."""
        with self._cond:
            waiting, self._asked = self._asked + ([self._taking] if self._taking else []), []
            self._taking = None
        for request in waiting:
            request.done.set()

    def step_done(self, report: Any) -> None:
        """The single step asked for is taken: its report goes to the caller, who is woken."""
        with self._cond:
            request, self._taking = self._taking, None
        if request is not None:
            request.report = report
            request.done.set()


class EtaClock:
    """Time left, from wall-clock progress (grids, logging and checkpoints included) over the last minutes.

    The per-step rate swings with every grid, checkpoint and browser refresh; steps per wall-clock second over a
    window of up to ETA_WINDOW_S, itself smoothed once a second, does not.
    """

    def __init__(self, step: int) -> None:
        self._marks: deque[tuple[float, int]] = deque([(time.monotonic(), step)])
        self._rate: float | None = None

    def update(self, step: int, total: int) -> float | None:
        now = time.monotonic()
        if now - self._marks[-1][0] >= 1.0:
            self._marks.append((now, step))
            while len(self._marks) > 2 and now - self._marks[1][0] >= ETA_WINDOW_S:
                self._marks.popleft()
            t0, s0 = self._marks[0]
            rate = (step - s0) / (now - t0)
            self._rate = rate if self._rate is None else 0.9 * self._rate + 0.1 * rate
        if not self._rate:
            return None
        return max(0.0, (total - step) / self._rate)


def thin(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """Keep at most MAX_HISTORY points: drop every other old point, always keep the newest half."""
    while len(history) > MAX_HISTORY:
        half = len(history) // 2
        history = history[:half][::2] + history[half:]
    return history
