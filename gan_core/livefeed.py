"""The live feed: a run as its watchers see it, written as three small files a browser polls.

Redrawing a Streamlit page on a timer costs the browser CPU time that a 2-core machine takes from training (each
refresh redraws every element of the fragment; benchmarks/README.md, "What watching costs"). With a feed, the page's
live panel fetches a few hundred bytes every couple of seconds and changes only the numbers, the grid image when a
new grid was drawn and the curves when new rows were logged. `FeedPublisher` is a thread of the app's server that
reads snapshots and writes the folder; it knows nothing of the browser, and the trainer nothing of it.

The folder holds `status.json` (every number the panel shows, as text, and what it should rerun the page for),
`curves.json` (the charts' thinned series) and the latest grids as `grid-<step>.png`. Every file is replaced
atomically, and a grid is written before the status that names it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_core.config import TrainConfig
from gan_core.format import clock, duration
from gan_core.health import GRAD_NORM_D, GRAD_NORM_G, METRIC_LABELS
from gan_core.images import labelled_png
from gan_core.live import Snapshot
from gan_core.runs import RunStatus
from gan_core.step import fixed_grid_names, learning_rates

STATUS_FILE, CURVES_FILE = "status.json", "curves.json"
POLL_S = 2.0          # how often the panel fetches status.json, and the publisher looks for news
CURVES_EVERY_S = 10.0  # the curves are rewritten (and redrawn) at most this often while rows keep coming
CURVE_POINTS = 400    # per line: about a chart's width in pixels
GRIDS_KEPT = 3        # grid files left in the folder: a fetch in flight still finds the one it was told of
GRID_SCALE = 2
STALE_S = 24 * 3600   # feed folders of servers that ended without cleaning up are removed after a day


@dataclass(frozen=True)
class Chart:
    title: str
    keys: tuple[str, ...]
    log_y: bool = False


# The live charts, in the order the Train page shows them.
CHARTS = (
    Chart("Losses", ("d_loss", "g_loss")),
    Chart("Gradient norms", (GRAD_NORM_D, GRAD_NORM_G), log_y=True),
    Chart("D(x) on real and D(G(z)) on generated images", ("d_real", "d_fake")),
    Chart("FID in the classifier's features (lower is better)", ("fid",)),
)


def grid_png(cfg: TrainConfig | None, grid: np.ndarray) -> bytes:
    """A run's fixed-noise grid as the live views show it: twice its size, rows (or images) named as asked."""
    rows, cells = fixed_grid_names(cfg, grid)
    return labelled_png(grid, scale=GRID_SCALE, row_labels=rows, cell_labels=cells)


def grid_caption(snap: Snapshot, index: int) -> str:
    """What the live views say under grid `index` of the snapshot's kept grids."""
    step, grid = snap.grids[index]
    rows, cells = fixed_grid_names(snap.config, grid)
    drawn_by = f"Drawn by {snap.grid_source}. " if snap.grid_source else ""
    named = "Each row is named by the class asked of it. " if rows else \
        "Each image is named by the class asked of it. " if cells else ""
    return (f"The same fixed noise at step {step:,}. {drawn_by}{named}Grid {index + 1} of the {len(snap.grids)} kept "
            "here; every grid is in the run's samples/ folder.")


def progress_text(snap: Snapshot) -> str:
    eta = f" · ETA {duration(snap.eta_s)}" if snap.status == RunStatus.RUNNING and snap.eta_s else ""
    return f"epoch {snap.epoch:,} of {snap.epochs:,} · step {snap.step:,} of {snap.total_steps:,}{eta}"


def metric_tiles(snap: Snapshot) -> list[tuple[str, str, str | None]]:
    """The six numbers of the live view: (label, value, help) as shown."""
    return [
        ("Step", f"{snap.step:,}", rates_text(snap)),
        (f"Epoch (of {snap.epochs:,})", f"{snap.epoch:,}", None),
        ("Images/s", f"{snap.images_per_sec:,.0f}" if snap.images_per_sec else "—",
         f"computed on {snap.compute}" if snap.compute else None),
        ("Training time", clock(snap.elapsed_s) if snap.elapsed_s else "—",
         "time spent in training steps (pauses not counted)"),
        ("D loss", f"{snap.d_loss:.3f}" if snap.d_loss is not None else "—", None),
        ("G loss", f"{snap.g_loss:.3f}" if snap.g_loss is not None else "—", None),
    ]


def rates_text(snap: Snapshot) -> str | None:
    """The learning rates the run's next step takes, and whether and how they anneal (`learning_rates`)."""
    cfg = snap.config
    if cfg is None:
        return None
    lr_g, lr_d = learning_rates(cfg, snap.step)
    now = f"learning rates now: G {lr_g:.2e}, D {lr_d:.2e}"
    if not cfg.lr_anneal_steps:
        return f"{now} (constant)"
    end = f"{cfg.lr_final:g} of them at step {cfg.lr_anneal_steps:,}"
    if snap.step < cfg.lr_anneal_steps:
        return f"{now}, annealing along a half cosine to {end}"
    return f"{now}, annealed ({end}) and held there"


def sidebar_lines(snap: Snapshot) -> tuple[str, str]:
    """The sidebar's progress text and its rate line (empty until the rate is known)."""
    progress = f"step {snap.step:,} / {snap.total_steps:,} · epoch {snap.epoch}/{snap.epochs}"
    if not snap.images_per_sec:
        return progress, ""
    eta = f" · ETA {duration(snap.eta_s)}" if snap.eta_s and snap.status == RunStatus.RUNNING else ""
    return progress, f"{snap.images_per_sec:,.0f} images/s{eta}"


def status_doc(snap: Snapshot, t: float, grid_file: str | None, curves_rev: int) -> dict[str, Any]:
    """Everything status.json holds. `t` is the wall time taken before the snapshot: a page drawn at time r reruns
    for a status, run, count of warnings or first checkpoint that differs from its own only when t > r, so a feed
    that has not caught up with a click yet cannot bounce the page back."""
    progress, rate = sidebar_lines(snap)
    return {
        "t": t, "status": snap.status, "run": snap.run_name, "run_dir": snap.run_dir,
        "warnings": len(snap.warnings), "saved_step": snap.saved_step,
        "progress": snap.progress, "progress_text": progress_text(snap),
        "sidebar_progress": progress, "sidebar_rate": rate, "tiles": metric_tiles(snap),
        "grid": {"file": grid_file, "caption": grid_caption(snap, len(snap.grids) - 1)} if grid_file else None,
        "curves_rev": curves_rev,
    }


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def curves_doc(history: Sequence[dict[str, float]], rev: int) -> dict[str, Any]:
    """The live charts' series, each thinned to at most CURVE_POINTS points (always the last); a chart no row has a
    value for is left out (FID in a run that does not measure it; gradient norms of a run trained before them)."""
    charts = []
    for chart in CHARTS:
        lines = []
        for key in chart.keys:
            points = [(s, y) for r in history
                      if (s := _finite(r.get("step"))) is not None and (y := _finite(r.get(key))) is not None
                      and (y > 0 or not chart.log_y)]
            if len(points) > CURVE_POINTS:
                stride = math.ceil(len(points) / (CURVE_POINTS - 1))
                points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
            if points:
                lines.append({"name": METRIC_LABELS.get(key, key), "x": [p[0] for p in points],
                              "y": [round(p[1], 6) for p in points]})
        if lines:
            charts.append({"title": chart.title, "log": chart.log_y, "lines": lines})
    return {"rev": rev, "charts": charts}


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeedWriter:
    """Writes a feed folder from snapshots, each file only when what it holds changed."""

    def __init__(self, folder: Path, *, curves_every_s: float = CURVES_EVERY_S) -> None:
        self.folder = Path(folder)
        self.curves_every_s = curves_every_s
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None
        self._grid_key: tuple[str, int] | None = None
        self._grid_file: str | None = None
        self._grids_written = 0
        self._t = -math.inf
        self._curves_key: tuple[str, int, Any] | None = None
        self._curves: dict[str, Any] | None = None
        self._curves_rev = 0
        self._curves_at = -math.inf

    def reset(self) -> None:
        """Forget what was written, so the next write writes every file again (after a failed write)."""
        with self._lock:
            self._status = self._grid_key = self._curves_key = None

    @property
    def status(self) -> dict[str, Any] | None:
        """What status.json holds now (None before the first write)."""
        return self._status

    @property
    def curves(self) -> dict[str, Any] | None:
        """What curves.json holds now (None before the first write)."""
        return self._curves

    def write(self, snap: Snapshot, t: float | None = None) -> bool:
        """Bring the folder up to `snap` (taken at wall time `t`); whether status.json changed."""
        t = time.time() if t is None else t
        with self._lock:
            if t < self._t:
                return False  # a snapshot older than the one already written (the page and the thread both write)
            self._t = t
            if self._status is None:
                self.folder.mkdir(parents=True, exist_ok=True)
            self._write_grid(snap)
            self._write_curves(snap)
            doc = status_doc(snap, t, self._grid_file, self._curves_rev)
            if self._status is not None and {**self._status, "t": t} == doc:
                return False
            _write_atomic(self.folder / STATUS_FILE, json.dumps(doc).encode())
            self._status = doc
            return True

    def _write_grid(self, snap: Snapshot) -> None:
        if not snap.grids:
            self._grid_key = self._grid_file = None
            return
        step, grid = snap.grids[-1]
        key = (snap.run_dir, step)
        if key == self._grid_key:
            return
        self._grids_written += 1  # in the name: a new run's grid of the same step is a new file, never a cached one
        name = f"grid-{self._grids_written:06d}-step-{step}.png"
        _write_atomic(self.folder / name, grid_png(snap.config, grid))
        self._grid_key, self._grid_file = key, name
        for old in sorted(self.folder.glob("grid-*.png"))[:-GRIDS_KEPT]:
            old.unlink(missing_ok=True)

    def _write_curves(self, snap: Snapshot) -> None:
        last = snap.history[-1].get("step") if snap.history else None
        key = (snap.run_dir, len(snap.history), last)
        if key == self._curves_key:
            return
        now = time.monotonic()
        first = self._curves_key is None or self._curves_key[0] != snap.run_dir
        if not first and snap.active and now - self._curves_at < self.curves_every_s:
            return  # more rows keep coming: the curves catch up at the next write after the interval
        self._curves_rev += 1
        doc = curves_doc(snap.history, self._curves_rev)
        _write_atomic(self.folder / CURVES_FILE, json.dumps(doc).encode())
        self._curves_key, self._curves_at, self._curves = key, now, doc


class FeedPublisher:
    """A daemon thread that keeps a feed folder up to date with `source()` every `interval_s`."""

    def __init__(self, source: Callable[[], Snapshot], folder: Path, *, interval_s: float = POLL_S) -> None:
        self.writer = FeedWriter(folder)
        self._source, self.interval_s = source, interval_s
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)

    @property
    def folder(self) -> Path:
        return self.writer.folder

    def start(self) -> FeedPublisher:
        self.publish()
        self._thread.start()
        return self

    def publish(self) -> None:
        """Write now (the page does, so a feed is never older than the page that reads it)."""
        t = time.time()
        self.writer.write(self._source(), t)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
                self.error = None
            except OSError as exc:  # a full disk, the folder removed: say so, keep trying, then write it all again
                self.error = f"the live feed could not be written to {self.folder}: {exc}"
                self.writer.reset()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


def remove_stale(root: Path, max_age_s: float = STALE_S) -> list[Path]:
    """Remove feed folders under `root` not written for `max_age_s` (servers that ended without cleaning up)."""
    removed = []
    if not root.is_dir():
        return removed
    now = time.time()
    for folder in root.iterdir():
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            newest = max((p.stat().st_mtime for p in folder.iterdir()), default=folder.stat().st_mtime)
        except OSError:  # removed meanwhile
            continue
        if now - newest > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
