"""How long a configuration will train, before it starts: a short timing of its real training step.

The Train page shows the estimate under the Start button. The step timed is the trainer's own
(`GanStep.train_step`, D and G updates, EMA, InfoGAN code and R1 included) on random images, so it needs no data
set and writes nothing; the trainer draws from its own generators, and torch's global RNG is forked besides.

A timing builds real networks inside the server, so it is guarded: one timing at a time in the process (two tabs
each timing a large config would otherwise hold two footprints at once and share the cores, which also skews both
rates; torch's thread count is process-wide, too), and none whose one step would not fit the memory available now.
A tab that finds another timing under way waits for it (a timing lasts a few seconds) up to PROBE_WAIT_S, then
gives up with ProbeUnavailable, and the page shows the run's steps without a measured rate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch

from gan_core import budget
from gan_core.config import TrainConfig
from gan_core.format import size
from gan_core.runtime import resolve_device, set_threads
from gan_core.schedule import Schedule, train_images
from gan_core.step import GanStep

PROBE_WAIT_S = 30.0      # how long a second timing waits for the one under way
PROBE_BATCHES = 4        # random images the timing trains on, in batches (a few, so batches differ)
_PROBE_LOCK = threading.Lock()  # one timing at a time, process-wide


class ProbeUnavailable(RuntimeError):
    """A step cannot be timed now: another timing is under way, or it would not fit the memory available."""


@dataclass(frozen=True)
class Estimate:
    images_per_sec: float
    total_steps: int
    seconds: float

    def text(self) -> str:
        return f"{self.total_steps:,} steps at about {self.images_per_sec:,.0f} images/s"


def probe_memory(cfg: TrainConfig) -> int:
    """Bytes a timing of `cfg` holds: one step's networks, optimiser states and activations, and its random images."""
    batch = Schedule.of(cfg, train_images(cfg)).batch
    return budget.step_memory(cfg) + _probe_images(cfg, batch) * 28 * 28 * budget.FLOAT_BYTES


def images_per_sec(cfg: TrainConfig, seconds: float = 1.5, warmup_steps: int = 1,
                   wait_s: float = PROBE_WAIT_S) -> float:
    """Time `cfg`'s training step for about `seconds` after a warm-up, on `cfg.threads` threads.

    At least one timed step: a network so large that one step takes longer than `seconds` is timed by that one
    step, so the page never waits long for a config it will then call slow. Raises ProbeUnavailable when another
    timing is still under way after `wait_s` or when this one would not fit the memory available now (checked
    once the other has ended and freed its memory); ConfigError or BudgetError when the run itself cannot train.
    """
    if not _PROBE_LOCK.acquire(timeout=wait_s):
        raise ProbeUnavailable(f"another tab has been timing a configuration for over {wait_s:.0f} s; this one is "
                               "timed when you change a field or reload the page")
    try:
        need, available = probe_memory(cfg), budget.memory_available()
        if need > budget.MEMORY_SHARE * available:
            raise ProbeUnavailable(f"timing one step would take about {size(need)} of memory, and "
                                   f"{size(available)} is available now")
        return _time_steps(cfg, seconds, warmup_steps)
    finally:
        _PROBE_LOCK.release()


def _time_steps(cfg: TrainConfig, seconds: float, warmup_steps: int) -> float:
    """The timing itself (the caller holds the probe lock)."""
    batch = Schedule.of(cfg, train_images(cfg)).batch
    images = torch.rand(_probe_images(cfg, batch), 1, 28, 28) * 2 - 1
    labels = torch.arange(len(images)) % 10  # every class alike, so each holds its share of the clusters
    with torch.random.fork_rng(devices=[]):
        before = torch.get_num_threads()
        set_threads(cfg.threads)
        try:
            probe = GanStep(cfg.replace(epochs=1, max_steps=0), images, labels, device=resolve_device(cfg.device))
            probe.wrap()  # as the trainer readies it (channels_last with bf16)
            for _ in range(warmup_steps):
                probe.train_step()
            steps, t0 = 0, time.perf_counter()
            while steps < 1 or time.perf_counter() - t0 < seconds:
                probe.train_step()
                steps += 1
            return steps * probe.batch / (time.perf_counter() - t0)
        finally:
            torch.set_num_threads(before)


def estimate(cfg: TrainConfig, rate: float) -> Estimate:
    """The whole run's steps and wall-clock seconds at `rate` training images per second."""
    schedule = Schedule.of(cfg, train_images(cfg))
    # The loop's own work (grids, metrics rows, checkpoints) is left out: on the default preset the whole loop ran
    # at 797 images/s over 10 minutes and this probe at 548-778 in the same session (benchmarks/README.md), so
    # the machine's drift, not the loop, decides how far off an estimate is.
    return Estimate(images_per_sec=rate, total_steps=schedule.total_steps,
                    seconds=schedule.total_steps * schedule.batch / rate)


def timing_key(cfg: TrainConfig) -> TrainConfig:
    """`cfg` without the fields that do not change a step's speed, so one timing serves all their values.

    `classes` and `max_images` go too, once their batch is kept: they change a step only through the batch.
    """
    batch = Schedule.of(cfg, train_images(cfg)).batch
    return cfg.replace(name="", epochs=1, max_steps=0, seed=0, lr_g=2e-4, lr_d=2e-4, sample_every=0,
                       checkpoint_every=0, keep_checkpoints=0, eval_every=0, classes=(), data_dir="",
                       batch_size=batch, max_images=0)


def _probe_images(cfg: TrainConfig, batch: int) -> int:
    """A few batches, and with `info_clusters` at least one image per cluster (in each of the 10 classes the probe's
    labels spread evenly, for a conditional run): the step clusters the images it is given."""
    clusters = cfg.info_codes * (10 if cfg.conditional else 1) if cfg.info_clusters else 0
    return max(max(batch, 2) * PROBE_BATCHES, clusters)
