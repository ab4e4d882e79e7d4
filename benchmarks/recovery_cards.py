"""Latent recovery of every shipped generator, written into its model card.

    .venv/bin/python benchmarks/recovery_cards.py [--k 100] [--seed 0] [--threads 1] [--only NAME ...]

For each weights/generators/*.safetensors: `gan_core.recovery.latent_recovery(k, seed)` with the default projection
settings (k training and k held-out test images projected into its latent), stored under "latent_recovery" in the
JSON card beside the weights (weights/generators/<name>.json; every other key kept, gan_core.recovery.with_recovery),
so a card says whether its generator memorises as well as how good its samples are. The weights file, and the card
embedded in it, are not rewritten. Prints one row per generator. Takes minutes: a DCGAN projects about one image a
second on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gan_core  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
from gan_core.cards import write_card
from gan_core.catalog import shipped_generators
from gan_core.checkpoints import load_generator
from gan_core.recovery import READING, Recovery, latent_recovery, with_recovery
from gan_core.runtime import set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=100, help="training and test images each (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (0 = PyTorch's default)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME",
                    help="these generators alone (by file name without .safetensors, e.g. dcgan-cond): a reshipped "
                         "one, without measuring the others again")
    args = ap.parse_args()
    set_threads(args.threads)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"{args.threads} thread(s); latent recovery k = {args.k}, seed {args.seed}")
    rows: list[tuple[str, Recovery]] = []
    entries = shipped_generators()
    unknown = sorted(set(args.only or ()) - {e.path.stem for e in entries})
    if unknown:
        raise SystemExit(f"--only: no shipped generator named {', '.join(unknown)} (shipped: "
                         f"{', '.join(e.path.stem for e in entries)})")
    for entry in entries:
        if args.only and entry.path.stem not in args.only:
            continue
        card = entry.card()
        if not card:
            print(f"{entry.path.name}: no JSON card beside it, skipped")
            continue
        rec = latent_recovery(load_generator(entry.path), args.k, args.seed)
        path = write_card(entry.path, with_recovery(card, rec.to_dict()))
        print(f"{entry.path.stem}: {rec.describe()} · {rec.seconds:.0f} s → {path}", flush=True)
        rows.append((entry.path.stem, rec))
    head = ("generator", "train median", "test median", "ratio", "test → nearest train", "labels", "seconds")
    table = [head, *[(name, f"{r.train_median:.3f} (n {r.n_train})", f"{r.test_median:.3f} (n {r.n_test})",
                      f"{r.ratio:.3f}", f"{r.nearest_train_median:.3f}", r.labels or "—", f"{r.seconds:.0f}")
                     for name, r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print()
    for r in table:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print(f"\npixel L2, pixels in [0, 1]; {READING}")


if __name__ == "__main__":
    main()
