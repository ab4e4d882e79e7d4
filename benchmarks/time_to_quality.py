"""Time to quality: what each preset reaches after a few wall-clock minutes of training.

    .venv/bin/python benchmarks/time_to_quality.py [--preset studio-fast studio] [--minutes 2 10] [--n 10000]
        [--set threads=1 ema=0] [--no-baselines] [--json out.json]

Each preset trains exactly as `python -m gan_core train --preset NAME` does (the same Trainer loop, with its
grids, logging and checkpoints), except that `epochs` is raised so the clock, not the epoch count, ends the run
(and only the 2 newest checkpoints are kept, as such a run would otherwise not fit the disk).
The clock starts when the run is started (data loading and model building included) and stops while the
generator is evaluated, so the evaluation time is excluded. At each mark the generator a run ships (the EMA copy
when the preset has one) is evaluated like `python -m gan_core evaluate --n N`. `mlp-gan` and `tf-tutorial` are
added as baselines unless `--no-baselines`. Run it on an otherwise idle machine: another process on the cores
changes every number.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from gan_core import metrics
from gan_core.data import CLASS_NAMES
from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.training import Snapshot, Trainer

BASELINES = ("mlp-gan", "tf-tutorial")


def parse_sets(items: list[str]) -> dict[str, Any]:
    """FIELD=VALUE items as config overrides (JSON values; anything else as text)."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (/proc/stat's first line: user ... steal), or None where there is none."""
    try:
        with open("/proc/stat") as f:
            return [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def shares(before: list[int] | None, after: list[int] | None) -> str:
    """The busy and the steal share of the machine's CPU time between two `cpu_times` readings: on a shared VM the
    host can take a third of the time (steal), which slows every number here alike."""
    if before is None or after is None:
        return "CPU shares unknown"
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = max(sum(d), 1)
    busy = d[0] + d[1] + d[2] + d[5] + d[6]
    return f"CPU busy {busy / total:.0%}, steal {d[7] / total:.0%}"


def run_preset(name: str, minutes: list[float], n: int, overrides: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    """Train `name` until the last mark; evaluate at each mark with the clock stopped."""
    cfg = preset_config(name, **overrides)
    # Raised epochs would ask for thousands of checkpoints, which the disk budget refuses: keep the 2 newest.
    cfg = cfg.replace(epochs=max(cfg.epochs, 10_000), name=f"ttq-{name}", keep_checkpoints=2)
    trainer = Trainer(cfg, runs_root=root)
    marks = sorted(m * 60.0 for m in minutes)
    rows: list[dict[str, Any]] = []
    excluded = 0.0
    t_start = time.perf_counter()

    def on_step(snap: Snapshot) -> None:
        nonlocal excluded
        elapsed = time.perf_counter() - t_start - excluded
        if not marks or elapsed < marks[0]:
            return
        mark = marks.pop(0)
        t_eval = time.perf_counter()
        assert trainer.gan is not None
        g = trainer.gan.sampler
        with torch.random.fork_rng(devices=[]):
            report = metrics.evaluate_generator(copy.deepcopy(g).eval(), n=n, classes=cfg.classes or None)
        shares = [s for s, c in zip(report.class_shares, CLASS_NAMES, strict=True)
                  if not cfg.classes or c in cfg.classes]
        rows.append(dict(preset=name, minutes=mark / 60, step=snap.step, epoch=snap.step / snap.steps_per_epoch,
                         images_per_sec=snap.step * trainer.gan.batch / elapsed, fid=report.fid,
                         precision=report.precision, recall=report.recall, min_share=min(shares),
                         max_share=max(shares), classes_5pct=report.coverage_classes,
                         cond_acc=report.conditional_accuracy, eval_s=report.seconds))
        print(_row(rows[-1]), flush=True)
        excluded += time.perf_counter() - t_eval
        if not marks:
            trainer.stop()

    before = cpu_times()
    snap = trainer.run(on_step=on_step)
    print(f"# {name}: {shares(before, cpu_times())} during the run (evaluations included); trained on "
          f"{snap.compute}", flush=True)
    if snap.status == "failed":
        print(f"# {name}: failed: {snap.message}", flush=True)
    return rows


HEAD = (f"{'preset':<18}{'min':>5}{'steps':>8}{'epochs':>7}{'img/s':>7}{'FID':>8}{'prec':>7}{'recall':>7}"
        f"{'min share':>10}{'max share':>10}{'≥5 %':>6}{'cond acc':>9}")


def _row(r: dict[str, Any]) -> str:
    cond = f"{r['cond_acc']:.1%}" if r.get("cond_acc") is not None else "–"
    return (f"{r['preset']:<18}{r['minutes']:>5g}{r['step']:>8,}{r['epoch']:>7.2f}{r['images_per_sec']:>7.0f}"
            f"{r['fid']:>8.2f}{r['precision']:>7.3f}{r['recall']:>7.3f}{r['min_share']:>10.1%}{r['max_share']:>10.1%}"
            f"{r['classes_5pct']:>6}{cond:>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", nargs="+", default=[DEFAULT_PRESET])
    ap.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    ap.add_argument("--n", type=int, default=10_000, help="samples per evaluation")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="TrainConfig overrides for every preset (JSON values), e.g. threads=1 ema=0")
    ap.add_argument("--no-baselines", action="store_true", help=f"skip {' and '.join(BASELINES)}")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()

    presets = list(dict.fromkeys(args.preset + ([] if args.no_baselines else list(BASELINES))))
    overrides = parse_sets(args.set)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, load average {os.getloadavg()[0]:.2f} at start, n = {args.n:,}"
          + (f", overrides {overrides}" if overrides else ""))
    floor = metrics.real_floor(n=args.n)
    print(HEAD)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in presets:
            rows += run_preset(name, args.minutes, args.n, overrides, Path(tmp))
    print(f"{'real-data floor':<18}{'':>5}{'':>8}{'':>7}{'':>7}{floor.fid:>8.2f}{floor.precision:>7.3f}"
          f"{floor.recall:>7.3f}{min(floor.class_shares):>10.1%}{max(floor.class_shares):>10.1%}"
          f"{floor.coverage_classes:>6}")
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
