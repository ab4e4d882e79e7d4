"""What logging gradient norms costs: the norms' own time against the training step's, on a preset's networks.

    .venv/bin/python benchmarks/grad_norm_cost.py [--preset studio-fast-deep] [--steps 60] [--rounds 3]

The trainer measures the norms (`gan_core.step.grad_norms`, G's and D's, whole and per layer) only on the steps that
write a metrics row, one in `log_every`. This times, in one process and interleaved so the machine's drift hits
both alike, the plain step and the norms taken right after one (the gradients are then what the trainer reads), and
prints the norms' share of training time at the preset's `log_every`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.runtime import set_threads
from gan_core.step import GanStep, grad_norms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--steps", type=int, default=60, help="steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cfg = preset_config(args.preset)
    set_threads(cfg.threads)
    images = torch.rand(cfg.batch_size * 8, 1, 28, 28) * 2 - 1
    gan = GanStep(cfg, images, torch.randint(0, 10, (len(images),)), device=torch.device("cpu"))
    for _ in range(5):
        gan.train_step()
    steps, norms = [], []
    for _ in range(args.rounds):
        for _ in range(args.steps):
            t0 = time.perf_counter()
            gan.train_step()
            t1 = time.perf_counter()
            grad_norms(gan.G, "g") | grad_norms(gan.D, "d")
            steps.append(t1 - t0)
            norms.append(time.perf_counter() - t1)
    step_ms, norm_ms = statistics.median(steps) * 1e3, statistics.median(norms) * 1e3
    share = norm_ms / (cfg.log_every * step_ms)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          f"{args.preset}, batch {cfg.batch_size}, {args.rounds} x {args.steps} steps")
    print(f"step {step_ms:.1f} ms (median), norms {norm_ms:.2f} ms (median) for "
          f"{len(grad_norms(gan.G, 'g')) + len(grad_norms(gan.D, 'd'))} numbers")
    print(f"at log_every {cfg.log_every}: {100 * share:.2f} % of training time")


if __name__ == "__main__":
    main()
