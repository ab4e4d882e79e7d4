"""`tensorboard`: TensorBoard event files for runs trained without them, from their metrics.csv and grids.

What is written, and how, is gan_core.tboard's (a run trained with `--tensorboard` gets the same while it trains).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_core import tboard
from gan_core.cli.command import Command
from gan_core.paths import default_runs_root
from gan_core.runs import resolve_run


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders or run names")
    p.add_argument("--replace", action="store_true",
                   help="delete the event files a run already has and write them again (without it, such a run is "
                        "refused and nothing is written)")
    p.add_argument("--runs-root", default=None, help="where run names are looked up (default: ./runs or $GAN_STUDIO_RUNS)")


def cmd_tensorboard(args: argparse.Namespace) -> int:
    tboard.require()
    root = Path(args.runs_root) if args.runs_root else None
    runs = list(dict.fromkeys(resolve_run(a, root) for a in args.runs))
    if not args.replace:  # all refused before any is written, so a rerun with --replace is the whole fix
        written = [tboard.already_written(r, n) for r in runs if (n := len(tboard.event_files(r)))]
        if written:
            raise ValueError("; ".join(written))
    for run in runs:
        done = tboard.export_run(run, replace=args.replace)
        print(f"{run.name}: {done.rows:,} metrics rows and {done.grids:,} grids written to {tboard.events_dir(run)}")
        for why in done.skipped_grids:
            print(f"warning: {run.name}: grid left out: {why}")
    parents = {r.path.absolute().parent for r in runs}
    logdir = parents.pop() if len(parents) == 1 else (root or default_runs_root())
    print(f"View them: {tboard.viewer_command(logdir)}  (then open http://localhost:6006)")
    return 0


COMMANDS = (
    Command("tensorboard", "write TensorBoard event files for runs trained without them (from metrics.csv and grids)",
            _args, cmd_tensorboard),
)
