"""A run's schedule: how many images an epoch has, the batch, the steps per epoch and in total.

One home, so that the disk budget, the speed estimate and the trainer count the same steps: the budget once
assumed 60,000 images an epoch whatever `classes` said, and admitted a one-class run that would write ten times
the checkpoints it had counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gan_core.config import ConfigError, TrainConfig

IMAGES_PER_CLASS = 6_000  # Fashion-MNIST's training split holds exactly this many images of each class
NUM_CLASSES = 10


def train_images(cfg: TrainConfig) -> int:
    """How many images the run trains on, counted without loading them: its classes' images, capped by max_images.

    The same count as `gan_core.data.load_split(classes=..., max_images=...)` gives for the real training split.
    """
    n = IMAGES_PER_CLASS * (len(cfg.classes) or NUM_CLASSES)
    return min(n, cfg.max_images) if cfg.max_images else n


@dataclass(frozen=True)
class Schedule:
    """The steps a run takes over `images` training images. Every step is a full batch: an epoch is
    images // batch steps (the remainder of a shuffled epoch is left out), and a batch larger than the data
    trains on all of it."""

    images: int           # training images an epoch
    batch: int            # images per step (the global batch, over every process)
    steps_per_epoch: int
    total_steps: int      # epochs x steps_per_epoch, or max_steps when that is smaller

    @classmethod
    def of(cls, cfg: TrainConfig, n_images: int) -> Schedule:
        """The schedule of `cfg` over `n_images` images (`train_images(cfg)` before the data is loaded)."""
        if n_images < 1:
            raise ConfigError("the run has no training images: check “Train on classes” and “Max training images”")
        batch = min(cfg.batch_size, n_images)  # a 100-image subset with batch 256 trains on all 100
        steps_per_epoch = n_images // batch
        total = cfg.epochs * steps_per_epoch
        return cls(n_images, batch, steps_per_epoch, min(total, cfg.max_steps) if cfg.max_steps else total)

    @property
    def full_epochs(self) -> int:
        """Epochs completed by the last step (the last may end partway through one when max_steps stops it)."""
        return self.total_steps // self.steps_per_epoch

    @property
    def epochs_begun(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def epoch_of(self, step: int) -> int:
        """The 1-based epoch that step `step` (1-based, as the loop counts after a step) belongs to."""
        return (step - 1) // self.steps_per_epoch + 1

    def ends_epoch(self, step: int) -> bool:
        return step % self.steps_per_epoch == 0
