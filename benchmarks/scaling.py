"""Images/s for 1 and N training processes (torchrun, one thread each) and the scaling efficiency, as a table.

    .venv/bin/python benchmarks/scaling.py [--preset studio-fast] [--procs 1 2] [--steps 400] [--repeats 2]

Each measurement is a real `python -m gan_core train` (one process) or `torchrun --standalone --nproc-per-node N -m
gan_core train` (N processes) of `--steps` steps with one thread per process, no in-training evaluation and no
grids or checkpoints on the way. The rate is the median of the run's own images/s column (global batch / step time)
over its second half, so start-up and warm-up are left out. Two ways to spend N processes:

- same run: the preset's global batch (64) split over the N ranks. Steps, epochs and learning rates are those of
  one process, so this is the speed-up of the very same run (strong scaling).
- more work per rank: each rank keeps 64 images, the global batch grows to 64 x N (weak scaling; a different run,
  whose learning rates may need scaling: README, "Scaling out").

Efficiency is images/s over N times the one-process images/s of the same preset at batch 64. Run it on an otherwise
idle machine: N processes on N cores measure the cores, not the code, when something else runs beside them.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUIET = ["--eval-every", "0", "--sample-every", "0", "--grid-every-s", "0", "--checkpoint-every", "0",
         "--log-every", "10", "--threads", "1"]


def run_once(procs: int, batch: int, preset: str, steps: int, root: Path, name: str) -> float:
    """The run's median images/s over its second half."""
    train = ["-m", "gan_core", "train", "--preset", preset, "--batch-size", str(batch), "--max-steps", str(steps),
             "--runs-root", str(root), "--name", name, *QUIET]
    if procs == 1:
        cmd = [sys.executable, *train]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs), *train]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    with (root / name / "metrics.csv").open() as fh:
        rates = [float(row["images_per_sec"]) for row in csv.DictReader(fh)]
    return statistics.median(rates[len(rates) // 2 :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="studio-fast")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64, help="the one-process batch (and each rank's, in weak scaling)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per row, interleaved; the table gives their median")
    args = ap.parse_args()

    rows: list[tuple[str, int, int, int]] = []  # (way, processes, global batch, per-rank batch)
    for n in args.procs:
        if n == 1:
            rows.append(("one process", 1, args.batch, args.batch))
        else:
            rows.append(("same run", n, args.batch, args.batch // n))
            rows.append(("more work per rank", n, args.batch * n, args.batch))
    load = os.getloadavg()[0]
    rates: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):  # interleaved, so a change in the machine's load touches every row alike
            for i, (_, n, batch, _) in enumerate(rows):
                rates[i].append(run_once(n, batch, args.preset, args.steps, Path(tmp), f"r{rep}-{i}"))
    base = statistics.median(rates[0]) if rows[0][1] == 1 else None

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {load:.2f} before the runs; "
          f"preset {args.preset}, {args.steps} steps per run, one thread per process, median of {args.repeats}")
    print("| way | processes | global batch | per-rank batch | images/s (min–max) | speed-up | efficiency |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, (way, n, batch, per_rank) in enumerate(rows):
        med = statistics.median(rates[i])
        speedup = f"{med / base:.2f}x" if base else "—"
        eff = f"{med / (n * base):.0%}" if base else "—"
        print(f"| {way} | {n} | {batch} | {per_rank} | {med:,.0f} ({min(rates[i]):,.0f}–{max(rates[i]):,.0f}) "
              f"| {speedup} | {eff} |")


if __name__ == "__main__":
    main()
