"""Stopping the real server (`streamlit run app.py`) while a run trains and clients are still connected.

No browser: a PageSession starts the run through the app's WebSocket, as a browser's Streamlit client would, and
keeps that connection open; a second client downloads a large static file and stops reading, so the response never
ends. Streamlit's server (uvicorn) waits for every open response to end before the interpreter exits, with no limit,
so without gan_core.manager.SignalSave this server never exits and the run is never saved (the save used to run
only at exit). (It replaces the browser test of the same stop: this one also holds a response open, which is what hangs.)
"""

from __future__ import annotations

import contextlib
import csv
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gan_core.manager import EXIT_GRACE_S
from tests.conftest import needs_data, wait_for
from tests.served import PageSession, streamlit_server

pytestmark = [needs_data, pytest.mark.slow]


def _last_step(run: Path) -> int:
    """The step of the run's last metrics row (0 before the first)."""
    try:
        with (run / "metrics.csv").open() as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return 0
    return int(rows[-1]["step"]) if rows else 0


@contextlib.contextmanager
def _stalled_download(url: str) -> Iterator[None]:
    """A client that asked for Streamlit's largest JavaScript file and stopped reading after its first bytes, as a
    tab on a machine gone to sleep does: with a tiny receive window the server can never finish the response."""
    import streamlit

    static = Path(streamlit.__file__).parent / "static"
    biggest = max(static.rglob("*.js"), key=lambda p: p.stat().st_size)
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        path = biggest.relative_to(static).as_posix()
        sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        sock.settimeout(30)
        assert sock.recv(64).startswith(b"HTTP/1.1 200"), f"/{path} was not served"
        yield


def test_sigterm_saves_the_run_and_exits_while_clients_stay_connected(tmp_path):
    runs, log = tmp_path / "runs", tmp_path / "streamlit.log"
    with streamlit_server(runs, log) as (url, proc), PageSession(url) as page:
        page.run("train")  # the New run form, as a fresh server opens Train
        # 512 images in batches of 32: 16 steps an epoch, 1000 epochs: the run cannot end by itself.
        page.run("train", {"Width multiplier": 0.25, "Max training images (0: all 60,000)": 512, "Batch size": 32,
                           "Epochs": 1000, "Run name": "signal"}, click="Start training")
        run = runs / "signal"
        wait_for(lambda: _last_step(run) >= 20, 120, "the run at step 20", lambda: log.read_text())
        with _stalled_download(url):
            t0 = time.monotonic()
            proc.terminate()
            try:
                proc.wait(EXIT_GRACE_S + 30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the server had not exited {EXIT_GRACE_S + 30:.0f} s after SIGTERM:\n{log.read_text()}")
            took = time.monotonic() - t0
    said = log.read_text()
    print(f"the server exited {took:.1f} s after SIGTERM:\n{said}")
    assert proc.returncode == 0
    assert "Fashion GAN Studio: stopping run 'signal'" in said
    assert "exiting now" in said, "the download never ends: the server exits only because SignalSave ends it"
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "stopped", status
    # Saved at the step it stopped at, as the signal arrived, not only at the last epoch's end (16 steps here).
    assert status["last_checkpoint"] == f"step_{status['step']:07d}.safetensors"
    assert (run / "checkpoints" / status["last_checkpoint"]).is_file()
