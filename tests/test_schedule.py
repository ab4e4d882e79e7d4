"""One schedule: the budget and the speed estimate count the steps the trainer takes (GanStep)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_core.config import ConfigError, TrainConfig
from gan_core.data import class_index, load_split
from gan_core.schedule import Schedule, train_images
from gan_core.step import GanStep
from tests.conftest import needs_data

SMALL = dict(width=0.125, latent_dim=8, grid_size=4, threads=1)
CONFIGS = [  # (config, images, batch, steps per epoch, total steps), the last three worked out by hand
    (TrainConfig(**SMALL, batch_size=64, epochs=2), 60_000, 64, 937, 1_874),
    (TrainConfig(**SMALL, batch_size=64, epochs=1000, classes=("Ankle boot",), max_steps=56_220), 6_000, 64, 93, 56_220),
    (TrainConfig(**SMALL, batch_size=100, epochs=3, classes=("Bag", "Sneaker"), max_images=7_000), 7_000, 100, 70, 210),
    (TrainConfig(**SMALL, batch_size=256, epochs=5, classes=("Bag",), max_images=100), 100, 100, 1, 5),  # batch > data
    (TrainConfig(**SMALL, batch_size=32, epochs=4, max_images=1_000, max_steps=50), 1_000, 32, 31, 50),
    (TrainConfig(**SMALL, batch_size=4096, epochs=1, classes=("Shirt",)), 6_000, 4096, 1, 1),
]


@pytest.mark.parametrize(("cfg", "images", "batch", "per_epoch", "total"), CONFIGS)
def test_the_schedule_is_the_trainers(cfg, images, batch, per_epoch, total, runs_root):
    s = Schedule.of(cfg, train_images(cfg))
    assert (s.images, s.batch, s.steps_per_epoch, s.total_steps) == (images, batch, per_epoch, total)
    gan = GanStep(cfg, torch.zeros(images, 1, 28, 28), torch.zeros(images, dtype=torch.long),
                  device=torch.device("cpu"))
    assert (gan.batch, gan.schedule.steps_per_epoch, gan.schedule.total_steps) == (s.batch, s.steps_per_epoch,
                                                                                   s.total_steps)


@needs_data
@pytest.mark.parametrize("cfg", [c for c, *_ in CONFIGS])
def test_train_images_counts_what_the_trainer_loads(cfg):
    """The trainer's _setup loads these images; train_images counts them without loading."""
    data = load_split("train", classes=cfg.classes or None, max_images=cfg.max_images or None)
    assert len(data.labels) == train_images(cfg)
    if cfg.classes:
        assert set(np.unique(np.asarray(data.labels)).tolist()) <= {class_index(c) for c in cfg.classes}


def test_epochs_and_their_ends_follow_the_trainers_counting():
    s = Schedule.of(TrainConfig(batch_size=64, epochs=3, max_images=1_000, max_steps=40), 1_000)  # 15 an epoch
    assert s.steps_per_epoch == 15 and s.full_epochs == 2 and s.epochs_begun == 3
    assert [s.epoch_of(k) for k in (1, 15, 16, 40)] == [1, 1, 2, 3]
    assert [k for k in range(1, 41) if s.ends_epoch(k)] == [15, 30]


def test_no_images_is_refused_with_what_to_change():
    with pytest.raises(ConfigError, match="no training images"):
        Schedule.of(TrainConfig(), 0)

