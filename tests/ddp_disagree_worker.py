"""A torchrun worker for tests/test_distributed.py whose rank 1 holds other training data (a fault injected here).

`python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_disagree_worker.py RUNS_ROOT OUT_DIR
{count|content}`: rank 1 loses its last image ("count") or has one image changed ("content"), as a second machine
with another copy of the data set would; each rank writes OUT_DIR/rank<R>.json with its run's status and message.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from gan_core import training
from gan_core.config import TrainConfig
from gan_core.distributed import World
from gan_core.training import Trainer


def main() -> None:
    runs_root, out, fault = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    world = World.from_env()
    if world.rank == 1:
        real = training.load_split

        def other_copy(*args, **kwargs):
            data = real(*args, **kwargs)
            images, labels = data.images.copy(), data.labels
            if fault == "count":
                images, labels = images[:-1], labels[:-1]
            else:
                images[7, 0, 0] = 255 - images[7, 0, 0]
            return replace(data, images=images, labels=labels)

        training.load_split = other_copy
    config = TrainConfig(name="disagree", width=0.25, max_images=640, batch_size=64, epochs=3, grid_every_s=0,
                         grid_size=16, threads=1, seed=3, eval_every=0)
    snap = Trainer(config, runs_root=runs_root, world=world).run()
    (out / f"rank{world.rank}.json").write_text(json.dumps({"status": str(snap.status), "message": snap.message}))


if __name__ == "__main__":
    main()
