"""`python -m gan_core ...`: train, sample and inspect from a terminal.

Every TrainConfig field is a flag (generated from the dataclass, so the CLI
never lags behind the config); a preset fills the rest. Errors exit with
status 2 and one line of explanation, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_core.cards import checks_text, write_card
from gan_core.checkpoints import CheckpointError, export_card, load_generator, save_generator
from gan_core.config import FIELD_HELP, ConfigError, TrainConfig
from gan_core.data import CLASS_NAMES, CorruptDatasetError, DatasetNotFoundError
from gan_core.presets import DEFAULT_PRESET, PRESETS, get_preset
from gan_core.runs import RunDir, RunStatus

if TYPE_CHECKING:
    import torch

USER_ERRORS = (ConfigError, CheckpointError, DatasetNotFoundError, CorruptDatasetError, ValueError, FileNotFoundError)


# Modules that contribute subcommands: each defines COMMANDS, a list of
# (name, help, add_arguments(parser), run(args) -> exit code). A missing module is skipped.
EXTRA_COMMAND_MODULES = ("gan_core.metrics_cli", "gan_core.compare", "gan_core.discriminate")


class CLIError(Exception):
    """A mistake of the user's: print it and exit 2."""


# ----------------------------------------------------------------------------- config flags
def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training configuration (defaults: the preset's)")
    group.add_argument("--preset", default=None,
                       help=f"start from a preset (default: {DEFAULT_PRESET}): {', '.join(PRESETS)}")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "preset":
            continue
        flag = "--" + f.name.replace("_", "-")
        helptext = FIELD_HELP.get(f.name, "")
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=helptext)
        elif f.name == "classes":
            group.add_argument(flag, dest=f.name, default=None, metavar="NAMES",
                               help=helptext + ' (comma-separated, e.g. "Ankle boot,Sneaker")')
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            group.add_argument(flag, dest=f.name, type=kind, default=None, help=helptext)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "preset" and getattr(args, f.name, None) is not None
    }
    return get_preset(args.preset or DEFAULT_PRESET).config(**overrides)


def explicit_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if f.name != "preset" and getattr(args, f.name, None) is not None}


# ----------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gan_core.training import Trainer

    if args.resume:
        run_dir = Path(args.resume)
        saved = (RunDir(run_dir) if run_dir.is_dir() else RunDir.of_checkpoint(run_dir)).read_config()
        config = saved.replace(**explicit_overrides(args))
    else:
        config = config_from_args(args)
    trainer = Trainer(config, runs_root=args.runs_root, resume=args.resume)
    bar: tqdm | None = None
    interrupted = {"n": 0}

    def on_signal(sig: int, _frame: Any) -> None:
        """Ctrl-C and SIGTERM (a `kill`, a scheduler's stop) both save a checkpoint and stop; a second one aborts."""
        interrupted["n"] += 1
        if interrupted["n"] > 1:
            raise KeyboardInterrupt
        trainer.stop()
        what = "Ctrl-C" if sig == signal.SIGINT else "the signal"
        print(f"\nStopping: saving a checkpoint ({what} again to abort without saving)...", file=sys.stderr)

    def on_step(snap: Any) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=snap.total_steps, initial=snap.step - 1, unit="step", dynamic_ncols=True,
                       desc=snap.run_name)
        bar.update(snap.step - bar.n)
        bar.set_postfix(epoch=f"{snap.epoch}/{snap.epochs}", D=f"{snap.d_loss:.3f}", G=f"{snap.g_loss:.3f}",
                        img_s=f"{snap.images_per_sec:.0f}", refresh=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        snap = trainer.run(on_step=on_step)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if bar is not None:
            bar.close()
    for w in snap.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if snap.status == RunStatus.FAILED:
        print(f"error: {snap.message}", file=sys.stderr)
        return 1
    print(f"{snap.status}: {snap.message}. Run folder: {snap.run_dir}")
    return 130 if interrupted["n"] else 0


def cmd_sample(args: argparse.Namespace) -> int:
    from gan_core.images import make_grid, png_bytes
    from gan_core.sampling import class_grid, code_grid, generate

    if args.by_class and args.by_code:
        raise ValueError("--by-class and --by-code each make a whole grid: pick one")
    loaded = load_generator(args.source)
    g = loaded.generator
    if args.by_class:
        images = class_grid(g, per_class=args.n // 10 or 1, seed=args.seed)
        nrow = args.n // 10 or 1
    elif args.by_code:
        per_code = args.n // (g.cfg.info_codes or 1) or 1
        images, nrow = code_grid(g, per_code=per_code, seed=args.seed), per_code
        _print_code_rows(images, g.cfg.info_codes)
    else:
        images = generate(g, args.n, seed=args.seed, label=args.cls)
        nrow = args.nrow
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(make_grid(images, nrow=nrow), scale=args.scale))
    print(f"wrote {out} ({len(images)} images from {loaded.path})")
    return 0


def _print_code_rows(images: torch.Tensor, rows: int) -> None:
    """What the classifier calls each row of a code grid: which class, if any, each code learned."""
    from gan_core.classifier import ClassifierError
    from gan_core.sampling import code_rows_classes

    try:
        majorities = code_rows_classes(images, rows)
    except ClassifierError as exc:
        print(f"(what each code makes could not be read: {exc})")
        return
    per_row = len(images) // rows
    for r, (c, m) in enumerate(majorities):
        print(f"code {r}: {CLASS_NAMES[c]} in {m} of {per_row}")


def cmd_info(args: argparse.Namespace) -> int:
    from gan_core.models import build_discriminator, build_generator, summarize

    if args.source:
        loaded = load_generator(args.source, with_discriminator=False)
        model = loaded.model
    else:
        model = config_from_args(args).model_config()
    g, d = build_generator(model), build_discriminator(model)
    sg, sd = summarize(g), summarize(d)
    print(f"architecture: {model.arch}  latent: {model.latent_dim}  conditional: {model.conditional}")
    print(sg.to_text())
    print()
    print(sd.to_text())
    print(f"\nDiscriminator / generator size: {sd.total / sg.total:.1%}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    for p in PRESETS.values():
        print(f"{p.name:<22} {p.description}")
        print(f"{'':<22} report {p.report}; observed: {p.observed}")
        if args.verbose:
            print(f"{'':<22} {json.dumps(p.fields)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a run's generator (EMA weights if any) as a shipped-style file with a model card."""
    loaded = load_generator(args.run)
    card = export_card(loaded, Path(args.out).stem, args.command_line)
    if args.evaluate:
        card.update(_evaluation_card(loaded, args))
    save_generator(args.out, loaded.generator, card)
    card_file = write_card(args.out, card)
    print(f"wrote {args.out} and its card {card_file}")
    if card.get("quality_bar"):
        print(checks_text(card["quality_bar"]))
    return 0


def _evaluation_card(loaded: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Metrics of the exported generator with the real-data floor, and the quality bar checks."""
    from gan_core import metrics
    from gan_core.cards import quality_checks

    classes = metrics.trained_classes(loaded)
    t0 = time.time()
    report = metrics.evaluate_generator(loaded.generator, n=args.evaluate, seed=0, classes=classes, label=Path(args.out).stem)
    floor = metrics.real_floor(classes, n=args.evaluate)
    baseline = None
    if args.baseline:
        base = load_generator(args.baseline)
        baseline = metrics.evaluate_generator(base.generator, n=args.evaluate, seed=0, classes=classes,
                                              label=f"step {base.step}")
    print(report.table(floor))
    out: dict[str, Any] = {
        "metrics": report.to_dict(),
        "real_data_floor": floor.to_dict(),
        "evaluation_seconds": round(time.time() - t0, 1),
        "quality_bar": quality_checks(report.to_dict(), baseline_fid=baseline.fid if baseline else None),
    }
    if baseline is not None:
        out["baseline_after_1_epoch"] = {"checkpoint": str(args.baseline), "step": base.step, "fid": baseline.fid}
    return out


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_core", description="Fashion GAN Studio from the terminal.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[..., int]]] = [
        ("train", "train a GAN on Fashion-MNIST (Ctrl-C saves a checkpoint and stops)", _train_args, cmd_train),
        ("sample", "write a PNG grid from a run, checkpoint or weights file", _sample_args, cmd_sample),
        ("info", "print the Keras-style layer tables of G and D", _info_args, cmd_info),
        ("presets", "list the named presets", _presets_args, cmd_presets),
        ("export", "export a run's generator as a weights file with a model card", _export_args, cmd_export),
    ]
    for name, helptext, add_args, func in commands:
        p = sub.add_parser(name, help=helptext, description=helptext)
        add_args(p)
        p.set_defaults(func=func)
    for name, helptext, add_args, func in _extra_commands():
        p = sub.add_parser(name, help=helptext, description=helptext)
        add_args(p)
        p.set_defaults(func=func)
    return parser


def _extra_commands() -> list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[..., int]]]:
    """Commands of the evaluation and comparison modules, registered where they live."""
    out = []
    for module_name in EXTRA_COMMAND_MODULES:
        try:
            module = __import__(module_name, fromlist=["COMMANDS"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        out += list(getattr(module, "COMMANDS", []))
    return out


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint (or a checkpoint file)")
    p.add_argument("--runs-root", default=None, help="folder holding run folders (default: ./runs or $GAN_STUDIO_RUNS)")
    add_config_flags(p)


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="run folder, checkpoint or generator .safetensors file")
    p.add_argument("--n", type=int, default=64, help="number of images (1-10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="cls", default=None, help="class name or index (conditional generators)")
    p.add_argument("--by-class", action="store_true", help="class-by-row grid (conditional generators)")
    p.add_argument("--by-code", action="store_true",
                   help="InfoGAN-code-by-row grid, columns sharing z (generators with info_codes)")
    p.add_argument("--nrow", type=int, default=None, help="images per row")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling of the PNG")
    p.add_argument("--out", default="samples.png")


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", help="optional: a run, checkpoint or weights file instead of a config")
    add_config_flags(p)


def _presets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="also print each preset's fields")


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder or checkpoint")
    p.add_argument("--out", required=True, help="destination .safetensors file")
    p.add_argument("--command-line", default="", help="the command that trained it, for the model card")
    p.add_argument("--evaluate", type=int, default=0, metavar="N",
                   help="evaluate N samples (with the real-data floor) into the card; needs the shipped classifier")
    p.add_argument("--baseline", default=None, metavar="CHECKPOINT",
                   help="checkpoint after 1 epoch: the card compares FID against it")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, *USER_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130
