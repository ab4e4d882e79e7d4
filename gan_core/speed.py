"""How long a configuration will train, before it starts: a short timing of its real training step.

The Train page shows the estimate under the Start button. The step timed is the trainer's own
(`Trainer.train_step`, D and G updates, EMA, InfoGAN code and R1 included) on random images, so it needs no data
set and writes nothing; torch's global RNG is forked, so a run training in the same process draws the same noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from gan_core.config import TrainConfig
from gan_core.runtime import set_threads
from gan_core.training import Trainer

IMAGES_PER_CLASS = 6_000  # Fashion-MNIST's training split


@dataclass(frozen=True)
class Estimate:
    images_per_sec: float
    total_steps: int
    seconds: float

    def text(self) -> str:
        return f"{self.total_steps:,} steps at about {self.images_per_sec:,.0f} images/s"


def training_images(cfg: TrainConfig) -> int:
    """How many training images the run will use (before loading them)."""
    n = IMAGES_PER_CLASS * (len(cfg.classes) or 10)
    return min(n, cfg.max_images) if cfg.max_images else n


def images_per_sec(cfg: TrainConfig, seconds: float = 1.5, warmup_steps: int = 1) -> float:
    """Time `cfg`'s training step for about `seconds` after a warm-up, on `cfg.threads` threads.

    At least one timed step: a network so large that one step takes longer than `seconds` is timed by that one
    step, so the page never waits long for a config it will then call slow.
    """
    probe = Trainer(cfg.replace(epochs=1, max_steps=0))
    batch = min(cfg.batch_size, training_images(cfg))
    images = torch.rand(max(batch, 2) * 4, 1, 28, 28) * 2 - 1
    with torch.random.fork_rng(devices=[]):
        before = torch.get_num_threads()
        set_threads(cfg.threads)
        try:
            probe.prepare(images, torch.randint(0, 10, (len(images),)))
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
    batch = min(cfg.batch_size, training_images(cfg))
    total = cfg.epochs * (training_images(cfg) // batch)
    total = min(total, cfg.max_steps) if cfg.max_steps else total
    # The loop's own work (grids, metrics rows, checkpoints) is left out: on the default preset the whole loop ran
    # at 797 images/s over 10 minutes and this probe at 548-778 in the same session (benchmarks/README.md), so
    # the machine's drift, not the loop, decides how far off an estimate is.
    return Estimate(images_per_sec=rate, total_steps=total, seconds=total * batch / rate)


def timing_key(cfg: TrainConfig) -> TrainConfig:
    """`cfg` without the fields that do not change a step's speed, so one timing serves all their values."""
    return cfg.replace(name="", epochs=1, max_steps=0, seed=0, lr_g=2e-4, lr_d=2e-4, sample_every=0,
                       checkpoint_every=0, keep_checkpoints=0, eval_every=0, classes=(), data_dir="")
