"""What torchrun ranks compare before the first step (gan_core.distributed.Facts), without starting processes.

tests/test_distributed.py starts two real processes whose data differs; these check every kind of difference, the
message it gives and the size of what each rank sends.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_core.budget import BudgetError
from gan_core.config import TrainConfig
from gan_core.distributed import FACTS_BYTES, Facts, World, check_agreement, data_fingerprint, disagreements
from gan_core.training import Trainer

CONFIG = TrainConfig().to_dict()


def facts(**changes) -> Facts:
    base = {"images": 60000, "data": "ab" * 12, "schedule": (64, 938, 9380), "config": CONFIG, "step": 0}
    return Facts(**{**base, **changes})


def test_ranks_that_agree_have_nothing_to_say():
    assert disagreements([facts(), facts(), facts()]) == []


def test_other_data_is_named_by_its_count_then_by_its_contents_and_not_again_as_a_schedule():
    fewer = facts(images=59999, data="cd" * 12, schedule=(64, 938, 9370))
    assert disagreements([facts(), fewer]) == [
        "rank 1's training data differs from rank 0's (59,999 images vs 60,000): give every process the same copy "
        "of Fashion-MNIST (the same files under --data-dir, or at the default data location, on every machine)"]
    (problem,) = disagreements([facts(), facts(), facts(data="cd" * 12)])
    assert problem.startswith("rank 2's training data differs from rank 0's (the same 60,000 images, other contents)")


def test_the_config_the_schedule_and_the_step_name_what_differs_and_where():
    other = {**CONFIG, "lr_g": 1.0, "seed": 7}
    found = disagreements([facts(), facts(config=other, schedule=(64, 938, 1), step=30)])
    assert found[0].startswith("rank 1's schedule differs from rank 0's (batch, steps per epoch, total steps "
                               "[64, 938, 1] vs [64, 938, 9380])")
    assert found[1].startswith(f"rank 1's config differs from rank 0's in lr_g (1.0 vs {CONFIG['lr_g']!r}), "
                               f"seed (7 vs {CONFIG['seed']!r})")
    assert found[2].startswith("rank 1 starts at step 30, rank 0 at step 0")


def test_a_rank_that_cannot_train_says_why_and_is_not_compared():
    refused = Facts.unable("this run does not fit this machine: needs about 9 GB", CONFIG)
    assert disagreements([facts(), refused]) == ["rank 1 cannot train this run: this run does not fit this machine: "
                                                 "needs about 9 GB"]
    assert disagreements([refused, facts()]) == ["rank 0 cannot train this run: this run does not fit this machine: "
                                                 "needs about 9 GB"]


def test_what_a_rank_sends_fits_the_one_all_gather_and_long_values_travel_as_digests():
    a = facts(config={**CONFIG, "data_dir": "/data/" + "x" * 5000}, problem="y" * 10**6)
    b = facts(config={**CONFIG, "data_dir": "/data/" + "x" * 4999 + "z"})
    assert len(facts().encode()) < FACTS_BYTES // 4
    assert len(a.encode()) <= FACTS_BYTES
    back = Facts.decode(a.encode() + b"\0" * 100)
    assert back.schedule == (64, 938, 9380) and back.config["data_dir"].startswith("digest ")
    assert disagreements([Facts.decode(b.encode()), Facts.decode(facts(config=a.config).encode())])[0].startswith(
        "rank 1's config differs from rank 0's in data_dir ('digest ")


def test_the_fingerprint_tells_one_changed_pixel_or_label_or_a_missing_image_apart():
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (600, 28, 28), dtype=np.uint8), rng.integers(0, 10, 600)
    same = data_fingerprint(images.copy(), labels.copy())
    assert same == data_fingerprint(images, labels) == data_fingerprint(torch.from_numpy(images),
                                                                        torch.from_numpy(labels))
    pixel = images.copy()
    pixel[7, 0, 0] ^= 1
    label = labels.copy()
    label[3] = (label[3] + 1) % 10
    others = {data_fingerprint(pixel, labels), data_fingerprint(images, label), data_fingerprint(images[:-1], labels[:-1]),
              data_fingerprint(images.astype(np.int16), labels)}
    assert same not in others and len(others) == 4


def test_one_process_compares_nothing():
    """No process group exists here: any collective would raise."""
    check_agreement(World(), facts(images=1))


def test_only_the_rank_that_creates_the_folder_budgets_the_command_line_config(tiny_config, runs_root):
    """The other ranks train the config rank 0 sends, so that is the one they budget (in setup), not their own."""
    huge = tiny_config.replace(arch="tf-tutorial", width=8.0, batch_size=4096, max_images=0)
    with pytest.raises(BudgetError):
        Trainer(huge, runs_root=runs_root, world=World(rank=0, size=2))
    assert Trainer(huge, runs_root=runs_root, world=World(rank=1, size=2)).budget is None
    assert not runs_root.exists() or not any(runs_root.iterdir())
