"""Run folders: the one home of a training run on disk, from its layout to its listing, renaming and deletion.

    runs/<name>/
        config.json            the TrainConfig
        status.json            status, step, wall time, message (updated as the run goes)
        metrics.csv            one row per logged step
        samples/step_XXXXXXX.png   fixed-noise grids
        checkpoints/step_XXXXXXX.safetensors
        progress.gif           the grids as an animation

Here: the layout (`RunDir`), the statuses a run goes through (`RunStatus`), what a resume does to the folder
(`resume_point`, `RunDir.rewind`), whether a process is writing it now (`training_elsewhere`), the summaries that
listings and comparisons read (`RunRecord`), and renaming and deleting, which refuse a run that is training.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: RunLock falls back to the heartbeat's age
    fcntl = None  # type: ignore[assignment]

import numpy as np
from PIL import Image

from gan_core.config import ConfigError, TrainConfig
from gan_core.images import MAX_GIF_FRAMES, gif_bytes, png_bytes, thin_evenly
from gan_core.paths import atomic_write_bytes, atomic_write_text, default_runs_root

METRIC_FIELDS = (
    "step", "epoch", "time_s", "images_per_sec", "d_loss", "g_loss", "d_real", "d_fake",
    "fid", "coverage_classes", "coverage_kl",
)
_STEP_RE = re.compile(r"step_(\d+)\.")
HEARTBEAT_S = 20.0   # a trainer rewrites status.json this often while active (the lock's fallback reads its age)
LIVE_WINDOW_S = 120  # without fcntl: a run whose files changed this recently, with an active status, is training
MAX_GRIDS_ON_DISK = 2000  # a run keeps at most about this many grids (a grid every step would fill any disk)
RATE_ROWS = 5        # a listing's images/s is the mean of this many last metric rows (each already a moving average)


class RunStatus(str, Enum):
    """The status in status.json and in the trainer's snapshot (a str, so it compares equal to the bare word)."""

    def __str__(self) -> str:  # "running", not "RunStatus.RUNNING", in messages and f-strings (as StrEnum, 3.11+)
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    IDLE = "idle"                # no run in this server yet (the trainer's snapshot only)
    CREATED = "created"          # a forked run, not trained yet
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # listings only: an active status whose files went quiet, so its process died
    UNKNOWN = "unknown"          # listings only: no status.json


ACTIVE = frozenset({RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.STOPPING})


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def of_checkpoint(cls, checkpoint: str | Path) -> RunDir:
        """The run a checkpoint file belongs to (runs/<name>/checkpoints/step_N.safetensors)."""
        return cls(Path(checkpoint).parent.parent)

    # ------------------------------------------------------------------ layout
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def gif_path(self) -> Path:
        return self.path / "progress.gif"

    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, config: TrainConfig, root: Path | None = None) -> RunDir:
        """A fresh folder; the name is made unique rather than overwriting an older run."""
        root = Path(root or default_runs_root())
        base = config.name or f"{config.preset or config.arch}-{time.strftime('%Y%m%d-%H%M%S')}"
        name, n = base, 2
        while (root / name).exists():
            name, n = f"{base}-{n}", n + 1
        run = cls(root / name)
        run.path.mkdir(parents=True)
        run.write_config(config.replace(name=name))
        return run

    def write_config(self, config: TrainConfig) -> None:
        atomic_write_text(self.config_path, config.to_json())

    def read_config(self) -> TrainConfig:
        """The run's TrainConfig; ConfigError (never another exception) when config.json is missing or damaged."""
        try:
            data = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{self.path} is not a run folder (no config.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.config_path} is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.config_path} holds {type(data).__name__} {str(data)[:40]}, not a "
                              "configuration (a JSON object of TrainConfig fields)")
        try:
            return TrainConfig.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{self.config_path}: {exc}") from None
        except (TypeError, ValueError) as exc:  # e.g. "classes": 5
            raise ConfigError(f"{self.config_path} does not describe a valid run ({exc})") from None

    # ------------------------------------------------------------------ status
    def write_status(self, **fields: Any) -> None:
        status = self.read_status()
        status.update(fields, updated=time.time())
        atomic_write_text(self.status_path, json.dumps(status, indent=2))

    def read_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def steps_per_epoch(self) -> int | None:
        """Steps in one epoch, as the trainer recorded them (total_steps over the epochs; None before it did).

        With `max_steps` set the total is cut short, so no epoch length can be read off it.
        """
        config, total = self.read_config(), int(self.read_status().get("total_steps", 0))
        if config.max_steps or not total or not config.epochs:
            return None
        return total // config.epochs or None

    # ------------------------------------------------------------------ metrics
    def append_metrics(self, rows: list[dict[str, Any]]) -> None:
        new = not self.metrics_path.exists()
        with self.metrics_path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
            if new:
                writer.writeheader()
            for row in rows:
                writer.writerow({k: _fmt(row.get(k)) for k in METRIC_FIELDS})

    def read_metrics(self) -> list[dict[str, float]]:
        """The logged rows as numbers (see `_metric_rows` for what a crash can leave and is skipped)."""
        return [{k: float(v) for k, v in row.items() if v != ""} for row in self._metric_rows()]

    def truncate_metrics(self, last_step: int) -> None:
        """Drop rows logged after `last_step` (a resume from a checkpoint replays them), and any damaged line."""
        if not self.metrics_path.exists():
            return
        rows = [r for r in self._metric_rows() if float(r["step"]) <= last_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.metrics_path, buf.getvalue())

    def _metric_rows(self) -> list[dict[str, str]]:
        """metrics.csv's rows as text, without what a crash or a full disk can leave behind.

        Skipped: the part after the last newline (a line cut short, whose last number may read as another), lines
        with NUL bytes (a file extended but never written), rows with a missing or non-numeric field, and rows whose
        step is not after the previous row's.
        """
        try:
            text = self.metrics_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        lines = text.split("\n")[:-1]  # only lines that ended with their newline
        if not lines:
            return []
        header = next(csv.reader([lines[0]]))
        rows: list[dict[str, str]] = []
        last = -math.inf
        for line in lines[1:]:
            if not line or "\x00" in line:
                continue
            values = next(csv.reader([line]))
            if len(values) != len(header):
                continue
            row = dict(zip(header, values, strict=True))
            if not all(_is_number(v) for v in values if v) or not _is_number(row.get("step", "")):
                continue
            step = float(row["step"])
            if not math.isfinite(step) or step <= last:
                continue
            last = step
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ grids and GIF
    def save_grid(self, step: int, grid: np.ndarray) -> Path:
        """Save a grid; beyond MAX_GRIDS_ON_DISK, every other older grid goes (the first and the newest half stay)."""
        path = self.samples_dir / f"step_{step:07d}.png"
        atomic_write_bytes(path, png_bytes(grid))
        grids = self.grids()
        if len(grids) > MAX_GRIDS_ON_DISK:
            older = grids[1 : len(grids) // 2]
            for _, old in older[1::2]:
                old.unlink(missing_ok=True)
        return path

    def grids(self) -> list[tuple[int, Path]]:
        return _numbered(self.samples_dir, "*.png")

    def load_grid(self, path: Path) -> np.ndarray:
        return np.asarray(Image.open(path).convert("L"))

    def write_gif(self) -> Path | None:
        # Thin the paths before reading: a long run holds far more grids than a GIF shows.
        frames = [self.load_grid(p) for _, p in thin_evenly(self.grids(), MAX_GIF_FRAMES)]
        if not frames:
            return None
        atomic_write_bytes(self.gif_path, gif_bytes(frames))
        return self.gif_path

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"step_{step:07d}.safetensors"

    def checkpoints(self) -> list[tuple[int, Path]]:
        return _numbered(self.checkpoints_dir, "step_*.safetensors")

    def latest_checkpoint(self) -> Path | None:
        ckpts = self.checkpoints()
        return ckpts[-1][1] if ckpts else None

    def require_checkpoint(self) -> Path:
        """The latest checkpoint, or ValueError saying that the run has none yet."""
        latest = self.latest_checkpoint()
        if latest is None:
            raise ValueError(f"{self.path} has no checkpoints yet (looked in {self.checkpoints_dir})")
        return latest

    def prune_checkpoints(self, keep: int) -> None:
        """Keep the `keep` newest checkpoints (0: all). Call it only after the newest is in place."""
        if keep:
            for _, old in self.checkpoints()[:-keep]:
                old.unlink(missing_ok=True)

    def remove_temporaries(self) -> None:
        """Delete what a writer killed mid-write left (`.<name>.*.tmp`): call it only while holding the run's lock."""
        for tmp in self.path.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def rewind(self, step: int) -> None:
        """Forget what was logged and drawn after `step`: a resume from that step's checkpoint replays it."""
        self.truncate_metrics(step)
        for s, p in self.grids():
            if s > step:
                p.unlink()

    def fork(self, step: int, root: Path | None = None) -> RunDir:
        """A new run holding this one's history up to `step`, so a rollback loses nothing already saved."""
        config = self.read_config()
        forked = RunDir.create(config.replace(name=f"{self.name}-from-{step}"), root or self.path.parent)
        forked.samples_dir.mkdir(parents=True, exist_ok=True)
        for s, p in self.grids():
            if s <= step:
                shutil.copy2(p, forked.samples_dir / p.name)
        forked.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.checkpoint_path(step), forked.checkpoint_path(step))
        if self.metrics_path.exists():
            shutil.copy2(self.metrics_path, forked.metrics_path)
            forked.truncate_metrics(step)
        forked.write_status(status=RunStatus.CREATED, forked_from=f"{self.name}@{step}")
        return forked


def resume_point(path: str | Path, runs_root: Path | None = None) -> tuple[RunDir, Path, RunLock]:
    """The run and checkpoint a resume from `path` (a run folder or one checkpoint file) continues, locked.

    A checkpoint older than its run's latest forks a new run (under `runs_root`, else beside the old one), so the
    later history is kept. The run is locked before it is rewound to the checkpoint's step, so a run that another
    process trains is refused (RunBusyError) before anything of it is touched. The caller releases the lock.
    """
    path = Path(path)
    if path.is_dir():
        run = RunDir(path)
        ckpt = run.require_checkpoint()
    else:
        ckpt, run = path, RunDir.of_checkpoint(path)
    step = step_of(ckpt)
    latest = run.latest_checkpoint()
    if latest is not None and step_of(latest) > step:
        run = run.fork(step, runs_root or run.path.parent)
        ckpt = run.checkpoint_path(step)
    lock = RunLock.acquire(run)
    try:
        run.remove_temporaries()
        run.rewind(step)
    except BaseException:
        lock.release()
        raise
    return run, ckpt, lock


def resolve_run(arg: str, root: Path | None = None) -> RunDir:
    """A run from a folder path or from a name under the runs root."""
    path = Path(arg)
    if not path.is_dir():
        path = Path(root or default_runs_root()) / arg
    run = RunDir(path)
    if not run.config_path.is_file():
        where = f"{Path(arg)} or {path}" if str(path) != arg else arg
        raise ValueError(f"{where} is not a run folder (no config.json); `python -m gan_core runs` lists the runs")
    return run


# ------------------------------------------------------------------ records: what listings and comparisons read
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
    status = run.read_status()
    config: TrainConfig | None = None
    error = ""
    try:
        config = run.read_config()
    except ConfigError as exc:  # an unreadable config.json still lists the run, so it can be deleted
        error = str(exc)
    rows = read_metrics_safely(run)
    g_params = d_params = None
    if config is not None:
        from gan_core.models import parameter_counts  # torch, only when a run is listed

        try:
            g_params, d_params = parameter_counts(config.model_config())
        except (ValueError, RuntimeError) as exc:
            error = f"cannot build its networks: {exc}"
    last = rows[-1] if rows else {}
    rates = [r["images_per_sec"] for r in rows[-RATE_ROWS:] if "images_per_sec" in r]
    steps = int(max(status.get("step", 0), last.get("step", 0)))
    # status.json's wall time is written at checkpoints; a live run's last metrics row is newer.
    wall = float(max(status.get("wall_time_s", 0.0), last.get("time_s", 0.0)))
    state = status.get("status", RunStatus.UNKNOWN)
    if state in ACTIVE and not training_elsewhere(run):
        state = RunStatus.INTERRUPTED  # its trainer's lock is gone: the process ended without a final status
    return RunRecord(
        name=run.name, path=run.path,
        preset=config.preset if config else "", arch=config.arch if config else "?",
        created=created_time(run), status=state, steps=steps,
        total_steps=int(status.get("total_steps", 0)), wall_time_s=wall,
        images_per_sec=sum(rates) / len(rates) if rates else None,
        d_loss=last.get("d_loss"), g_loss=last.get("g_loss"),
        fid=_last(rows, "fid"), coverage_classes=_last(rows, "coverage_classes"), coverage_kl=_last(rows, "coverage_kl"),
        g_params=g_params, d_params=d_params, config=config, error=error,
        world_size=_whole(status.get("world_size"), default=1),
    )


def _whole(value: Any, default: int) -> int:
    """A whole number from status.json, or `default` for anything else (an older or damaged file)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else default


def checkpoint_rows(run: RunDir, metrics: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Each checkpoint with its size and the metrics.csv row logged at its very step (None where there is none)."""
    at_step = {int(row["step"]): row for row in metrics}
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


def read_metrics_safely(run: RunDir) -> list[dict[str, float]]:
    """The metrics rows ([] when the file cannot be read; RunDir already skips a line cut short by a crash)."""
    try:
        return run.read_metrics()
    except OSError:
        return []


def created_time(run: RunDir) -> float:
    """When the run started: config.json is rewritten on resume, the step-0 grid is not."""
    times = [p.stat().st_mtime for p in (run.config_path, run.samples_dir / "step_0000000.png") if p.exists()]
    return min(times) if times else 0.0


def list_records(root: Path | None = None) -> list[RunRecord]:
    """Every run under `root`, newest first."""
    return sorted((run_record(r) for r in list_runs(root)), key=lambda r: r.created, reverse=True)


# ------------------------------------------------------------------ rename and delete
def rename_run(run: RunDir, new_name: str, active_run_name: str | None = None, *,
               runs_root: Path | None = None) -> RunDir:
    """Rename the folder and the name in its config.json; returns the renamed run (a run folder inside the root only)."""
    _check_run_folder(run, runs_root, "rename")
    new_name = new_name.strip()
    if not new_name:
        raise ValueError("the new name is empty: type a name for the run")
    if new_name == run.name:
        raise ValueError(f"the run is already named {new_name!r}")
    config = run.read_config()
    config.replace(name=new_name)  # the same rule as a new run's name (raises ConfigError)
    _refuse_if_training(run, active_run_name, "rename")
    target = run.path.parent / new_name
    if target.exists():
        raise ValueError(f"a run named {new_name!r} already exists in {run.path.parent}: pick another name")
    created = run.config_path.stat()
    run.path.rename(target)
    renamed = RunDir(target)
    try:
        renamed.write_config(config.replace(name=new_name))
        os.utime(renamed.config_path, (created.st_atime, created.st_mtime))  # listings keep their order
    except OSError:
        target.rename(run.path)
        raise
    return renamed


def delete_run(run: RunDir, active_run_name: str | None = None, *, runs_root: Path | None = None) -> None:
    """Remove a run folder with its checkpoints; only ever a run folder directly inside the runs root."""
    _check_run_folder(run, runs_root, "delete")
    _refuse_if_training(run, active_run_name, "delete")
    shutil.rmtree(run.path)


def _check_run_folder(run: RunDir, runs_root: Path | None, verb: str) -> None:
    """Rename and delete touch only a real run folder directly inside the runs root, never a path given by a link."""
    root = Path(runs_root or default_runs_root()).resolve()
    if run.path.is_symlink() or run.path.resolve().parent != root:
        raise ValueError(f"{run.path} is not a run folder inside {root}: refusing to {verb} it")
    if not run.config_path.is_file():
        raise ValueError(f"{run.path} is not a run folder (no config.json): refusing to {verb} it")


def training_elsewhere(run: RunDir) -> bool:
    """True while a process trains this run: its lock is held (by another process, or by this one's trainer)."""
    return RunLock.holder(run) is not None


def _refuse_if_training(run: RunDir, active_run_name: str | None, verb: str) -> None:
    if active_run_name and run.name == active_run_name:
        raise ValueError(f"run {run.name!r} is training: stop it on the Train page before you {verb} it")
    holder = RunLock.holder(run)
    if holder is not None:
        raise RunBusyError(f"run {run.name!r} is being trained by another process ({holder}): stop that training "
                           f"before you {verb} it")


# ------------------------------------------------------------------ the run lock
class RunBusyError(ValueError):
    """Another process trains this run (it holds the run's lock)."""


class RunLock:
    """An OS lock on runs/<name>/.lock, held by the one process that trains the run, for as long as it trains it.

    The kernel releases it when that process ends, however it ends (kill -9 included), so a run whose status still
    says "running" but whose lock is free was interrupted. Where the OS has no `fcntl` (Windows), the lock is
    emulated by status.json's age: a run whose trainer wrote no heartbeat for LIVE_WINDOW_S counts as free.
    """

    def __init__(self, run: RunDir, fd: int | None) -> None:
        self.run, self._fd = run, fd

    @classmethod
    def acquire(cls, run: RunDir) -> RunLock:
        """Take the lock, or raise RunBusyError naming the process that holds it."""
        run.path.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            if _recently_written(run) and run.read_status().get("status") in ACTIVE:
                raise RunBusyError(f"run {run.name!r} is being trained by another process (its files changed in "
                                   f"the last {LIVE_WINDOW_S} s): stop that training first")
            return cls(run, None)
        fd = os.open(run.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunBusyError(f"run {run.name!r} is being trained by another process "
                               f"({cls._describe(run)}): stop that training first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        return cls(run, fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @classmethod
    def holder(cls, run: RunDir) -> str | None:
        """Who holds the run's lock ("pid N on HOST"), or None when nobody trains it now."""
        if fcntl is None:
            active = run.read_status().get("status") in ACTIVE and _recently_written(run)
            return "a process that wrote its files in the last two minutes" if active else None
        try:
            fd = os.open(run.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return cls._describe(run)
        finally:
            os.close(fd)  # closing drops the probe's own shared lock, if it got one
        return None

    @staticmethod
    def _describe(run: RunDir) -> str:
        try:
            return run.lock_path.read_text().strip() or "a process"
        except OSError:
            return "a process"


def _recently_written(run: RunDir, within_s: float = LIVE_WINDOW_S) -> bool:
    times = [p.stat().st_mtime for p in (run.status_path, run.metrics_path) if p.exists()]
    return bool(times) and time.time() - max(times) < within_s


def list_runs(root: Path | None = None) -> list[RunDir]:
    root = Path(root or default_runs_root())
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda r: r.config_path.stat().st_mtime, reverse=True)


def step_of(path: Path) -> int:
    m = _STEP_RE.search(path.name)
    if not m:
        raise ValueError(f"{path.name} is not named step_<number>")
    return int(m.group(1))


def _numbered(folder: Path, pattern: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    return sorted((step_of(p), p) for p in folder.glob(pattern) if _STEP_RE.search(p.name))


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _last(rows: list[dict[str, float]], key: str) -> float | None:
    return next((r[key] for r in reversed(rows) if key in r), None)


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
