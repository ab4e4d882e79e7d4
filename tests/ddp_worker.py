"""A torchrun worker for tests/test_distributed.py: one tiny run, then this rank's digest of what it trained.

`python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_worker.py RUNS_ROOT OUT_DIR` trains the
run `ddp` under RUNS_ROOT like `python -m gan_core train` would, then each rank writes OUT_DIR/rank<R>.json with
SHA-256 digests of its G, its EMA copy of G, D's parameters and both Adam states, so the test can check that every
rank holds the same networks.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

from gan_core.config import TrainConfig
from gan_core.distributed import World
from gan_core.training import Trainer


def digest(tensors: list[tuple[str, torch.Tensor]]) -> str:
    h = hashlib.sha256()
    for name, t in tensors:
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def adam_state(opt: torch.optim.Optimizer) -> list[tuple[str, torch.Tensor]]:
    return [(f"{i}/{k}", v) for i, state in opt.state_dict()["state"].items() for k, v in sorted(state.items())]


def main() -> None:
    runs_root, out = Path(sys.argv[1]), Path(sys.argv[2])
    # The default recipe's networks (BatchNorm in G and D, class-conditional, EMA) and its R1 penalty, at a quarter
    # width. R1's input gradient is each rank's own (DDP does not all-reduce torch.autograd.grad); the backward
    # through it reaches D's weights and is all-reduced like the rest, which the identical digests check.
    config = TrainConfig(name="ddp", preset="studio-fast", conditional=True, dropout=0.0, ema=0.999, r1_gamma=0.1,
                         width=0.25, max_images=640, batch_size=64, epochs=3, sample_every=4, grid_every_s=0, log_every=1,
                         grid_size=16, threads=1, seed=3)
    world = World.from_env()
    trainer = Trainer(config, runs_root=runs_root, world=world)
    snap = trainer.run()
    gan = trainer.gan
    assert gan is not None and gan.G_ema is not None
    report = {
        "status": str(snap.status), "step": gan.step, "world_size": world.size,
        # G's buffers too: rank 0's BatchNorm statistics are broadcast before the EMA copies them.
        "G": digest(list(gan.G.state_dict().items())),
        "G_ema": digest(list(gan.G_ema.state_dict().items())),
        # D's parameters only: its BatchNorm statistics are each rank's own until the next forward broadcasts rank 0's.
        "D_params": digest(list(gan.D.named_parameters())),
        "opt_g": digest(adam_state(gan.opt_g)),
        "opt_d": digest(adam_state(gan.opt_d)),
    }
    (out / f"rank{world.rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
