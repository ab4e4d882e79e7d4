"""Shared fixtures: small slices of the real data, isolated run folders, no network; a wait with a deadline; the
CLI run in-process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

os.environ.setdefault("FASHION_MNIST_NO_DOWNLOAD", "1")


def _have_real_data() -> bool:
    from gan_core.data import DatasetNotFoundError, find_dataset

    try:
        find_dataset()
    except DatasetNotFoundError:
        return False
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Each phase's report on its test item (`rep_setup`, `rep_call`), so a fixture can tell at teardown whether the
    test failed (tests/test_browser.py then saves what the page showed)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


HAVE_DATA = _have_real_data()
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="Fashion-MNIST not found: apt-get install dataset-fashion-mnist")


def wait_for(ok: Callable[[], object], timeout: float, what: str, state: Callable[[], str] | None = None) -> None:
    """Poll `ok` until it holds; past `timeout` seconds fail, naming what was awaited and (from `state`) where things
    stood, so a hang is a failure with a reason, never a stuck suite."""
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen in {timeout} s" + (f" ({state()})" if state else ""))
        time.sleep(0.05)


@dataclass(frozen=True)
class Ran:
    """What a command run in-process returned and printed, named as subprocess.CompletedProcess names them."""

    returncode: int
    stdout: str
    stderr: str


def in_process(capsys, *args: str) -> Ran:
    """`python -m gan_core ARGS` as `gan_core.cli.main` in this process, its output captured by capsys.

    argparse's own exits (--help, a flag it refuses) become the status, as in a subprocess; any other exception
    propagates, so a traceback the user would see fails the test. The thread count a command sets (--threads) is
    process-wide: it is put back, as a subprocess would leave this process.
    """
    import torch

    from gan_core.cli import main

    threads = torch.get_num_threads()
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    out, err = capsys.readouterr()
    return Ran(code, out, err)


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


@pytest.fixture
def tiny_config():
    """A config that trains a few steps in well under a second per step on one core."""
    from gan_core.config import TrainConfig

    # grid_every_s=0: grids on the step cadence only, so a slow machine cannot change how many a test sees.
    return TrainConfig(width=0.25, max_images=256, batch_size=32, epochs=2, sample_every=4, grid_every_s=0,
                       log_every=1, grid_size=16, threads=1, seed=3)


@pytest.fixture(autouse=True)
def _idle_shared_manager():
    """Every test starts with the process-wide training manager idle, as a fresh server does, whatever ran before."""
    yield
    from gan_core import manager

    shared = manager._shared
    if shared is not None and not shared.active:
        shared.forget()
