"""`python -m gan_core train ...` for one rank of a two-process run, with a fault injected into rank 1's setup.

tests/test_distributed.py starts two of these with the environment torchrun would set (RANK, WORLD_SIZE,
MASTER_ADDR, ...). GAN_TEST_FAULT, read only here, gives rank 1 another copy of the data as a second machine might
have: "count" drops its last image, "content" changes one pixel, "missing" finds no data set at all.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import Any

from gan_core import launch
from gan_core.cli import main
from gan_core.data import DatasetNotFoundError


def other_copy(fault: str) -> Any:
    real = launch.load_split

    def load_split(*args: Any, **kwargs: Any) -> Any:
        if fault == "missing":
            raise DatasetNotFoundError("Fashion-MNIST not found in /nonexistent (fault injected by the test)")
        data = real(*args, **kwargs)
        images, labels = data.images.copy(), data.labels
        if fault == "count":
            images, labels = images[:-1], labels[:-1]
        else:
            images[7, 0, 0] = 255 - images[7, 0, 0]
        return replace(data, images=images, labels=labels)

    return load_split


if __name__ == "__main__":
    fault = os.environ.get("GAN_TEST_FAULT", "")
    if fault and os.environ.get("RANK") == "1":
        launch.load_split = other_copy(fault)
    sys.exit(main(sys.argv[1:]))
