"""kill -9 at random moments of training and checkpointing, resumed each time: nothing saved is ever lost.

The CLI trains a tiny run that checkpoints every epoch (8 steps), so about half the kills land in or near a
checkpoint write. After each kill every checkpoint must load, metrics.csv's complete lines must be strictly
increasing, and the resume must clean what the dead writer left; at the end the run finishes like any other.

The ten killed processes run `gan_core.cli.main(argv)` (what `python -m gan_core` runs) in processes forked from a
multiprocessing forkserver that imported gan_core once, instead of ten fresh interpreters each spending seconds on
imports before training; the last resume, which finishes the run, is a real `python -m gan_core train`.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from gan_core.checkpoints import load_generator, read_weights
from gan_core.cli import main
from gan_core.runs import RunDir, run_record
from tests.conftest import needs_data

REPO = Path(__file__).resolve().parent.parent
KILLS = 10
EPOCH = 8  # steps: 256 images in batches of 32
TINY = ["--width", "0.25", "--max-images", "256", "--batch-size", "32", "--checkpoint-every", "1", "--sample-every",
        "4", "--grid-every-s", "0", "--log-every", "1", "--grid-size", "16", "--threads", "1"]

pytestmark = [needs_data, pytest.mark.slow]


def _steps_in_file(run: RunDir) -> list[int]:
    """Steps of metrics.csv's complete lines (a kill may cut the last one short; the resume drops it)."""
    lines = run.metrics_path.read_text().split("\n")[1:-1]
    return [int(float(line.split(",")[0])) for line in lines if line]


def _logged_step(run: RunDir) -> int:
    try:
        steps = _steps_in_file(run)
    except (FileNotFoundError, ValueError):
        return 0
    return steps[-1] if steps else 0


def _tail(log: Path) -> str:
    """The end of the children's log (a child that died before its target ran wrote none)."""
    return log.read_text()[-3000:] if log.exists() else "(no output: the child died before training started)"


def _cli_child(argv: list[str], log: str) -> None:
    """`python -m gan_core ARGV` in a forked child, its stdout and stderr appended to `log`; exits with its status."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.exit(main(argv))


def test_random_kill_9_during_training_and_checkpoints_loses_nothing(tmp_path, monkeypatch):
    rng = random.Random(1)
    run = RunDir(tmp_path / "k")
    log = tmp_path / "train.log"
    # A child re-runs this process's __main__ by its path before its target; within the whole suite that is a page
    # script an AppTest left there (Streamlit runs pages as __main__). The child needs none of it.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    fork = multiprocessing.get_context("forkserver")
    # Imported once in the server, before it forks a child per start (none of it has run any tensor maths yet);
    # torch._dynamo is what PyTorch imports on a run's first step: seconds of a fresh process's start.
    fork.set_forkserver_preload(["gan_core.cli", "gan_core.training", "torch._dynamo", "tqdm", "tests.test_kill_loop"])
    base = ["train", "--runs-root", str(tmp_path), *TINY]
    argv = [*base, "--name", "k", "--epochs", "40"]
    for i in range(KILLS):
        before = _logged_step(run)
        proc = fork.Process(target=_cli_child, args=(argv, str(log)), daemon=True)
        proc.start()
        deadline = time.monotonic() + 120
        # Kill only once this process has trained past what was logged before (and, the first time, has saved a
        # checkpoint to resume from), then after a random part of an epoch.
        while _logged_step(run) <= before + (EPOCH if i == 0 else 0):
            assert proc.is_alive(), f"kill {i}: the run exited with {proc.exitcode}:\n{_tail(log)}"
            assert time.monotonic() < deadline, "the run did not train"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.kill()  # SIGKILL
        proc.join(30)
        assert proc.exitcode == -9, f"kill {i}: the run was not killed but exited with {proc.exitcode}"

        ckpts = run.checkpoints()
        assert ckpts, "the first checkpoint is written before the first kill"
        for _, path in ckpts:
            read_weights(path)  # every checkpoint readable, none half-written
        load_generator(run.path)
        steps = _steps_in_file(run)
        assert steps == sorted(set(steps)), f"kill {i}: metrics.csv steps not strictly increasing: {steps[-10:]}"
        assert run_record(run).status == "interrupted", "a killed run reads as interrupted (its lock is gone)"
        argv = [*base, "--resume", str(run.path)]

    # The last resume, a fresh interpreter, finishes the run two epochs past where the kills left it (a resume may
    # change the epochs): the 40 epochs were only there so that no killed process could finish first.
    epochs = min(40, _logged_step(run) // EPOCH + 2)
    proc = subprocess.run([sys.executable, "-m", "gan_core", *argv, "--epochs", str(epochs)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    steps = _steps_in_file(run)
    assert steps == list(range(1, epochs * EPOCH + 1)), "after ten kills the run logged every step exactly once"
    assert run.read_status()["status"] == "finished" and run.checkpoints()[-1][0] == epochs * EPOCH
    assert not list(run.path.rglob("*.tmp")), "no temporary file left behind"
