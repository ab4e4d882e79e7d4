"""Seconds per stage of an evaluation, and what the trainer pays per in-training check.

    .venv/bin/python benchmarks/metrics_speed.py [--n 10000] [--quick-n 2000] [--threads 1]

Uses the studio DCGAN architecture with random weights (the cost does not depend on the
weights) and the shipped classifier. "reference (cold)" embeds the 10,000 test images,
which happens once per classifier file; afterwards the features come from the disk cache.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from gan_core import metrics
from gan_core.classifier import embed, load_classifier
from gan_core.config import TrainConfig
from gan_core.data import load_split
from gan_core.metrics.evaluation import generate_for_evaluation
from gan_core.models import build_generator


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="images of the full evaluation")
    p.add_argument("--quick-n", type=int, default=2_000, help="images of the trainer's quick evaluation")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = build_generator(TrainConfig(preset="").model_config()).eval()
    clf = load_classifier()
    test = load_split("test").to_tensor()
    rows: list[tuple[str, float]] = []

    rows.append(("reference (cold): embed 10,000 test images", timed(embed, clf, test)[0]))
    rows.append(("reference (from cache)", timed(metrics.reference)[0]))
    rows.append((f"generate {args.n:,} images (DCGAN width 1)",
                 timed(generate_for_evaluation, g, args.n, 0, list(range(10)), None, (0, 1))[0]))
    images = generate_for_evaluation(g, args.n, 0, list(range(10)), None, (0, 1))[0]
    rows.append((f"embed {args.n:,} images", timed(embed, clf, images)[0]))
    feats = embed(clf, images)[0]
    ref = metrics.reference()
    pr_n = min(metrics.PR_MAX, args.n)
    rows.append((f"precision/recall, {pr_n:,} × {pr_n:,} exact",
                 timed(metrics.precision_recall, ref.feats[ref.half_a][:pr_n], feats[:pr_n])[0]))
    rows.append((f"memorization: {metrics.MEMORIZATION_N:,} samples vs 60,000 training images",
                 timed(metrics.memorization, images, metrics.MEMORIZATION_N, 0)[0]))
    rows.append((f"evaluate_generator, n={args.n:,} (all of the above but the cold reference)",
                 timed(metrics.evaluate_generator, g, n=args.n)[0]))
    rows.append((f"quick_evaluate, n={args.quick_n:,} (the trainer's check)",
                 timed(metrics.quick_evaluate, g, n=args.quick_n, seed=0, classes=())[0]))

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)")
    width = max(len(r[0]) for r in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.2f} s")


if __name__ == "__main__":
    main()
