"""How well and how fast `gan_core.projection` projects held-out images into each shipped generator.

    .venv/bin/python benchmarks/projection.py [--n 100] [--generators dcgan-cond dcgan mlp] [--quick] [--threads 2]

For each generator (dcgan-cond twice: with the true labels given, and with the labels chosen by the race) the
default `ProjectionSettings` project n held-out test images (a fixed choice: numpy default_rng(0)) and n training
images (default_rng(1)). Each row: seconds per test image, the median pixel L2 of the reconstructions (pixels in
[0, 1] over 784 values, as `nearest_real`), the share of test images reconstructed closer than their nearest
training image, ‖z‖/√d (median and range), how often the shipped classifier puts a reconstruction in the image's
true class beside how often it does so for the real images, for the race the share of labels it chose right, and
the train/test recovery ratio (median train L2 / median test L2: well below 1 means the generator reproduces its
training images better than new ones). The median L2 of the test images to their nearest of the 60,000 training
images is printed beside them: what "close" means on this data.

The baseline row is the issue's probe, implemented here and run in the same process on the same images: plain
multi-start Adam on z with a pixel loss, 8 starts × 200 steps, lr 0.05, no prior, the true class, on dcgan-cond.
Its time and L2 are what the dcgan-cond rows are compared with at the end. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
import numpy as np
import torch
# isort: on
from gan_core.checkpoints import load_generator
from gan_core.classifier import load_classifier, predict
from gan_core.data import load_split
from gan_core.models import Generator
from gan_core.projection import ProjectionSettings, dataset_images, decode, pixel_l2, project
from gan_core.sampling import nearest_real

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "generators"
GENERATORS = ("dcgan-cond", "dcgan", "mlp")


def baseline(g: Generator, x: torch.Tensor, labels: torch.Tensor | None, starts: int = 8, steps: int = 200,
             lr: float = 0.05, seed: int = 0, batch: int = 32) -> torch.Tensor:
    """The issue's probe: each image gets `starts` Gaussian z, all optimised by Adam on the pixel MSE alone; the start
    with the lowest final loss is kept. Returns z (N, latent_dim)."""
    rng = torch.Generator().manual_seed(seed)
    g.eval().requires_grad_(False)
    out = []
    try:
        for lo in range(0, len(x), batch):
            xb = x[lo : lo + batch].repeat_interleave(starts, 0)
            yb = None if labels is None else labels[lo : lo + batch].repeat_interleave(starts)
            z = torch.randn(len(xb), g.latent_dim, generator=rng).requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                loss = (g(z, yb) - xb).pow(2).flatten(1).mean(1)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
            with torch.no_grad():
                loss = (g(z, yb) - xb).pow(2).flatten(1).mean(1)
            n = len(xb) // starts
            out.append(z.detach()[loss.view(n, starts).argmin(1) + torch.arange(n) * starts])
    finally:
        g.requires_grad_(True)
    return torch.cat(out)


def _med(t: torch.Tensor) -> float:
    """The median, the mean of the two middle values for an even count (torch's `median` takes the lower one)."""
    return float(t.float().quantile(0.5))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="test images and training images projected per row")
    ap.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=GENERATORS)
    ap.add_argument("--quick", action="store_true", help="n = 16: a check that the script runs")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    n = 16 if args.quick else args.n
    if not 1 <= n <= 10_000:
        raise SystemExit("--n must be between 1 and 10,000 (the test split's size)")
    torch.set_num_threads(args.threads)
    settings = ProjectionSettings()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} at start, n = {n}, {settings}", flush=True)

    test, train = load_split("test"), load_split("train")
    test_idx = np.random.default_rng(0).choice(len(test), n, replace=False)
    train_idx = np.random.default_rng(1).choice(len(train), n, replace=False)
    x, y, _ = dataset_images(test.images, test.labels, "test", test_idx)
    x_train, y_train, _ = dataset_images(train.images, train.labels, "train", train_idx)
    nearest = torch.from_numpy(nearest_real(x, train.images, k=1)[1][:, 0])
    clf = load_classifier()
    real_acc = float((predict(clf, x) == y).float().mean())
    print(f"# test images to their nearest training image: median L2 {_med(nearest):.3f}; the classifier on the real "
          f"test images: {real_acc:.1%}", flush=True)

    print(_row(["generator", "labels", "s / image", "median L2", "closer than nearest train", "‖z‖/√d median [min, max]",
                "classifier on reconstructions", "classifier on the real images", "labels chosen right",
                "test to nearest train, median L2", "train / test recovery"]))
    print("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    runs = [(name, mode) for name in args.generators
            for mode in (("given", "race") if name == "dcgan-cond" else ("–",))]
    measured: dict[tuple[str, str], tuple[float, float]] = {}
    for name, mode in runs:
        g = load_generator(WEIGHTS / f"{name}.safetensors").generator
        labels = y if mode == "given" else None
        p = project(g, x, labels, settings=settings)
        per_image = p.seconds / n
        train_p = project(g, x_train, y_train if mode == "given" else None, settings=settings)
        agree = float((predict(clf, p.reconstruction) == y).float().mean())
        chosen = f"{float((p.labels == y).float().mean()):.1%}" if mode == "race" else "–"
        norms = p.z_norm
        measured[(name, mode)] = (per_image, _med(p.error))
        print(_row([name, mode, f"{per_image:.3f}", f"{_med(p.error):.3f}", f"{float((p.error < nearest).float().mean()):.0%}",
                    f"{_med(norms):.3f} [{float(norms.min()):.3f}, {float(norms.max()):.3f}]", f"{agree:.1%}",
                    f"{real_acc:.1%}", chosen, f"{_med(nearest):.3f}", f"{_med(train_p.error) / _med(p.error):.3f}"]),
              flush=True)

    if "dcgan-cond" in args.generators:
        g = load_generator(WEIGHTS / "dcgan-cond.safetensors").generator
        start = time.perf_counter()
        z = baseline(g, x, y)
        per_image = (time.perf_counter() - start) / n
        rec = decode(g, z, y)
        err = pixel_l2(rec, x)
        norms = z.norm(dim=1) / z.shape[1] ** 0.5
        agree = float((predict(clf, rec) == y).float().mean())
        print(_row(["dcgan-cond, baseline (8 × 200 Adam, lr 0.05, no prior)", "given", f"{per_image:.3f}",
                    f"{_med(err):.3f}", f"{float((err < nearest).float().mean()):.0%}",
                    f"{_med(norms):.3f} [{float(norms.min()):.3f}, {float(norms.max()):.3f}]", f"{agree:.1%}",
                    f"{real_acc:.1%}", "–", f"{_med(nearest):.3f}", "–"]), flush=True)
        for mode in ("given", "race"):
            s, l2 = measured[("dcgan-cond", mode)]
            print(f"# dcgan-cond, labels {mode}, against the baseline: {per_image / s:.2f}× as fast per image, median "
                  f"L2 {l2 / _med(err):.2f}× the baseline's ({l2:.3f} against {_med(err):.3f})")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at the end",
          flush=True)


if __name__ == "__main__":
    main()
