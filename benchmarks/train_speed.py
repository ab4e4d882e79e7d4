"""Images/s of one training step (one D + one G update) per architecture, and per thread count.

    .venv/bin/python benchmarks/train_speed.py [--threads 1 2] [--batch-size 64] [--seconds 4] [--busy]
        [--arch dcgan-deep] [--dropout 0] [--d-width 0 1.5 2] [--r1-gamma 0.1]

Each architecture runs at its default settings on real Fashion-MNIST batches for a
fixed wall time after a warm-up. The first thread count listed is the baseline
of the ratio column; with several `--d-width` values, the first is also the baseline of a
ratio against it in the same run. `--busy` starts a process that keeps one core busy, which is
what the trainer meets inside the app (the Streamlit server works beside it).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from gan_core.config import TrainConfig
from gan_core.data import load_split
from gan_core.losses import discriminator_loss, generator_loss, r1_penalty
from gan_core.models import ARCHITECTURES, build_discriminator, build_generator, summarize


def _spin(stop: mp.Event) -> None:  # type: ignore[valid-type]
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def measure(arch: str, threads: int, batch: int, seconds: float, real: torch.Tensor, dropout: float = 0.3,
            d_width: float = 0.0, r1_gamma: float = 0.0) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = TrainConfig(arch=arch, batch_size=batch, dropout=dropout, d_width=d_width).model_config()
    g, d = build_generator(cfg), build_discriminator(cfg)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))

    def step(i: int) -> None:
        x = real[(i * batch) % (len(real) - batch):][:batch].requires_grad_(r1_gamma > 0)
        fake = g(torch.randn(batch, cfg.latent_dim))
        out_real = d(x)
        loss_d = discriminator_loss("bce", out_real, d(fake.detach()))
        if r1_gamma > 0:  # as the trainer does: the penalty's double backward through D on the real batch
            loss_d = loss_d + r1_penalty(out_real, x, r1_gamma)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = generator_loss("bce", d(fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    for i in range(3):
        step(i)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(n)
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--arch", nargs="+", default=list(ARCHITECTURES))
    ap.add_argument("--dropout", type=float, default=0.3, help="D dropout (studio-deep uses 0)")
    ap.add_argument("--d-width", type=float, nargs="+", default=[0.0], help="D width multipliers (0: as G)")
    ap.add_argument("--r1-gamma", type=float, default=0.0, help="R1 penalty weight (the default preset: 0.1)")
    ap.add_argument("--busy", action="store_true", help="keep one other core busy while measuring")
    args = ap.parse_args()

    real = load_split("train", max_images=4096).to_tensor()
    stop = mp.Event()
    spinner = mp.Process(target=_spin, args=(stop,), daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    try:
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"batch {args.batch_size}, R1 {args.r1_gamma:g}, {args.seconds:.0f} s per cell, other core busy: {args.busy}, "
              f"load average {os.getloadavg()[0]:.1f}")
        head = f"{'arch':<17}{'d_width':>8}{'G params':>10}{'D params':>10}"
        head += "".join(f"{f'{t} thr img/s':>14}" for t in args.threads)
        head += "".join(f"{f'{t}/{args.threads[0]} thr':>11}" for t in args.threads[1:])
        print(head + (f"{'vs first d_width':>18}" if len(args.d_width) > 1 else ""))
        for arch in args.arch:
            base: float | None = None
            for d_width in args.d_width:
                cfg = TrainConfig(arch=arch, d_width=d_width).model_config()
                g_params, d_params = summarize(build_generator(cfg)).total, summarize(build_discriminator(cfg)).total
                rates = [measure(arch, t, args.batch_size, args.seconds, real, args.dropout, d_width, args.r1_gamma)
                         for t in args.threads]
                base = base or rates[0]
                row = f"{arch:<17}{d_width:>8g}{g_params:>10,}{d_params:>10,}" + "".join(f"{r:>14,.0f}" for r in rates)
                row += "".join(f"{r / rates[0]:>10.2f}x" for r in rates[1:])
                row += f"{rates[0] / base:>17.2f}x" if len(args.d_width) > 1 else ""
                print(row, flush=True)
    finally:
        if spinner:
            stop.set()
            spinner.join(2)


if __name__ == "__main__":
    main()
