"""The live panel: a running run's numbers, grid and curves, changed in place in the browser from the live feed.

A Streamlit fragment on a timer redraws every element it holds at each refresh, and on a 2-core machine the
browser's work for that is taken from training (benchmarks/README.md, "What watching costs"). The panel is a
component (st.components.v2: no iframe) whose script polls the files `gan_core.livefeed` writes, served by
Streamlit's static file serving (`server.enableStaticServing`, .streamlit/config.toml), and changes only what
changed; the page reruns only when the run's status, the run or its warnings change, or its first checkpoint is
saved (enabling the downloads). Where the feed cannot be served or written, `available()` is False and the pages
keep their refreshing fragments.
"""

from __future__ import annotations

import atexit
import secrets
import time
from pathlib import Path
from typing import Literal

import streamlit as st

from gan_core.live import Snapshot
from gan_core.livefeed import POLL_S, FeedPublisher, remove_stale
from ui.state import manager

# Served at app/static/live/<token>/: the token, new for each server process, keeps another web page from reading
# the feed (static files are served to any origin).
FEED_ROOT = Path(__file__).resolve().parent.parent / "static" / "live"
_HERE = Path(__file__).resolve().parent
_PANEL = st.components.v2.component("fashion_gan_studio.live_panel", css=(_HERE / "live_panel.css").read_text(),
                                    js=(_HERE / "live_panel.js").read_text())
Part = Literal["status", "grid", "curves", "sidebar", "watch"]


@st.cache_resource(show_spinner=False)
def _publisher() -> FeedPublisher | None:
    """The server process's one feed, started at the first page that shows a run; None where it cannot be."""
    if not st.get_option("server.enableStaticServing"):
        return None
    try:
        remove_stale(FEED_ROOT)
        publisher = FeedPublisher(lambda: manager().snapshot(), FEED_ROOT / secrets.token_urlsafe(16)).start()
    except OSError:
        return None
    atexit.register(publisher.stop)
    return publisher


def available() -> bool:
    """Whether the live panel can show this server's runs (else the pages refresh fragments, as before)."""
    publisher = _publisher()
    return publisher is not None and publisher.error is None


def show(part: Part, snap: Snapshot, *, rerun: bool = True, follow_saves_s: float = 0.0) -> None:
    """Mount one part of the panel: `status` (progress and the six numbers), `grid` (the latest fixed-noise grid),
    `curves` (the live charts), `sidebar` (progress and rate) or `watch` (nothing drawn). With `rerun`, a change of
    status, run or warnings, or a first checkpoint, in the feed reruns the page, so its buttons, messages and
    downloads follow the run; with `follow_saves_s` too every later checkpoint, at most once in that many seconds
    (a list of checkpoints that follows the run without a timer)."""
    publisher = _publisher()
    assert publisher is not None, "show() is for pages where available() is True"
    publisher.publish()  # the feed is at least as new as this page
    writer = publisher.writer
    data = {
        "part": part, "base": f"app/static/live/{publisher.folder.name}/", "poll_ms": int(POLL_S * 1000),
        "rendered_at": time.time(), "status": snap.status, "run_dir": snap.run_dir, "warnings": len(snap.warnings),
        "saved_step": snap.saved_step, "rerun": rerun, "follow_saves_s": follow_saves_s,
        "initial": writer.status, "initial_curves": writer.curves if part == "curves" else None,
    }
    _PANEL(data=data, key=f"live_panel.{part}" + (".saves" if follow_saves_s else ""), on_changed_change=lambda: None)
