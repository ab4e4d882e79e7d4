"""kill -9 at random moments of training and checkpointing, resumed each time: nothing saved is ever lost.

The CLI trains a tiny run that checkpoints every epoch (8 steps), so about half the kills land in or near a
checkpoint write. After each kill every checkpoint must load, metrics.csv's complete lines must be strictly
increasing, and the resume must clean what the dead writer left; at the end the run finishes like any other.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gan_core.checkpoints import load_generator, read_weights
from gan_core.runs import RunDir, run_record
from tests.conftest import needs_data

REPO = Path(__file__).resolve().parent.parent
KILLS = 10
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


def test_random_kill_9_during_training_and_checkpoints_loses_nothing(tmp_path):
    rng = random.Random(1)
    run = RunDir(tmp_path / "k")
    base = [sys.executable, "-m", "gan_core", "train", "--runs-root", str(tmp_path), *TINY]
    cmd = [*base, "--name", "k", "--epochs", "40"]
    for i in range(KILLS):
        before = _logged_step(run)
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        # Kill only once this process has trained past what was logged before (and, the first time, has saved a
        # checkpoint to resume from), then after a random part of an epoch.
        while _logged_step(run) <= before + (8 if i == 0 else 0):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run did not train"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

        ckpts = run.checkpoints()
        assert ckpts, "the first checkpoint is written before the first kill"
        for _, path in ckpts:
            read_weights(path)  # every checkpoint readable, none half-written
        load_generator(run.path)
        steps = _steps_in_file(run)
        assert steps == sorted(set(steps)), f"kill {i}: metrics.csv steps not strictly increasing: {steps[-10:]}"
        assert run_record(run).status == "interrupted", "a killed run reads as interrupted (its lock is gone)"
        cmd = [*base, "--resume", str(run.path)]

    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    steps = _steps_in_file(run)
    assert steps == list(range(1, 40 * 8 + 1)), "after ten kills the run logged every step exactly once"
    assert run.read_status()["status"] == "finished" and run.checkpoints()[-1][0] == 40 * 8
    assert not list(run.path.rglob("*.tmp")), "no temporary file left behind"
