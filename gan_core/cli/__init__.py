"""`python -m gan_core ...`: train, sample, evaluate and compare from a terminal.

Each module of this package holds one group of commands, each command's flags
beside the function that runs it; this module only gathers them into one parser.
A user's mistake exits with status 2 and one line of explanation, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from gan_core.checkpoints import CheckpointError
from gan_core.cli import arithmetic, directions, evaluate, generators, inspect, project, runs, tensorboard, train
from gan_core.cli.command import Command
from gan_core.config import ConfigError
from gan_core.data import CorruptDatasetError, DatasetNotFoundError

# Exceptions that mean "this input cannot work" (each message says why and what to do instead): exit 2.
USER_ERRORS = (ConfigError, CheckpointError, DatasetNotFoundError, CorruptDatasetError, ValueError, FileNotFoundError)

# In the order `python -m gan_core --help` lists them.
COMMANDS: tuple[Command, ...] = (*train.COMMANDS, *generators.COMMANDS, *arithmetic.COMMANDS, *project.COMMANDS,
                                  *directions.COMMANDS, *evaluate.COMMANDS, *inspect.COMMANDS, *runs.COMMANDS,
                                  *tensorboard.COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_core", description="Fashion GAN Studio from the terminal.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130
