"""What in-training evaluation costs: the share of a run's time spent on its periodic FID and coverage check.

    .venv/bin/python benchmarks/eval_cost.py [--preset studio-fast] [--repeats 3]

Times the preset's own training step (gan_core.speed, as the Train page's estimate does) and the trainer's periodic
check (`gan_core.metrics.quick_evaluate` on `eval_samples` images from the preset's generator), both in this process
and in the same conditions, and prints the share of wall-clock time the check takes at the preset's `eval_every`.
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gan_core  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
from gan_core import metrics, speed
from gan_core.models import build_generator
from gan_core.presets import DEFAULT_PRESET, get_preset
from gan_core.runtime import set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = get_preset(args.preset).config()
    if not cfg.eval_every:
        raise SystemExit(f"preset {args.preset} does not evaluate during training (eval_every is 0)")
    set_threads(cfg.threads)
    g = build_generator(cfg.model_config()).eval()
    metrics.quick_evaluate(g, n=cfg.eval_samples)  # reference features and the classifier, loaded once
    evals, rates = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        metrics.quick_evaluate(g, n=cfg.eval_samples)
        evals.append(time.perf_counter() - t0)
        rates.append(speed.images_per_sec(speed.timing_key(cfg), seconds=3.0))
    t_eval, rate = statistics.median(evals), statistics.median(rates)
    t_train = cfg.eval_every * cfg.batch_size / rate
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"preset {args.preset}: eval every {cfg.eval_every:,} steps on {cfg.eval_samples:,} samples")
    print(f"training: {rate:,.0f} images/s (median of {args.repeats}; min {min(rates):,.0f}, max {max(rates):,.0f}) "
          f"-> {t_train:.1f} s between checks")
    print(f"one check: {t_eval:.2f} s (median of {args.repeats}; min {min(evals):.2f}, max {max(evals):.2f})")
    print(f"share of the run's time spent checking: {t_eval / (t_train + t_eval):.1%}")


if __name__ == "__main__":
    main()
