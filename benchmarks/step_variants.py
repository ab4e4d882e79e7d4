"""Images/s of the default preset's training step under config variants, interleaved so the machine's drift hits
all of them alike.

    .venv/bin/python benchmarks/step_variants.py precision=fp32 base r1_every=16 threads=1 [--busy]
        [--rounds 8] [--slice 3] [--preset studio-fast-deep]

Each variant is `base` (the preset as it is) or comma-separated FIELD=VALUE overrides of the preset (JSON values;
`threads` is the torch thread count for that variant, 2 by default). Three more keys change how the step runs, not
the config, for attempts at a faster step: `adam=fused` (Adam's fused kernels instead of foreach), `inplace=true`
(every LeakyReLU in place) and `compile=true` (torch.compile of G's and D's forward; it cannot run R1's double
backward, so compare it with `r1_gamma=0` on both sides). Every variant gets its own `GanStep` on the
real training images, warmed up by 5 steps; then, round after round, each trains for `--slice` seconds in turn.
On a shared VM whose host steals up to a third of the CPU time in bursts, a variant's images/s in one slice swing
2-3x; the slices of one round are seconds apart, so the ratio to the first variant within a round is what the
table's last column reports (median and range over the rounds). `--busy` keeps one core busy with a spinning
process, as the Streamlit server beside the trainer does when a page refreshes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from gan_core.data import load_split
from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.step import GanStep

sys.path.insert(0, str(Path(__file__).resolve().parent))
from time_to_quality import cpu_times, parse_sets, shares  # a sibling script, not a package


def parse_variant(text: str) -> dict[str, Any]:
    """`base` → {}; `a=1,b=fp32` → {"a": 1, "b": "fp32"} (time_to_quality's --set, comma-separated)."""
    return {} if text == "base" else parse_sets(text.split(","))


def run_as(gan: GanStep, adam: str = "foreach", inplace: bool = False, compile: bool = False) -> None:
    """Change how `gan`'s step runs (not what it computes): Adam's kernels, LeakyReLUs in place, compiled forwards."""
    if adam not in ("foreach", "fused"):
        raise SystemExit(f"adam must be foreach or fused (got {adam!r})")
    for opt in (gan.opt_g, gan.opt_d):
        for group in opt.param_groups:
            group["fused"], group["foreach"] = adam == "fused", adam == "foreach"
    if inplace:
        for m in [*gan.G.modules(), *gan.D.modules()]:
            if isinstance(m, torch.nn.LeakyReLU):
                m.inplace = True
    if compile:
        if gan.config.r1_gamma > 0:
            raise SystemExit("compile=true cannot run R1's double backward: add r1_gamma=0 to every variant")
        t0 = time.perf_counter()
        gan.G.forward = torch.compile(gan.G.forward)  # type: ignore[method-assign]
        gan.D.forward = torch.compile(gan.D.forward)  # type: ignore[method-assign]
        for _ in range(3):
            gan.train_step()
        print(f"# compiled G and D, and their first 3 steps: {time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", help="base, or FIELD=VALUE[,FIELD=VALUE...] overrides of the preset")
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--slice", type=float, default=3.0, help="seconds each variant trains per round")
    ap.add_argument("--busy", action="store_true", help="keep one core busy with a spinning process")
    args = ap.parse_args()

    data = load_split("train")
    images, labels = data.to_tensor(), torch.as_tensor(data.labels)
    steps: dict[str, tuple[GanStep, int]] = {}
    for text in args.variants:
        over = parse_variant(text)
        threads = int(over.pop("threads", 2))
        how = {key: over.pop(key) for key in ("adam", "inplace", "compile") if key in over}
        torch.set_num_threads(threads)
        gan = GanStep(preset_config(args.preset, **over), images, labels, device=torch.device("cpu"))
        gan.wrap()
        run_as(gan, **how)
        for _ in range(5):
            gan.train_step()
        steps[text] = (gan, threads)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    rates: dict[str, list[float]] = {v: [] for v in steps}
    before = cpu_times()
    try:
        for _ in range(args.rounds):
            for text, (gan, threads) in steps.items():
                torch.set_num_threads(threads)
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.slice:
                    gan.train_step()
                    n += 1
                rates[text].append(n * gan.batch / (time.perf_counter() - t0))
    finally:
        if busy is not None:
            busy.kill()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, preset {args.preset}, {args.rounds} rounds of {args.slice:g} s, "
          f"{'one core kept busy' if args.busy else 'nothing else running'}; {shares(before, cpu_times())}")
    print("| variant | img/s median [min, max] | ratio to the first, per round: median [min, max] |")
    print("|---|---:|---:|")
    first = rates[args.variants[0]]
    for text, r in rates.items():
        ratios = sorted(a / b for a, b in zip(r, first, strict=True))
        print(f"| {text} | {statistics.median(r):.0f} [{min(r):.0f}, {max(r):.0f}] | "
              f"{statistics.median(ratios):.2f} [{ratios[0]:.2f}, {ratios[-1]:.2f}] |")


if __name__ == "__main__":
    main()
