"""`train-classifier` and `evaluate`: the Fashion classifier the metrics use, and the metrics of a generator."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_core.cards import checks_text, recheck, trained_classes
from gan_core.checkpoints import load_generator
from gan_core.cli.command import Command
from gan_core.paths import CLASSIFIER_PATH, atomic_write_text
from gan_core.runs import RunDir
from gan_core.runtime import set_threads

if TYPE_CHECKING:
    from gan_core.recovery import Recovery

DEFAULT_N = 10_000
DEFAULT_N_SWEEP = 2_000
DEFAULT_RECOVERY = 50


# ----------------------------------------------------------------------------- train-classifier
def _train_classifier_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=10, help="passes over the 60,000 training images (default 10)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (0 = PyTorch's default)")
    p.add_argument("--max-images", type=int, default=None, help="train on the first N images only (for quick checks)")
    p.add_argument("--out", default=str(CLASSIFIER_PATH), help="destination .safetensors (a .json card is written beside it)")


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from gan_core.classifier import train_classifier

    command = " ".join(["python -m gan_core", *(shlex.quote(a) for a in sys.argv[1:])])
    card = train_classifier(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                            threads=args.threads, out_path=args.out, progress=True, max_images=args.max_images,
                            command=command)
    print(f"test accuracy {card['test_accuracy']:.2%} on {card['test_images']:,} test images after "
          f"{card['epochs']} epochs ({card['train_seconds']:.0f} s, {card['parameters']:,} parameters)")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0


# ----------------------------------------------------------------------------- evaluate
def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_DIR_OR_WEIGHTS",
                   help="run folder (its latest checkpoint), checkpoint or generator .safetensors file")
    p.add_argument("--n", type=int, default=None,
                   help=f"generated images (default {DEFAULT_N:,}; {DEFAULT_N_SWEEP:,} per checkpoint with --all-checkpoints)")
    p.add_argument("--seed", type=int, default=0, help="latent seed of the generated images")
    p.add_argument("--k", type=int, default=3, help="neighbours defining the precision/recall manifolds")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (0 = PyTorch's default)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write every number to this JSON file")
    p.add_argument("--all-checkpoints", action="store_true",
                   help="evaluate every checkpoint of a run folder and name the best by FID (Fashion classifier)")
    p.add_argument("--recovery", metavar="K", type=int, default=DEFAULT_RECOVERY,
                   help=f"latent recovery on K training and K held-out test images (default {DEFAULT_RECOVERY}; 0 = off): "
                        "train ÷ test median projection error, well below 1 = memorises. Minutes for a DCGAN on one "
                        "core. Not run with --all-checkpoints, whose sweep would repeat it per checkpoint")


class _Bar:
    """A tqdm bar fed by the metrics' progress(fraction, message) callback."""

    def __init__(self, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=100, desc=desc, unit="%", dynamic_ncols=True, file=sys.stderr,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def __call__(self, fraction: float, message: str) -> None:
        self.bar.update(max(0, round(fraction * 100) - self.bar.n))
        self.bar.set_postfix_str(message, refresh=True)

    def close(self) -> None:
        self.bar.close()


def _validate(args: argparse.Namespace) -> int:
    from gan_core.recovery import MAX_K as MAX_RECOVERY

    n = args.n if args.n is not None else (DEFAULT_N_SWEEP if args.all_checkpoints else DEFAULT_N)
    if not 10 <= n <= 50_000:
        raise ValueError(f"--n must be between 10 and 50,000 (got {n})")
    if args.k < 1 or args.k >= n:
        raise ValueError(f"--k must be between 1 and n - 1 (got {args.k})")
    if not (args.recovery == 0 or 1 <= args.recovery <= MAX_RECOVERY):
        raise ValueError(f"--recovery must be 0 (off) or between 1 and {MAX_RECOVERY:,} (got {args.recovery})")
    if not Path(args.source).exists():
        raise ValueError(f"{args.source}: no such run folder, checkpoint or weights file")
    return n


def cmd_evaluate(args: argparse.Namespace) -> int:
    from gan_core import metrics
    from gan_core.classifier import load_classifier

    n = _validate(args)
    set_threads(args.threads)
    load_classifier()  # fail fast, before generating anything, when the classifier is missing
    if args.all_checkpoints:
        return _sweep(args, n)
    loaded = load_generator(args.source)
    classes = trained_classes(loaded)
    label = Path(args.source).name if loaded.step is None else f"step {loaded.step:,}"
    bar = _Bar("real-data floor")
    try:
        floor = metrics.real_floor(classes, n=n, seed=args.seed, k=args.k, progress=bar)
    finally:
        bar.close()
    bar = _Bar(f"evaluating {label}")
    try:
        report = metrics.evaluate_generator(loaded, n=n, seed=args.seed, classes=classes, progress=bar, k=args.k,
                                            label=label)
    finally:
        bar.close()
    print(f"{loaded.path}")
    print(report.table(floor))
    checks = recheck(report.to_dict(), loaded.card)
    if checks:
        card_n = (loaded.card.get("metrics") or {}).get("n")
        print(f"\nquality bar of its card, on this evaluation (n = {n:,}):")
        print(checks_text(checks))
        if card_n and card_n != n:
            print(f"  (the card measured n = {card_n:,}; FID and recall move with n: use --n {card_n} to compare)")
    recovery = _recovery(loaded, args.recovery, args.seed)
    if args.json:
        data = {"source": str(loaded.path), "report": report.to_dict(), "floor": floor.to_dict()}
        if recovery is not None:
            data["latent_recovery"] = recovery.to_dict()
        _write_json(args.json, data)
    return 0


def _recovery(loaded: Any, k: int, seed: int) -> Recovery | None:
    """Latent recovery after the table is printed (it takes the longest), then its line under it; None when off."""
    if not k:
        return None
    from gan_core.recovery import READING, latent_recovery

    sys.stdout.flush()
    bar = _Bar("latent recovery")
    try:
        recovery = latent_recovery(loaded, k, seed, progress=lambda f: bar(f, f"projecting {2 * k:,} images"))
    finally:
        bar.close()
    print(f"\n{recovery.describe()}")
    print(f"  reading: {READING}. {recovery.steps} projection steps per image, {recovery.seconds:.0f} s")
    return recovery


def _sweep(args: argparse.Namespace, n: int) -> int:
    from gan_core import metrics

    run = RunDir(Path(args.source))
    if not run.path.is_dir():
        raise ValueError(f"--all-checkpoints needs a run folder, and {args.source} is a file; pass the run folder")
    ckpts = run.checkpoints()
    if not ckpts:
        raise ValueError(f"{run.path} has no checkpoints (looked in {run.checkpoints_dir})")
    classes = trained_classes(load_generator(ckpts[-1][1]))
    floor = metrics.real_floor(classes, n=n, seed=args.seed, k=args.k, memorization_n=0)
    from tqdm import tqdm

    reports: list[tuple[int, Path, Any]] = []
    for step, path in tqdm(ckpts, desc=f"{len(ckpts)} checkpoints, n={n:,} each", unit="ckpt", file=sys.stderr):
        loaded = load_generator(path)
        reports.append((step, path, metrics.evaluate_generator(loaded, n=n, seed=args.seed, classes=classes, k=args.k,
                                                               memorization_n=0, label=f"step {step:,}")))
    head = ("step", metrics.FID_LABEL, "IS-style", "precision", "recall", "classes ≥ 5 %", "KL uniform")
    rows = [(f"{s:,}", f"{r.fid:.2f}", f"{r.inception_score:.2f}", f"{r.precision:.3f}", f"{r.recall:.3f}",
             f"{r.coverage_classes} / {r.coverage_of}", f"{r.coverage_kl:.3f}") for s, _, r in reports]
    rows.append(("real floor", f"{floor.fid:.2f}", f"{floor.inception_score:.2f}", f"{floor.precision:.3f}",
                 f"{floor.recall:.3f}", f"{floor.coverage_classes} / {floor.coverage_of}", f"{floor.coverage_kl:.3f}"))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    best_step, best_path, best = min(reports, key=lambda t: t[2].fid)
    print(f"\nbest checkpoint by {metrics.FID_LABEL}: step {best_step:,} ({best.fid:.2f}; floor {floor.fid:.2f})\n  {best_path}")
    if args.json:
        _write_json(args.json, {
            "source": str(run.path), "n": n,
            "checkpoints": [{"step": s, "path": str(p), **r.to_dict()} for s, p, r in reports],
            "best": {"step": best_step, "path": str(best_path), "fid": best.fid},
            "floor": floor.to_dict(),
        })
    return 0


def _write_json(path: str, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(_finite(data), indent=2, allow_nan=False) + "\n")
    print(f"wrote {path}")


def _finite(value: Any) -> Any:
    """NaN/inf (e.g. precision with too few samples) become null: strict JSON readers reject NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


COMMANDS = (
    Command("train-classifier", "train the Fashion-MNIST classifier the metrics use", _train_classifier_args,
            cmd_train_classifier),
    Command("evaluate", "FID (Fashion classifier), coverage, precision/recall and memorization, beside the real-data floor",
            _evaluate_args, cmd_evaluate),
)
