"""Which EMA of G is best at each mark: one run of a preset with extra EMA copies of G beside its own.

    .venv/bin/python benchmarks/ema_schedules.py [--preset studio-fast-deep] [--minutes 2 10] [--n 10000]
        [--half-life 0.03 0.15 0.3] [--set lr_anneal_steps=6000]

An EMA with a warm-up averages G's weights over a window that grows with the run: the preset's own
(`min(ema, (1 + t) / (10 + t))`, a half-life of about 0.077 t steps until it reaches `ema`) and, beside it, copies
whose half-life is a fixed share of the steps so far (StyleGAN2-ADA's `ema_rampup`, without its cap). Every copy sees
the same G at every step, so at a mark the copies differ only in how they average. The extra copies' updates and the
evaluations are excluded from the clock, as `time_to_quality.py` excludes its evaluations; the preset's own EMA is
the generator the run ships and `time_to_quality.py` evaluates, so its rows are that script's.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from time_to_quality import cpu_times, parse_sets, shares

from gan_core import metrics
from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.training import Snapshot, Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    ap.add_argument("--n", type=int, default=10_000, help="samples per evaluation")
    ap.add_argument("--half-life", type=float, nargs="+", default=[0.03, 0.15, 0.3],
                    help="extra EMA copies: each one's half-life as a share of the steps so far")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="TrainConfig overrides (JSON values)")
    args = ap.parse_args()

    overrides = parse_sets(args.set)
    cfg = preset_config(args.preset, **overrides)
    cfg = cfg.replace(epochs=max(cfg.epochs, 10_000), name="ema-schedules", keep_checkpoints=2)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, load average {os.getloadavg()[0]:.2f} at start, n = {args.n:,}, preset "
          f"{args.preset}" + (f", overrides {overrides}" if overrides else ""), flush=True)
    marks = sorted(m * 60.0 for m in args.minutes)
    copies: dict[float, torch.nn.Module] = {}
    excluded = 0.0

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, runs_root=Path(tmp))
        t_start = time.perf_counter()

        def on_step(snap: Snapshot) -> None:
            nonlocal excluded
            t0 = time.perf_counter()
            gan = trainer.gan
            assert gan is not None
            with torch.no_grad():
                for r in args.half_life:
                    if r not in copies:
                        copies[r] = copy.deepcopy(gan.G).eval()
                    decay = 0.5 ** (1.0 / max(r * gan.step, 1.0))
                    torch._foreach_lerp_(list(copies[r].parameters()), list(gan.G.parameters()), 1.0 - decay)
                    torch._foreach_copy_(list(copies[r].buffers()), list(gan.G.buffers()))
            elapsed = t0 - t_start - excluded
            if marks and elapsed >= marks[0]:
                mark = marks.pop(0)
                candidates = [("preset's own EMA", gan.sampler), ("G itself", gan.G)]
                candidates += [(f"half-life {r:g} t", m) for r, m in copies.items()]
                for label, g in candidates:
                    with torch.random.fork_rng(devices=[]):
                        rep = metrics.evaluate_generator(copy.deepcopy(g).float().eval(), n=args.n)
                    print(f"{mark / 60:>5g} min {snap.step:>7,} steps {snap.step * gan.batch / elapsed:>5.0f} img/s  "
                          f"{label:<20} FID {rep.fid:6.2f}  precision {rep.precision:.3f}  recall {rep.recall:.3f}  "
                          f"classes {min(rep.class_shares):.1%}–{max(rep.class_shares):.1%}  asked "
                          f"{rep.conditional_accuracy if rep.conditional_accuracy is not None else float('nan'):.1%}",
                          flush=True)
                if not marks:
                    trainer.stop()
            excluded += time.perf_counter() - t0

        before = cpu_times()
        snap = trainer.run(on_step=on_step)
    print(f"# {shares(before, cpu_times())} during the run; trained on {snap.compute}; load average "
          f"{os.getloadavg()[0]:.2f} at the end", flush=True)


if __name__ == "__main__":
    main()
