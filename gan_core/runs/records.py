"""Listing runs: which run folders a runs root holds, and each one summarised (`RunRecord`) for the listings and the
comparison; a damaged run is listed as such, with the reason, never raised.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_core import runlog
from gan_core.config import ConfigError, TrainConfig
from gan_core.paths import UnsafeFileError, default_runs_root
from gan_core.runs.folder import RunDir, check_layout, mtime
from gan_core.runs.lock import training_elsewhere
from gan_core.runs.status import ACTIVE, DamagedRunError, RunStatus


def list_runs(root: Path | None = None) -> list[RunDir]:
    root = Path(root or default_runs_root())
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if not p.name.startswith(".") and _has_config(p)]
    return sorted(runs, key=lambda r: mtime(r.config_path), reverse=True)


def _has_config(folder: Path) -> bool:
    """A run folder has a config.json entry (checked without following it: a damaged run is still listed)."""
    try:
        return folder.is_dir() and (folder / "config.json").lstat() is not None
    except OSError:
        return False


@dataclass(frozen=True)
class RunRecord:
    """One run folder, summarised for listings and comparisons."""

    name: str
    path: Path
    preset: str
    arch: str
    created: float               # seconds since the epoch
    status: str
    steps: int
    total_steps: int
    wall_time_s: float
    images_per_sec: float | None
    d_loss: float | None
    g_loss: float | None
    fid: float | None
    coverage_classes: float | None
    coverage_kl: float | None
    g_params: int | None
    d_params: int | None
    config: TrainConfig | None
    error: str = ""              # why the config could not be read (the run is listed anyway)
    world_size: int = 1          # processes that trained it last (torchrun; gan_core.distributed)

    @property
    def created_date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created)) if self.created else "—"

    @property
    def total_params(self) -> int | None:
        return self.g_params + self.d_params if self.g_params is not None and self.d_params is not None else None

    def row(self) -> dict[str, Any]:
        """The listing row (plain values, for a table or a dataframe)."""
        return {
            "name": self.name, "preset": self.preset or "—", "arch": self.arch, "created": self.created_date,
            "status": self.status, "steps": self.steps, "wall_time_s": round(self.wall_time_s, 1),
            "images_per_sec": _round(self.images_per_sec, 0), "d_loss": _round(self.d_loss, 3),
            "g_loss": _round(self.g_loss, 3), "fid": _round(self.fid, 2), "coverage_classes": self.coverage_classes,
            "world_size": self.world_size,
        }


def run_record(run: RunDir) -> RunRecord:
    """The run's summary, read again only when one of its files changed or its lock was taken or released.

    A listing rereads every run on every rerun of the Runs page; most runs are finished and unchanged, so their
    metrics.csv (which grows to megabytes) is parsed once per change, not once per rerun.
    """
    stamps = []
    for p in (run.config_path, run.status_path, run.metrics_path, run.samples_dir / "step_0000000.png"):
        try:
            st = p.stat()
            stamps.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append(None)
    return _cached_record(run.path, tuple(stamps), training_elsewhere(run))


@functools.lru_cache(maxsize=512)
def _cached_record(path: Path, _stamps: tuple, _locked: bool) -> RunRecord:
    return _read_record(RunDir(path))


def _read_record(run: RunDir) -> RunRecord:
    """The run's summary; a damaged file makes it a DAMAGED record with the reason, never an exception."""
    damage: list[str] = []
    try:
        check_layout(run)
    except DamagedRunError as exc:
        damage.append(str(exc))
    try:
        status = run.read_status()
    except DamagedRunError as exc:
        status = {}
        damage.append(str(exc))
    config: TrainConfig | None = None
    error = ""
    try:
        config = run.read_config()
    except ConfigError as exc:  # an unreadable config.json still lists the run, so it can be deleted
        error = str(exc)
    try:
        metrics = run.metrics_summary()
    except (UnsafeFileError, OSError) as exc:
        metrics = runlog.Summary()
        damage.append(str(exc))
    g_params = d_params = None
    if config is not None:
        from gan_core.models import parameter_counts  # torch, only when a run is listed

        try:
            g_params, d_params = parameter_counts(config.model_config())
        except (ValueError, RuntimeError) as exc:
            error = f"cannot build its networks: {exc}"
    last, values = metrics.last, metrics.last_values
    steps = int(max(status.get("step", 0), last.get("step", 0)))
    # status.json's wall time is written at checkpoints; a live run's last metrics row is newer.
    wall = float(max(status.get("wall_time_s", 0.0), last.get("time_s", 0.0)))
    state = status.get("status", RunStatus.UNKNOWN)
    if state in ACTIVE and not training_elsewhere(run):
        state = RunStatus.INTERRUPTED  # its trainer's lock is gone: the process ended without a final status
    if damage:
        state, error = RunStatus.DAMAGED, "; ".join([*damage, error] if error else damage)
    return RunRecord(
        name=run.name, path=run.path,
        preset=config.preset if config else "", arch=config.arch if config else "?",
        created=created_time(run), status=state, steps=steps,
        total_steps=status.get("total_steps", 0), wall_time_s=wall,
        images_per_sec=metrics.images_per_sec,
        d_loss=last.get("d_loss"), g_loss=last.get("g_loss"),
        fid=values.get("fid"), coverage_classes=values.get("coverage_classes"),
        coverage_kl=values.get("coverage_kl"),
        g_params=g_params, d_params=d_params, config=config, error=error,
        world_size=status.get("world_size", 1),
    )


def checkpoint_rows(run: RunDir, metrics: runlog.Summary) -> list[dict[str, Any]]:
    """Each checkpoint with its size and the metrics row logged at its very step (None where the summary has none)."""
    at_step = {int(row["step"]): row for row in (*metrics.rows, *metrics.evaluated)}
    rows = []
    for step, path in reversed(run.checkpoints()):  # newest first, as the generator pickers list them
        row = at_step.get(step, {})
        try:
            size_mb: float | None = path.stat().st_size / 2**20
        except OSError:  # deleted by a pruning trainer between the listing and the stat
            size_mb = None
        rows.append({"step": step, "epoch": row.get("epoch"), "file": path.name, "size_mb": size_mb,
                     "fid": row.get("fid"), "coverage_classes": row.get("coverage_classes"),
                     "coverage_kl": row.get("coverage_kl")})
    return rows


def metrics_safely(run: RunDir) -> runlog.Summary:
    """The run's metrics summary (empty when the file cannot be read: a link, a FIFO, an I/O error)."""
    try:
        return run.metrics_summary()
    except (UnsafeFileError, OSError):
        return runlog.Summary()


def created_time(run: RunDir) -> float:
    """When the run started: config.json is rewritten on resume, the step-0 grid is not."""
    times = []
    for p in (run.config_path, run.samples_dir / "step_0000000.png"):
        with contextlib.suppress(OSError):
            times.append(p.lstat().st_mtime)
    return min(times) if times else 0.0


def list_records(root: Path | None = None) -> list[RunRecord]:
    """Every run under `root`, newest first."""
    return sorted((run_record(r) for r in list_runs(root)), key=lambda r: r.created, reverse=True)


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)
