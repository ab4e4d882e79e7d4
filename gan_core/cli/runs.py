"""`compare`, `runs` and `discriminate`: the commands that read run folders and their training checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_core.checkpoints import load_generator
from gan_core.cli.command import Command
from gan_core.compare import compare_runs
from gan_core.discriminate import discriminator_test, real_test_set
from gan_core.format import duration, number
from gan_core.paths import default_runs_root
from gan_core.runs import list_records, resolve_run
from gan_core.runtime import set_threads


# ----------------------------------------------------------------------------- compare
def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run folders or run names")
    p.add_argument("--runs-root", default=None, help="where run names are looked up (default: ./runs or $GAN_STUDIO_RUNS)")


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ValueError(f"compare needs at least two runs (got {len(args.runs)}): "
                         "python -m gan_core compare RUN RUN [RUN ...]")
    root = Path(args.runs_root) if args.runs_root else None
    print(compare_runs([resolve_run(a, root) for a in args.runs]).table())
    return 0


# ----------------------------------------------------------------------------- runs
def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-root", default=None, help="folder holding run folders (default: ./runs or $GAN_STUDIO_RUNS)")


def cmd_runs(args: argparse.Namespace) -> int:
    root = Path(args.runs_root) if args.runs_root else default_runs_root()
    records = list_records(root)
    if not records:
        print(f"no runs in {root} (train one: python -m gan_core train)")
        return 0
    header = ["name", "preset", "created", "status", "steps", "wall time", "procs", "img/s", "D loss", "G loss", "FID",
              "classes"]
    rows = [[r.name, r.preset or "—", r.created_date, r.status, f"{r.steps:,}", duration(r.wall_time_s),
             str(r.world_size), number(r.images_per_sec, 0), number(r.d_loss, 3), number(r.g_loss, 3), number(r.fid, 2),
             number(r.coverage_classes, 0)] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())
    for r in records:
        if r.error:
            print(f"warning: {r.name}: {r.error}")
    return 0


# ----------------------------------------------------------------------------- discriminate
def _discriminate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_OR_CHECKPOINT", help="a run folder (its latest checkpoint) or a checkpoint file")
    p.add_argument("--n", type=int, default=1000, help="real and generated images each (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="picks the real images and the generated ones")
    p.add_argument("--bins", type=int, default=20, help="rows of the text histogram")
    p.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST IDX files (default: the usual places)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch (0: PyTorch's default)")


def cmd_discriminate(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    loaded = load_generator(args.source, with_discriminator=True)
    real, labels, classes = real_test_set(loaded, args.data_dir)
    report = discriminator_test(loaded, real, labels, n=args.n, seed=args.seed)
    where = f"classes {', '.join(classes)}" if classes else "all classes"
    step = f" (step {loaded.step:,})" if loaded.step is not None else ""
    print(f"discriminator of {loaded.path}{step}: {report.n} real test images ({where}) "
          f"vs {report.n} generated, seed {args.seed}")
    print(f"accuracy at threshold 0: {report.accuracy:.3f} "
          f"(real called real {report.accuracy_real:.3f}, generated called fake {report.accuracy_fake:.3f})")
    print(f"ROC AUC: {report.roc_auc:.3f}  (0.5: D cannot tell them apart; 1.0: D separates them perfectly)")
    print(f"mean logit: real {report.scores_real.mean():+.3f}, generated {report.scores_fake.mean():+.3f}")
    print(report.text_histogram(args.bins))
    return 0


COMMANDS = (
    Command("compare", "compare two or more runs: config differences, G/D sizes and ratios, speed, final metrics",
            _compare_args, cmd_compare),
    Command("runs", "list runs", _runs_args, cmd_runs),
    Command("discriminate",
            "score real test images vs generated ones with a checkpoint's discriminator (accuracy, ROC AUC)",
            _discriminate_args, cmd_discriminate),
)
