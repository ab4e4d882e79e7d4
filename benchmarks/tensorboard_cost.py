"""What TensorBoard output costs a run: the recorder's extra writes against the training step they follow.

    .venv/bin/python benchmarks/tensorboard_cost.py [--preset studio-fast-deep] [--repeats 3] [--paired-steps 0]

With `tensorboard` on, `RunRecorder` adds, per metrics row, `gan_core.tboard.write_row` (a scalar per column) and,
per grid, `write_grid` (a PNG of the grid); SummaryWriter's thread writes them to disk. This times both, thread and
final flush included (n writes then `close()`, divided by n), on a row of the preset's shape with a gradient-norm
column per network and per layer group, and a grid of the preset's size; and the preset's own training step
(gan_core.speed, as the Train page's estimate). The share is their cost per step at the preset's cadences
(`log_every`, `sample_every`, one grid every `grid_every_s`) over the step's time. It also prints the bytes the
event files take per row and per grid. The grid is real test images (as a trained G's grid compresses), passed as
the PNG the run saved, as the recorder does.

`--paired-steps N` adds whole runs of the preset stopped after N steps, without and with `--tensorboard`,
alternated `--repeats` times, and their wall-clock ratio (noisy on a busy machine: a few % either way).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gan_core  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
from gan_core import speed, tboard
from gan_core.config import TrainConfig
from gan_core.data import DatasetNotFoundError, load_split
from gan_core.images import make_grid
from gan_core.presets import DEFAULT_PRESET, get_preset
from gan_core.runs import RunDir

GROUPS = 6  # layer groups per network in a row (grad_norm_g/<module>, grad_norm_d/<module>)


def _row(step: int, rng: np.random.Generator) -> dict[str, float]:
    row = {"step": step, "epoch": 1, "time_s": step * 0.1, "images_per_sec": 700.0, "d_loss": 0.6, "g_loss": 1.2,
           "d_real": 0.6, "d_fake": 0.4, "grad_norm_g": 2.0, "grad_norm_d": 3.0}
    row.update({f"grad_norm_{net}/body.{i}": float(rng.random()) for net in "gd" for i in range(GROUPS)})
    return row


def _grid(cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """A grid of the preset's size from real test images (a trained G's grid compresses like them), or noise
    without the data (the worst case for PNG)."""
    try:
        images = np.asarray(load_split("test").images[: cfg.grid_size], np.float32) / 127.5 - 1.0
    except DatasetNotFoundError:
        images = rng.uniform(-1, 1, (cfg.grid_size, 28, 28)).astype(np.float32)
    return make_grid(images[:, None], nrow=10 if cfg.conditional and cfg.grid_size >= 10 else None)


def time_writes(cfg: TrainConfig, n_rows: int, n_grids: int) -> tuple[float, float, int, int]:
    """Seconds per row and per grid, and event-file bytes per row and per grid."""
    rng = np.random.default_rng(0)
    grid = _grid(cfg, rng)
    with tempfile.TemporaryDirectory() as tmp:
        saved = RunDir(Path(tmp)).save_grid(0, grid)  # what the recorder passes on: the PNG the run just saved
        results = []
        for kind, n in (("rows", n_rows), ("grids", n_grids)):
            run = RunDir(Path(tmp) / kind)
            run.path.mkdir()
            writer = tboard.open_writer(run)
            rows = [_row(s, rng) for s in range(1, n + 1)]
            t0 = time.perf_counter()
            for s, row in enumerate(rows, 1):
                if kind == "rows":
                    tboard.write_row(writer, row)
                else:
                    tboard.write_grid(writer, s, grid, png=saved.read_bytes())
            writer.close()
            results.append(((time.perf_counter() - t0) / n, sum(f.stat().st_size for f in tboard.event_files(run)) // n))
    (row_s, row_b), (grid_s, grid_b) = results
    return row_s, grid_s, row_b, grid_b


def paired(cfg: TrainConfig, steps: int, repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock seconds of whole runs of `steps` steps, without and with TensorBoard, alternated."""
    from gan_core.training import Trainer

    plain, board = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for on, out in ((False, plain), (True, board)):
                run_cfg = cfg.replace(max_steps=steps, tensorboard=on, name=f"pair-{i}-{int(on)}")
                t0 = time.perf_counter()
                snap = Trainer(run_cfg, runs_root=tmp).run()
                out.append(time.perf_counter() - t0)
                if snap.status != "finished":
                    raise SystemExit(f"run {run_cfg.name} {snap.status}: {snap.message}")
    return plain, board


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int, default=2000, help="rows written per timing")
    ap.add_argument("--grids", type=int, default=100, help="grids written per timing")
    ap.add_argument("--paired-steps", type=int, default=0, help="also time whole runs of this many steps (0: no)")
    args = ap.parse_args()
    tboard.require()
    cfg = get_preset(args.preset).config()
    timings = [time_writes(cfg, args.rows, args.grids) for _ in range(args.repeats)]
    row_s = statistics.median(t[0] for t in timings)
    grid_s = statistics.median(t[1] for t in timings)
    rates = [speed.images_per_sec(speed.timing_key(cfg), seconds=3.0) for _ in range(args.repeats)]
    rate = statistics.median(rates)
    step_s = cfg.batch_size / rate
    grids_per_step = (1 / cfg.sample_every if cfg.sample_every else 0) + (
        step_s / cfg.grid_every_s if cfg.grid_every_s else 0)
    extra = row_s / cfg.log_every + grid_s * grids_per_step
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"preset {args.preset}: a row every {cfg.log_every} steps ({len(tboard.scalars(_row(1, np.random.default_rng(0))))} "
          f"scalars), a {cfg.grid_size}-image grid every {cfg.sample_every} steps and every {cfg.grid_every_s:g} s")
    print(f"step: {step_s * 1e3:.1f} ms ({rate:,.0f} images/s, median of {args.repeats}; "
          f"min {min(rates):,.0f}, max {max(rates):,.0f})")
    print(f"a row: {row_s * 1e3:.3f} ms, {timings[0][2]:,} B; a grid: {grid_s * 1e3:.2f} ms, {timings[0][3]:,} B "
          f"(medians of {args.repeats})")
    print(f"TensorBoard's share of the run's time: {extra / (step_s + extra):.3%} "
          f"({extra * 1e3:.3f} ms per step of {step_s * 1e3:.1f} ms)")
    if args.paired_steps:
        plain, board = paired(cfg, args.paired_steps, args.repeats)
        ratios = [b / p for p, b in zip(plain, board, strict=True)]
        print(f"whole runs of {args.paired_steps:,} steps: without {statistics.median(plain):.1f} s, with "
              f"{statistics.median(board):.1f} s (medians); with / without per pair: "
              + ", ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
