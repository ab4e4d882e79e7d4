"""The real app served by `streamlit run` in a subprocess, and a session of it driven without a browser.

`streamlit_server` is what tests/test_browser.py opens in Chromium; `PageSession` speaks the app's WebSocket as
the browser's Streamlit client does (BackMsg in, ForwardMsg out), for a test that needs a page connected and a button
clicked but not a browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(runs: Path, log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` on a free port with its own runs folder; yields (url, process); stopped at the end."""
    port = free_port()
    env = {**os.environ, "GAN_STUDIO_RUNS": str(runs), "PYTHONPATH": str(REPO), "FASHION_MNIST_NO_DOWNLOAD": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health within 60 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class PageSession:
    """One browser session's WebSocket without the browser: rerun a page with widget values set (by label) and a
    button clicked, as the frontend sends them, and read what the run drew until it finishes."""

    WIDGETS = ("button", "number_input", "text_input")

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._connection = connect(f"ws://{url.split('://', 1)[1]}/_stcore/stream", subprotocols=["streamlit"],
                                   origin=url, max_size=None, open_timeout=30)
        self.widgets: dict[str, Any] = {}  # label -> the widget's proto (its id, and a number's data type)

    def __enter__(self) -> PageSession:
        self._ws = self._connection.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._connection.__exit__(*exc)

    def run(self, page: str, values: dict[str, float | int | str] | None = None, click: str | None = None,
            timeout: float = 120) -> None:
        """Run `page` (its URL path) with these widgets set and this button clicked; fail on an exception shown."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = page
        for label, value in (values or {}).items():
            widget, state = self.widgets[label], msg.rerun_script.widget_states.widgets.add()
            state.id = widget.id
            if isinstance(value, str):
                state.string_value = value
            elif widget.data_type == type(widget).FLOAT:
                state.double_value = value
            else:
                state.int_value = value
        if click is not None:
            state = msg.rerun_script.widget_states.widgets.add()
            state.id, state.trigger_value = self.widgets[click].id, True
        self._ws.send(msg.SerializeToString())
        self._read_until_finished(timeout)

    def _read_until_finished(self, timeout: float) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        deadline = time.monotonic() + timeout
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kind = fwd.WhichOneof("type")
            if kind == "script_finished" and fwd.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                return
            if kind != "delta" or fwd.delta.WhichOneof("type") != "new_element":
                continue
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            if which == "exception":
                pytest.fail(f"the page showed an exception: {element.exception.message}\n"
                            + "\n".join(element.exception.stack_trace))
            if which in self.WIDGETS:
                widget = getattr(element, which)
                self.widgets[widget.label] = widget
