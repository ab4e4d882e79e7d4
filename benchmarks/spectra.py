"""Mean power spectra of the shipped generators against real test images (gan_core.inspect).

    .venv/bin/python benchmarks/spectra.py [--n 1000] [--seed 0] [--threads 1]

For each weights/generators/*.safetensors: n generated images (a conditional generator draws the classes of the n
real test images picked with the same seed) and n real ones; each image's mean brightness removed, |FFT|² averaged.
Prints, per generator, the ratio of generated to real mean power in frequency bands (radius as a fraction of the
axis Nyquist frequency: low < 0.25, mid 0.25–0.5, high 0.5–0.75, top ≥ 0.75, corner ≥ 1.25 where a one-pixel
checkerboard lives), the ratio at the corner frequency itself, and the radial profile's log10 ratio at each whole
radius, so a peak at a radius (an upsampling artifact) shows as a number, not only a picture. The top band's ratio is
the Evaluate page's metric.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gan_core  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
from gan_core.catalog import shipped_generators
from gan_core.checkpoints import load_generator
from gan_core.discriminate import real_test_set
from gan_core.inspect import compare_spectra
from gan_core.runtime import set_threads

BANDS = (("low", 0.0, 0.25), ("mid", 0.25, 0.5), ("high", 0.5, 0.75), ("top", 0.75, float("inf")),
         ("corner", 1.25, float("inf")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="generated and real images each (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (0 = PyTorch's default)")
    args = ap.parse_args()
    set_threads(args.threads)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"{args.threads} thread(s); n = {args.n}, seed {args.seed}")
    print("generated / real mean power per band (radius × axis Nyquist):")
    print(f"{'generator':>12}  " + "  ".join(f"{name} [{lo:g}, {hi:g})".rjust(16) for name, lo, hi in BANDS)
          + "  corner point  seconds")
    profiles = {}
    for entry in shipped_generators():
        t0 = time.perf_counter()
        loaded = load_generator(entry.path)
        real, labels, _ = real_test_set(loaded)
        cmp = compare_spectra(loaded, real, labels, n=args.n, seed=args.seed)
        ratios = [cmp.band_ratio(lo, hi) for _, lo, hi in BANDS]
        corner = cmp.generated.power[0, 0] / cmp.real.power[0, 0]  # the one-pixel checkerboard's frequency alone
        print(f"{entry.path.stem:>12}  " + "  ".join(f"{r:16.3f}" for r in ratios)
              + f"  {corner:12.3f}  {time.perf_counter() - t0:7.1f}", flush=True)
        profiles[entry.path.stem] = cmp.generated.radial - cmp.real.radial
    print("\nlog10(generated / real) of the radial profile at radius 1..20 (14: Nyquist on an axis, 20: the corner):")
    for name, profile in profiles.items():
        print(f"{name:>12}  " + " ".join(f"{v:+.2f}" for v in profile[1:]))


if __name__ == "__main__":
    main()
