"""`train`, and the training-configuration flags that `info` shares.

Every TrainConfig field is a flag, generated from the field's own metadata (so the
CLI never lags behind the config); a preset fills whatever the flags leave out.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from gan_core.cli.command import Command
from gan_core.config import (
    FIELDS,
    ConfigError,
    FieldSpec,
    TrainConfig,
    fixed_on_resume,
    form_layout,
    resume_changes,
    resume_fields,
)
from gan_core.distributed import World
from gan_core.livefeed import rates_text
from gan_core.presets import DEFAULT_PRESET, PRESETS, get_preset
from gan_core.runs import RunStatus, run_of


# ----------------------------------------------------------------------------- config flags
def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every TrainConfig field (in the New-run form's order), from the field's declaration.

    Choices are listed in --help but checked by TrainConfig, so a bad value gets the same message as on the form.
    """
    group = parser.add_argument_group("training configuration (defaults: the preset's)")
    group.add_argument("--preset", default=None,
                       help=f"start from a preset (default: {DEFAULT_PRESET}): {', '.join(PRESETS)}")
    for spec in _flag_order():
        flag = "--" + _flag(spec.name)
        if spec.kind is bool:
            group.add_argument(flag, dest=spec.name, action=argparse.BooleanOptionalAction, default=None,
                               help=spec.help)
        elif spec.kind is tuple:
            group.add_argument(flag, dest=spec.name, default=None, metavar="NAMES",
                               help=spec.help + ' (comma-separated, e.g. "Ankle boot,Sneaker")')
        else:
            metavar = "{" + ",".join(spec.options()) + "}" if spec.choices is not None else None
            group.add_argument(flag, dest=spec.name, type=spec.kind, default=None, metavar=metavar, help=spec.help)


def _flag_order() -> list[FieldSpec]:
    """Every field but `preset` (its flag is the preset to start from): the form's order, then any not on it."""
    on_form = [spec for rows in form_layout().values() for row in rows for spec in row]
    return on_form + [s for s in FIELDS.values() if s not in on_form and s.name != "preset"]


def explicit_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line (a flag left out is None: the preset or saved run decides)."""
    return {name: getattr(args, name) for name in FIELDS if name != "preset" and getattr(args, name, None) is not None}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return get_preset(args.preset or DEFAULT_PRESET).config(**explicit_overrides(args))


def resume_config(args: argparse.Namespace) -> TrainConfig:
    """The config a resume trains with: the saved run's, with the flags given, which may only change what a resume
    may (`RESUMABLE`). A flag that would change anything else is refused, not ignored: the checkpoint fixes the
    model, loss, batch, data and seed, and training something other than what was asked would mislead. A flag that
    repeats the run's own value is fine (the command that started a run, with --resume added, continues it)."""
    saved = run_of(args.resume).read_config()
    given = {**explicit_overrides(args), **({"preset": args.preset} if args.preset else {})}
    requested = saved.replace(**given)
    fixed = fixed_on_resume({k for k in given if getattr(requested, k) != getattr(saved, k)})
    if fixed:
        asked = ", ".join(f"--{_flag(k)} {_shown(getattr(requested, k))} (the run has {_shown(getattr(saved, k))})"
                          for k in fixed)
        first, rest = resume_fields()
        may = ", ".join("--" + _flag(s.name) for s in first + rest)
        raise ConfigError(f"a resume cannot change {asked}: the checkpoint fixes the model, loss, batch, data and "
                          f"seed; a resume may change {may}. Start a new run to change the rest")
    return saved.replace(**resume_changes(saved, requested))


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _shown(value: Any) -> str:
    return (",".join(value) or "all") if isinstance(value, tuple) else str(value)


# ----------------------------------------------------------------------------- train
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint (or a checkpoint file)")
    p.add_argument("--runs-root", default=None, help="folder holding run folders (default: ./runs or $GAN_STUDIO_RUNS)")
    add_config_flags(p)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gan_core.training import Trainer

    world = World.from_env()  # under torchrun: this process's rank (gan_core.distributed)
    if args.resume and world.is_main:
        config = resume_config(args)
    else:  # the other ranks of a resume are sent rank 0's config: the run folder may be on another machine
        config = config_from_args(args)
    trainer = Trainer(config, runs_root=args.runs_root, resume=args.resume, world=world)
    bar: tqdm | None = None
    interrupted = {"n": 0, "first": 0.0}

    def on_signal(sig: int, _frame: Any) -> None:
        """Ctrl-C and SIGTERM (a `kill`, a scheduler's stop) both save a checkpoint and stop; a second one aborts.

        A repeat within a second is the same request (torchrun passes on the terminal's Ctrl-C, which its workers
        also got), not a second one.
        """
        interrupted["n"] += 1
        if interrupted["n"] > 1:
            if time.monotonic() - interrupted["first"] > 1.0:
                raise KeyboardInterrupt
            return
        interrupted["first"] = time.monotonic()
        trainer.stop()
        what = "Ctrl-C" if sig == signal.SIGINT else "the signal"
        if world.is_main:
            print(f"\nStopping: saving a checkpoint ({what} again to abort without saving)...", file=sys.stderr)

    def on_step(snap: Any) -> None:
        nonlocal bar
        if bar is None:
            print(f"Training on {snap.compute}; {rates_text(snap)}", file=sys.stderr)
            bar = tqdm(total=snap.total_steps, initial=snap.step - 1, unit="step", dynamic_ncols=True,
                       desc=snap.run_name)
        bar.update(snap.step - bar.n)
        bar.set_postfix(epoch=f"{snap.epoch}/{snap.epochs}", D=f"{snap.d_loss:.3f}", G=f"{snap.g_loss:.3f}",
                        img_s=f"{snap.images_per_sec:.0f}", refresh=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        snap = trainer.run(on_step=on_step if world.is_main else None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if bar is not None:
            bar.close()
    if snap.status == RunStatus.FAILED:
        print(f"error: {snap.message}" if world.is_main else f"error (rank {world.rank}): {snap.message}",
              file=sys.stderr)
        return 1
    if not world.is_main:
        return 130 if interrupted["n"] else 0
    for w in snap.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"{snap.status}: {snap.message}. Run folder: {snap.run_dir}"
          + (f" ({world.size} processes)" if world.distributed else ""))
    return 130 if interrupted["n"] else 0


COMMANDS = (
    Command("train", "train a GAN on Fashion-MNIST (Ctrl-C saves a checkpoint and stops)", _train_args, cmd_train),
)
