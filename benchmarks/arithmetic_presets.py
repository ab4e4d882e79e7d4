"""How the Latent arithmetic page's presets come out, over many seeds, for any generator.

    .venv/bin/python benchmarks/arithmetic_presets.py [WEIGHTS ...] [--seeds 20] [--k 3]

For each preset and each seed of its class means (k exemplars each), the page's own computation
(`gan_core.arithmetic.arithmetic`, latents kept at the typical length, as the page does by default) and its own
measures (`gan_core.metrics.image_checks`) of the latent-space result. A conditional generator is run twice: with the
operands' one-hot labels summed (the page's default) and with operand A's label alone. Each row: how many results lie
on the real-image manifold (as precision counts a sample), the classifier's mean confidence, the classes it sees
(most frequent first), and how often the latent result scores above the pixel result (the page's verdict). The
preset texts say what a good result looks like; the classes column is where to read them against.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
import torch
# isort: on
from gan_core.arithmetic import OPERATIONS, PRESETS, Operand, arithmetic, class_mean_latent
from gan_core.catalog import shipped_generators
from gan_core.checkpoints import load_generator
from gan_core.metrics import image_checks
from gan_core.runtime import set_threads


def rows_for(path: Path, seeds: int, k: int) -> list[str]:
    g = load_generator(path).generator.eval()
    modes = [("labels summed", True), ("A's label", False)] if g.num_classes else [("", True)]
    out = []
    for preset in PRESETS.values():
        signs = OPERATIONS[preset.operation]
        sums = {mode: [] for mode, _ in modes}
        for seed in range(seeds):
            ops = [Operand.of_mean(g, class_mean_latent(g, cls, k=k, seed=seed), sign=s, position=i)
                   for i, (s, cls) in enumerate(zip(signs, preset.classes, strict=True))]
            for mode, sum_labels in modes:
                sums[mode].append(arithmetic(g, ops, renormalize=True, sum_labels=sum_labels))
        for mode, _ in modes:
            latent = image_checks(torch.cat([r.latent_result for r in sums[mode]]))
            pixel = image_checks(torch.cat([r.pixel_result for r in sums[mode]]))
            on = sum(c.on_manifold for c in latent)
            conf = sum(c.confidence for c in latent) / len(latent)
            wins = sum(a.score > b.score for a, b in zip(latent, pixel, strict=True))
            classes = ", ".join(f"{name} {n}" for name, n in Counter(c.class_name for c in latent).most_common(3))
            out.append(f"| {path.stem} | {preset.name} | {mode} | {on}/{seeds} | {conf:.2f} | {classes} | "
                       f"{wins}/{seeds} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="*", type=Path, help="generator files (default: the shipped generators)")
    ap.add_argument("--seeds", type=int, default=20, help="class-mean seeds per preset")
    ap.add_argument("--k", type=int, default=3, help="exemplars per class mean (the page's default)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    paths = args.weights or [e.path for e in shipped_generators() if e.path.stem != "mlp"]
    print("| generator | preset | class part | on the real manifold | confidence | classes seen | latent beats pixel |")
    print("|---|---|---|---:|---:|---|---:|")
    for path in paths:
        for row in rows_for(path, args.seeds, args.k):
            print(row, flush=True)


if __name__ == "__main__":
    main()
