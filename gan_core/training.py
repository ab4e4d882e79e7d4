"""The loop: set a run up, take its steps, record what is due after each, and end it in a named state.

The parts it schedules each have a home of their own, as in StyleGAN3's training loop and lightweight-gan's
step/driver split:
- the step (networks, optimisers, EMA, `train_step`): `gan_core.step.GanStep`;
- the run's folder and what is written to it: `gan_core.recorder.RunRecorder` (one process records);
- what other threads read and ask for (snapshot, pause, resume, stop): `gan_core.live`;
- the cadences below: when a metrics row, an evaluation, a heartbeat, a grid or a checkpoint is due.

`Trainer.run()` blocks until the run has ended and never raises for a failed run: every way out (finished, stopped,
a non-finite loss, an exception in any phase) goes through `_end`, which leaves the folder and the snapshot in a
named state. The process world is decided once, in `__init__`: one process trains with `OneProcess` and never
enters `gan_core.distributed`; under torchrun `gan_core.launch` sets the ranks up and `Ranks` splits the work.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from gan_core import distributed, stepview
from gan_core.budget import Budget
from gan_core.config import TrainConfig
from gan_core.distributed import World
from gan_core.launch import Launch
from gan_core.live import Controls, EtaClock, LiveState, Snapshot
from gan_core.models import Discriminator, Generator, copy_without_streams
from gan_core.recorder import RunRecorder
from gan_core.runs import HEARTBEAT_S, RunStatus
from gan_core.step import GanStep, learning_rates

__all__ = ["Snapshot", "Trainer", "evaluate"]


class NonFiniteLoss(RuntimeError):
    """A step's loss is NaN or infinite: the run cannot go on from these weights."""


@dataclass(frozen=True)
class Tick:
    """What the cadences are told after each step."""

    step: int
    total: int
    end_of_epoch: bool
    stats: dict[str, float]
    row: dict[str, float] = field(default_factory=dict)  # the metrics row's extra columns (an evaluation's)


def row_due(step: int, total: int, log_every: int) -> bool:
    """Whether the step numbered `step` writes a metrics row: every `log_every` steps, and the last."""
    return step % log_every == 0 or step == total


def evaluate(g: Generator, cfg: TrainConfig) -> dict[str, float]:
    """The in-training evaluation (FID and class coverage on `eval_samples` images)."""
    from gan_core import metrics  # heavy (classifier, reference statistics): only when asked for

    return metrics.quick_evaluate(g, n=cfg.eval_samples, seed=cfg.seed, classes=cfg.classes)


# ---------------------------------------------------------------------------------------------- the cadences
class Cadence(Protocol):
    phase: str  # what the run is doing while this runs, for the message if it fails there

    def __call__(self, tick: Tick) -> None: ...


class Evaluation:
    """FID and coverage every `eval_every` steps, at a step that writes a metrics row (into that row)."""

    phase = "evaluating FID and coverage"

    def __init__(self, gan: GanStep, rows: MetricsRows) -> None:
        self.gan, self.rows, self.every = gan, rows, gan.config.eval_every

    def __call__(self, tick: Tick) -> None:
        if self.every and tick.step % self.every == 0 and self.rows.due(tick):
            tick.row.update(evaluate(self.gan.sampler, self.gan.config))


class MetricsRows:
    """A row of metrics.csv every `log_every` steps and at the last: the mean of the steps since the last row."""

    phase = "logging metrics"

    def __init__(self, rec: RunRecorder, gan: GanStep, clock: Callable[[], dict[str, float]]) -> None:
        self.rec, self.gan, self.clock, self.pending = rec, gan, clock, []

    def due(self, tick: Tick) -> bool:
        return row_due(tick.step, tick.total, self.gan.config.log_every)

    def __call__(self, tick: Tick) -> None:
        self.pending.append(tick.stats)
        if not self.due(tick):
            return
        # The mean of each statistic over the steps that have it (the gradient norms: the row's own step alone).
        keys = dict.fromkeys(k for p in self.pending for k in p)
        row = {k: float(np.mean([p[k] for p in self.pending if k in p])) for k in keys}
        row.update(step=tick.step, epoch=self.gan.schedule.epoch_of(tick.step), **self.clock(), **tick.row)
        row["lr_g"], row["lr_d"] = learning_rates(self.gan.config, tick.step - 1)  # what the row's last step took
        self.pending.clear()
        self.rec.metrics(row, classes_trained=len(self.gan.label_pool))


class Heartbeat:
    """status.json rewritten every HEARTBEAT_S seconds, so a listing knows this process is alive."""

    phase = "logging metrics"

    def __init__(self, rec: RunRecorder, clock: Callable[[], dict[str, float]]) -> None:
        self.rec, self.clock, self.last = rec, clock, time.monotonic()

    def __call__(self, tick: Tick) -> None:
        if time.monotonic() - self.last >= HEARTBEAT_S:
            self.rec.heartbeat(status=RunStatus.RUNNING, step=tick.step, total_steps=tick.total,
                               wall_time_s=round(self.clock()["time_s"], 3))
            self.last = time.monotonic()


class Grids:
    """The fixed-noise grid every `sample_every` steps (or each epoch), and every `grid_every_s` seconds, so the
    live view moves from the first seconds."""

    phase = "drawing a sample grid"

    def __init__(self, rec: RunRecorder, gan: GanStep) -> None:
        self.rec, self.gan, self.last = rec, gan, (-1, time.monotonic())

    def draw(self) -> None:
        self.last = (self.gan.step, time.monotonic())
        self.rec.grid(self.gan)

    def __call__(self, tick: Tick) -> None:
        cfg, (last_step, last_t) = self.gan.config, self.last
        if last_step == tick.step:
            return
        due = tick.step % cfg.sample_every == 0 if cfg.sample_every else tick.end_of_epoch
        if due or (cfg.grid_every_s and time.monotonic() - last_t >= cfg.grid_every_s):
            self.draw()


class Checkpoints:
    """A checkpoint every `checkpoint_every` epochs, at the epoch's end."""

    phase = "saving a checkpoint"

    def __init__(self, rec: RunRecorder, gan: GanStep, wall: Callable[[], float]) -> None:
        self.rec, self.gan, self.wall = rec, gan, wall

    def __call__(self, tick: Tick) -> None:
        every, spe = self.gan.config.checkpoint_every, self.gan.schedule.steps_per_epoch
        if every and tick.end_of_epoch and (tick.step // spe) % every == 0:
            self.rec.checkpoint(self.gan, self.wall())


# ---------------------------------------------------------------------------------------------- the trainer
class Trainer:
    def __init__(self, config: TrainConfig, *, runs_root: str | Path | None = None, resume: str | Path | None = None,
                 world: World | None = None) -> None:
        """`resume`: a run folder (continue from its latest checkpoint) or one checkpoint file.

        Resuming from a checkpoint older than the run's latest forks a new run, so the later history is kept.
        `world`: this process's rank under torchrun (default: one process), decided here once.
        """
        world = world or World()
        self.solo = not world.distributed
        self.live = LiveState(config)
        self.controls = Controls()
        self._weights_lock = threading.Lock()
        self.gan: GanStep | None = None
        self.wall_time, self.rate = 0.0, 0.0  # seconds spent in steps; images/s, smoothed
        self._paused = False  # inside a pause (single steps included)
        self.phase = "starting"  # what the worker is doing, for the message if it fails there
        # Refused here, before a folder exists, when it would not fit the machine (BudgetError names what to change);
        # a resume is checked against the config that trains, once it is known.
        self.launch = Launch(config, runs_root=Path(runs_root) if runs_root else None,
                             resume=Path(resume) if resume else None, world=world, live=self.live)

    # ------------------------------------------------------------------ what setup made (gan_core.launch)
    @property
    def config(self) -> TrainConfig:
        """The config that trains: the one given, or, once set up, a resume's (the saved run's, with its changes)."""
        return self.launch.config

    @property
    def budget(self) -> Budget | None:
        return self.launch.budget

    @property
    def recorder(self) -> RunRecorder | None:
        """Rank 0's, once the run's folder is locked: nothing is written before."""
        return self.launch.recorder

    # ------------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self.controls.pause()

    def resume(self) -> None:
        self.controls.resume()

    def stop(self) -> None:
        self.controls.stop()

    def snapshot(self) -> Snapshot:
        return self.live.snapshot()

    @property
    def step(self) -> int:
        return self.gan.step if self.gan is not None else 0

    def generator_copy(self) -> tuple[Generator, int] | None:
        """A copy of the generator the grids use (the EMA copy when there is one) and its step; None before setup.

        Taken between two training steps, so the weights are those of one step; the copy is the caller's (on the
        CPU, in eval mode) and training goes on untouched.
        """
        with self._weights_lock:
            if self.gan is None:
                return None
            return copy.deepcopy(self.gan.sampler).cpu().eval(), self.gan.step

    def discriminator_copy(self) -> tuple[Discriminator, int] | None:
        """A copy of D (CPU, eval mode, without the run's dropout stream) and its step, taken between two steps;
        None before setup. What the Live tab's "what D sees" reads: the run's own D is never touched."""
        with self._weights_lock:
            if self.gan is None:
                return None
            d = copy_without_streams(self.gan.D)
            return d.cpu().eval(), self.gan.step  # type: ignore[return-value]

    # ------------------------------------------------------------------ the one way in and out
    def run(self, on_step: Callable[[Snapshot], None] | None = None) -> Snapshot:
        """Train until done, stopped or failed; returns the final snapshot. Never raises for a failed run.

        Any exception in any phase (setup, a step, logging, evaluation, a grid, a checkpoint, the finish) ends the
        run as "failed" with a message naming the phase, the error and what is kept, so no view is left showing a
        run as active whose worker has died.
        """
        self.phase = "setting up the run"
        try:
            self.gan, self.wall_time = self.launch.setup(), self.launch.wall_time
            status, message = self._fit(on_step)
        except Exception as exc:
            status, message = RunStatus.FAILED, self._failure(exc)
        finally:
            if self.launch.run_lock is not None:  # the process ending would release it too; a server lives on
                self.launch.run_lock.release()
            if not self.solo:
                distributed.close(self.launch.world)
        return self._end(status, message)

    def _end(self, status: str, message: str) -> Snapshot:
        self.controls.close()  # whoever waits for a single step is told the run ended
        finished = status == RunStatus.FINISHED
        if self.recorder is not None:
            with contextlib.suppress(OSError):  # the run folder may be what failed (deleted, disk full)
                self.recorder.end(status, self.step, message, None if status == RunStatus.FAILED else self.wall_time)
        self.live.publish(status=status, message=message, **({"eta_s": 0.0} if finished else {}))
        return self.snapshot()

    def _failure(self, exc: Exception) -> str:
        """What went wrong, in which phase, and what the folder keeps."""
        kept = None
        with contextlib.suppress(OSError):
            kept = self.recorder.latest_checkpoint() if self.recorder is not None else None
        if isinstance(exc, NonFiniteLoss):
            return (f"{exc} at step {self.step}: the run stopped. "
                    + (f"The last good checkpoint ({kept.name}) is kept; resume from it with a lower learning rate. "
                       if kept else "No checkpoint had been saved yet. ")
                    + "Lower learning rates, a logit output or spectral norm usually help.")
        known = isinstance(exc, (ValueError, OSError))  # their messages already say what to do
        what = str(exc) if known else f"{type(exc).__name__}: {exc}"
        if self.phase == "setting up the run":
            return what
        return (f"the run stopped at step {self.step:,} while {self.phase}: {what}. "
                + (f"Kept: every file written before, up to the checkpoint {kept.name}; resume from it on the "
                   "Train page's Checkpoints tab or with `python -m gan_core train --resume`."
                   if kept else "No checkpoint had been saved yet; the run's other files are kept."))

    # ------------------------------------------------------------------ the loop
    def _fit(self, on_step: Callable[[Snapshot], None] | None) -> tuple[str, str]:
        """The steps, and after each the cadences that are due (rank 0 only: the others only train)."""
        gan, rec = self.gan, self.recorder
        assert gan is not None
        total = gan.schedule.total_steps
        self.live.publish(status=RunStatus.RUNNING)
        cadences, eta, stop = self._cadences(), EtaClock(gan.step), False
        while gan.step < total and not stop:
            if self.solo and self.controls.stop_requested:
                break
            if self.controls.pause_requested and rec is not None and self.solo:  # pausing is the app's, one process
                if self._pause(rec):  # one step asked for while paused: take it, show it, stay paused
                    was = stepview.before(gan)
                    stats, stop = self._advance(cadences, eta, total)
                    self.controls.step_done(stepview.report(gan, was, stats))
                else:
                    eta = EtaClock(gan.step)  # a pause is not training time
                continue
            stats, stop = self._advance(cadences, eta, total)
            if on_step is not None:
                on_step(self.snapshot())
        return self._finish(total)

    def _advance(self, cadences: list[Cadence], eta: EtaClock, total: int) -> tuple[dict[str, float], bool]:
        """One step, then what is due after it; returns its statistics and whether the ranks agreed to stop."""
        gan = self.gan
        assert gan is not None
        # ---- the step, timed; under torchrun every rank's mean statistics and whether any was asked to stop
        self.phase = "training a step"
        t0 = time.perf_counter()
        with self._weights_lock:  # a copy of G (generator_copy) is never taken halfway through an update
            stats = gan.train_step(measure=row_due(gan.step + 1, total, gan.config.log_every))
        stats, stop = gan.replicas.agree(stats, self.controls.stop_requested)
        dt = time.perf_counter() - t0
        self.wall_time += dt
        inst = gan.batch / max(dt, 1e-9)  # the global batch: images/s of the whole run
        self.rate = inst if self.rate == 0 else 0.9 * self.rate + 0.1 * inst
        if not (math.isfinite(stats["d_loss"]) and math.isfinite(stats["g_loss"])):
            bad = "d_loss" if not math.isfinite(stats["d_loss"]) else "g_loss"
            raise NonFiniteLoss(f"{'D' if bad == 'd_loss' else 'G'} loss became {stats[bad]}")
        # ---- what is due after it: a metrics row (with an evaluation), a heartbeat, a grid, a checkpoint
        tick = Tick(step=gan.step, total=total, end_of_epoch=gan.schedule.ends_epoch(gan.step), stats=stats)
        for cadence in cadences:
            self.phase = cadence.phase
            cadence(tick)
        # ---- what views see
        self.live.publish(step=gan.step, epoch=gan.schedule.epoch_of(gan.step), images_per_sec=self.rate,
                          elapsed_s=self.wall_time, eta_s=eta.update(gan.step, total), d_loss=stats["d_loss"],
                          g_loss=stats["g_loss"], d_real=stats["d_real"], d_fake=stats["d_fake"])
        return stats, stop

    def _cadences(self) -> list[Cadence]:
        """Rank 0's cadences, in the order they run after a step (the grid of step 0 drawn now); none elsewhere."""
        gan, rec = self.gan, self.recorder
        if rec is None or gan is None:
            return []
        rows = MetricsRows(rec, gan, lambda: {"time_s": round(self.wall_time, 3), "images_per_sec": self.rate})
        grids = Grids(rec, gan)
        if gan.step == 0:
            self.phase = grids.phase
            grids.draw()
        return [Evaluation(gan, rows), rows, Heartbeat(rec, lambda: {"time_s": self.wall_time}), grids,
                Checkpoints(rec, gan, lambda: self.wall_time)]

    def _pause(self, rec: RunRecorder) -> bool:
        """The one place a pause lives: on entering it, save (so closing the app while paused loses nothing); then
        wait, with a heartbeat, for a resume or a stop (False) or a request for one step (True: the run stays
        paused around it, and the next call waits again without saving)."""
        assert self.gan is not None
        if not self._paused:
            self.phase = "pausing (saving a checkpoint)"
            self.live.publish(status=RunStatus.PAUSED)  # first: the page shows the pause at once, the save follows
            if rec.saved_step != self.gan.step:
                rec.checkpoint(self.gan, self.wall_time)
            rec.heartbeat(status=RunStatus.PAUSED, step=self.gan.step)
            self._paused = True
        self.phase = "paused"
        if self.controls.wait_while_paused(HEARTBEAT_S, lambda: rec.heartbeat(status=RunStatus.PAUSED)):
            return True
        self._paused = False
        if not self.controls.stop_requested:
            self.live.publish(status=RunStatus.RUNNING)
            rec.heartbeat(status=RunStatus.RUNNING)
        return False

    def step_once(self, timeout: float = 600.0) -> stepview.StepReport:
        """Take exactly the next step of this paused run (the one it would have taken) and say what it did; the run
        stays paused. ValueError when the run is not paused, or ends or is resumed before taking it."""
        request = self.controls.step_once()
        if not request.done.wait(timeout):
            raise TimeoutError(f"the run did not take the step within {timeout:.0f} s (it is {self.phase})")
        if request.report is None:
            raise ValueError("the run was resumed, stopped or ended before it took the step")
        return request.report

    def _finish(self, total: int) -> tuple[str, str]:
        """A finished or stopped run leaves its last grid, checkpoint and GIF."""
        assert self.gan is not None
        self.phase = "finishing (last grid, checkpoint and GIF)"
        step, stopped = self.gan.step, self.gan.step < total
        if stopped:
            self.live.publish(status=RunStatus.STOPPING)
        if self.recorder is not None:
            self.recorder.last_of_run(self.gan, self.wall_time)
        if stopped:
            return RunStatus.STOPPED, f"stopped at step {step:,} of {total:,}"
        return RunStatus.FINISHED, f"finished {step:,} steps in {self.wall_time:.0f} s"
