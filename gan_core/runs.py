"""Run folders: the one home of a training run on disk, from its layout to its listing, renaming and deletion.

    runs/<name>/
        config.json            the TrainConfig
        status.json            status, step, wall time, message (updated as the run goes)
        metrics.csv            one row per logged step
        samples/step_XXXXXXX.png   fixed-noise grids
        checkpoints/step_XXXXXXX.safetensors
        progress.gif           the grids as an animation

Here: the layout (`RunDir`), the statuses a run goes through (`RunStatus`), what a resume does to the folder
(`resume_point`, `RunDir.rewind`), whether a process is writing it now (`RunLock`, `training_elsewhere`), the
summaries that listings and comparisons read (`RunRecord`), and renaming and deleting, which hold the run's lock.
A run folder may come from elsewhere: nothing in it is followed or waited on (`check_layout`, gan_core.paths'
readers), every file is checked by type and size, and a damaged run is listed as such with the reason. metrics.csv
itself is gan_core.runlog's.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import math
import os
import re
import shutil
import socket
import stat
import struct
import sys
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

from gan_core import runlog
from gan_core.config import ConfigError, TrainConfig
from gan_core.images import MAX_GIF_FRAMES, gif_bytes, png_bytes, thin_evenly
from gan_core.paths import (
    UnsafeFileError,
    atomic_write_bytes,
    atomic_write_text,
    default_runs_root,
    open_regular,
    read_json,
    read_regular,
)

_STEP_RE = re.compile(r"step_(\d+)\.")
HEARTBEAT_S = 20.0   # a trainer rewrites status.json this often while active (the lock's fallback reads its age)
LIVE_WINDOW_S = 120  # without fcntl: a run whose files changed this recently, with an active status, is training
MAX_GRIDS_ON_DISK = 2000  # a run keeps at most about this many grids (a grid every step would fill any disk)
MAX_CONFIG_BYTES = 256 * 2**10  # a config.json is about 1.5 KB; anything this large is not one
MAX_STATUS_BYTES = 64 * 2**10   # a status.json is a few hundred bytes, its message included
MAX_LOCK_BYTES = 4 * 2**10      # ".lock" holds one line: "pid N on HOST"
MAX_GRID_BYTES = 32 * 2**20     # a 100-image grid's PNG is about 90 KB
MAX_GRID_PIXELS = 2048 * 2048   # a 100-image grid is 302 x 302 pixels
MAX_GIF_BYTES = 256 * 2**20     # 120 frames of the largest grid, uncompressed, are about 11 MB
MAX_TEXT = 4000                 # characters kept of a string field of status.json (a message)


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
    DAMAGED = "damaged"          # listings only: a file of the run is a link, a special file or not what it claims


class DamagedRunError(ValueError):
    """A file in a run folder is damaged, hostile (a link, a FIFO) or of the wrong shape; the message says which."""


# status.json's fields and what each must be; any other field is ignored. The statuses a file may hold are those
# a trainer writes (idle, interrupted, unknown and damaged are what listings make of a run, never written).
_RUN_STATES = ("created", "starting", "running", "paused", "stopping", "finished", "stopped", "failed")
_WHOLE, _NUMBER, _TEXT = "a whole number >= 0", "a finite number >= 0", "text"
STATUS_FIELDS = {
    "status": "one of " + ", ".join(map(repr, _RUN_STATES)),
    "step": _WHOLE, "total_steps": _WHOLE, "world_size": "a whole number >= 1", "wall_time_s": _NUMBER,
    "updated": _NUMBER, "message": _TEXT, "last_checkpoint": _TEXT, "forked_from": _TEXT,
}


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
            data = read_json(self.config_path, MAX_CONFIG_BYTES)
        except FileNotFoundError:
            raise ConfigError(f"{self.path} is not a run folder (no config.json)") from None
        except (UnsafeFileError, OSError) as exc:
            raise ConfigError(str(exc)) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.config_path} holds {type(data).__name__} {str(data)[:40]}, not a "
                              "configuration (a JSON object of TrainConfig fields)")
        try:
            return TrainConfig.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{self.config_path}: {exc}") from None
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # e.g. "classes": 5
            raise ConfigError(f"{self.config_path} does not describe a valid run ({str(exc)[:200]})") from None

    # ------------------------------------------------------------------ status
    def write_status(self, **fields: Any) -> None:
        """Update status.json (atomically); a damaged one is replaced by what is known now."""
        try:
            status = self.read_status()
        except DamagedRunError:
            status = {}
        status.update(fields, updated=time.time())
        atomic_write_text(self.status_path, json.dumps(status, indent=2))

    def read_status(self) -> dict[str, Any]:
        """status.json's fields, each checked against STATUS_FIELDS ({} when there is none yet).

        DamagedRunError, naming the file and the field, when it is a link, a special file, too large, not a JSON
        object, or a field is of the wrong type: a listing shows the run as damaged, and the trainer rewrites it.
        """
        try:
            data = read_json(self.status_path, MAX_STATUS_BYTES)
        except FileNotFoundError:
            return {}
        except (UnsafeFileError, OSError) as exc:
            raise DamagedRunError(str(exc)) from None
        if not isinstance(data, dict):
            raise DamagedRunError(f"{self.status_path} holds {type(data).__name__}, not a JSON object of status fields")
        status: dict[str, Any] = {}
        for key, value in data.items():
            if key in STATUS_FIELDS:
                if not _valid_status_field(key, value):
                    raise DamagedRunError(f"{self.status_path}: {key!r} is {str(value)[:40]!r}, where it must be "
                                          f"{STATUS_FIELDS[key]}")
                status[key] = value[:MAX_TEXT] if isinstance(value, str) else value
        return status

    def steps_per_epoch(self) -> int | None:
        """Steps in one epoch, as the trainer recorded them (total_steps over the epochs; None before it did).

        With `max_steps` set the total is cut short, so no epoch length can be read off it.
        """
        try:
            config, total = self.read_config(), self.read_status().get("total_steps", 0)
        except (ConfigError, DamagedRunError):
            return None
        if config.max_steps or not total or not config.epochs:
            return None
        return total // config.epochs or None

    # ------------------------------------------------------------------ metrics (gan_core.runlog)
    def append_metrics(self, rows: list[dict[str, Any]]) -> None:
        runlog.append(self.metrics_path, rows)

    def read_metrics(self) -> list[dict[str, float]]:
        """Every logged row as numbers (streamed; what a crash can leave is skipped). Views read `metrics_summary`."""
        try:
            return runlog.rows(self.metrics_path)
        except FileNotFoundError:
            return []

    def metrics_summary(self) -> runlog.Summary:
        """The last row, each column's last value, a thinned series: read incrementally, bounded in size."""
        return runlog.summary(self.metrics_path)

    def truncate_metrics(self, last_step: int) -> None:
        """Drop rows logged after `last_step` (a resume from a checkpoint replays them), and any damaged line."""
        runlog.truncate(self.metrics_path, last_step)

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
        """A saved grid: a plain PNG file of sane size and dimensions (never a link, a FIFO or a decompression bomb).

        DamagedRunError naming the file when it is not one; FileNotFoundError when it is gone (pruned meanwhile).
        """
        try:
            data = read_regular(path, MAX_GRID_BYTES)
        except UnsafeFileError as exc:
            raise DamagedRunError(str(exc)) from None
        try:
            with Image.open(io.BytesIO(data)) as img:  # reads the header only: the size is known before decoding
                if img.width * img.height > MAX_GRID_PIXELS:
                    raise DamagedRunError(f"{path} is a {img.width} x {img.height} image, larger than any grid a run "
                                          "draws: it is not one of this app's; remove it")
                return np.asarray(img.convert("L"))
        except DamagedRunError:
            raise
        except Exception as exc:  # PIL's errors for a damaged PNG are of many types (OSError, SyntaxError, ...)
            raise DamagedRunError(f"{path} is not a readable PNG image ({type(exc).__name__}: {str(exc)[:120]})") \
                from None

    def write_gif(self) -> Path | None:
        """The progress GIF from the grids; a grid that cannot be read (cut short, removed meanwhile) is left out."""
        frames = []
        for _, p in thin_evenly(self.grids(), MAX_GIF_FRAMES):  # thinned first: a long run holds far more grids
            with contextlib.suppress(OSError, DamagedRunError):
                frames.append(self.load_grid(p))
        if not frames:
            return None
        atomic_write_bytes(self.gif_path, gif_bytes(frames))
        return self.gif_path

    def read_gif(self) -> bytes:
        """progress.gif's bytes (a plain file of sane size); DamagedRunError when it is a link, a FIFO or too large,
        FileNotFoundError when the run has none yet."""
        try:
            return read_regular(self.gif_path, MAX_GIF_BYTES)
        except UnsafeFileError as exc:
            raise DamagedRunError(str(exc)) from None

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
        """A new run holding this one's history up to `step`, so a rollback loses nothing already saved.

        Made under this run's lock (so no trainer prunes or rewinds what is copied) in a hidden folder that is renamed
        into place only when complete: a failure leaves no half-made run behind.
        """
        config = self.read_config()
        source = self.checkpoint_path(step)
        lock = RunLock.acquire(self)
        try:
            root = Path(root or self.path.parent)
            base = f"{self.name}-from-{step}"
            work = RunDir(root / f".{base}.{os.getpid()}.forking")
            shutil.rmtree(work.path, ignore_errors=True)
            try:
                work.path.mkdir(parents=True)
                work.samples_dir.mkdir()
                for s, p in self.grids():
                    if s <= step:
                        _copy_regular(p, work.samples_dir / p.name)
                work.checkpoints_dir.mkdir()
                _copy_regular(source, work.checkpoint_path(step))
                with contextlib.suppress(FileNotFoundError):
                    _copy_regular(self.metrics_path, work.metrics_path)
                    work.truncate_metrics(step)
                work.write_status(status=RunStatus.CREATED, forked_from=f"{self.name}@{step}")
                name, n = base, 2
                while True:
                    work.write_config(config.replace(name=name))
                    target = root / name
                    if not target.exists():
                        try:
                            os.rename(work.path, target)  # atomic; refused if the name was taken meanwhile
                            return RunDir(target)
                        except OSError:
                            if not work.path.is_dir():
                                raise
                    name, n = f"{base}-{n}", n + 1
            except BaseException:
                shutil.rmtree(work.path, ignore_errors=True)
                raise
        finally:
            lock.release()


def _copy_regular(src: Path, dst: Path) -> None:
    """Copy a run's file into a new folder: DamagedRunError when `src` is a link or a special file (a fork copies
    contents, never a link that would point the new run anywhere, nor blocks on a FIFO)."""
    try:
        fd = open_regular(src)
    except UnsafeFileError as exc:
        raise DamagedRunError(str(exc)) from None
    with os.fdopen(fd, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def resume_point(path: str | Path, runs_root: Path | None = None) -> tuple[RunDir, Path, RunLock]:
    """The run and checkpoint a resume from `path` (a run folder or one checkpoint file) continues, locked.

    A checkpoint older than its run's latest forks a new run (under `runs_root`, else beside the old one), so the
    later history is kept. The run is locked before it is rewound to the checkpoint's step, so a run that another
    process trains is refused (RunBusyError) before anything of it is touched. The caller releases the lock.
    """
    path = Path(path)
    run = run_of(path)
    check_layout(run)  # before anything is read, or written through a link or into a FIFO
    ckpt = run.require_checkpoint() if path.is_dir() else path
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


def run_of(path: str | Path) -> RunDir:
    """The run a path names: a run folder itself, or the run a checkpoint file inside one belongs to."""
    path = Path(path)
    return RunDir(path) if path.is_dir() else RunDir.of_checkpoint(path)


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


def _valid_status_field(key: str, value: Any) -> bool:
    if key == "status":
        return value in _RUN_STATES
    expected = STATUS_FIELDS[key]
    if expected == _TEXT:
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if expected == _NUMBER:
        return math.isfinite(value) and value >= 0
    return isinstance(value, int) and value >= (1 if key == "world_size" else 0)


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
    lock = _lock_for(run, "rename")  # held while renaming: no resume can start in between (the lock moves along)
    try:
        created = run.config_path.stat()
        run.path.rename(target)
        renamed = RunDir(target)
        try:
            renamed.write_config(config.replace(name=new_name))
            os.utime(renamed.config_path, (created.st_atime, created.st_mtime))  # listings keep their order
        except OSError:
            target.rename(run.path)
            raise
    finally:
        lock.release()
    return renamed


def delete_run(run: RunDir, active_run_name: str | None = None, *, runs_root: Path | None = None) -> None:
    """Remove a run folder with its checkpoints; only ever a run folder directly inside the runs root."""
    _check_run_folder(run, runs_root, "delete")
    _refuse_if_training(run, active_run_name, "delete")
    lock = _lock_for(run, "delete")  # held while deleting: no resume can start on a half-deleted folder
    try:
        shutil.rmtree(run.path)  # never follows a link inside the folder: it removes the link itself
    finally:
        lock.release()


def _check_run_folder(run: RunDir, runs_root: Path | None, verb: str) -> None:
    """Rename and delete touch only a real run folder directly inside the runs root, never a path given by a link.

    A damaged run (a link or a FIFO inside it, a bad config.json) can still be deleted: that is how it goes away.
    """
    root = Path(runs_root or default_runs_root()).resolve()
    if run.path.is_symlink() or run.path.resolve().parent != root:
        raise ValueError(f"{run.path} is not a run folder inside {root}: refusing to {verb} it")
    if not os.path.lexists(run.config_path):  # any entry named config.json: a damaged one too
        raise ValueError(f"{run.path} is not a run folder (no config.json): refusing to {verb} it")


def _lock_for(run: RunDir, verb: str) -> RunLock:
    """The run's lock for a rename or delete; a .lock that is a link or a FIFO is removed first (deleting or renaming
    the folder is the way out of such a run, and the removed entry is only a name in it, never what it points to)."""
    try:
        return RunLock.acquire(run)
    except DamagedRunError:
        if run.lock_path.is_symlink() or (run.lock_path.exists() and not run.lock_path.is_file()):
            run.lock_path.unlink()
            return RunLock.acquire(run)
        raise


def training_elsewhere(run: RunDir) -> bool:
    """True while a process trains this run: its lock is held (by another process, or by this one's trainer)."""
    return RunLock.holder(run) is not None


def check_layout(run: RunDir) -> None:
    """DamagedRunError when the folder, or an entry a run writes or reads in it, is a link or a special file.

    Called before a run is resumed (whose writes would otherwise go where a link points, or block on a FIFO) and by
    listings (which then show the run as damaged with the reason).
    """
    if run.path.is_symlink():
        raise DamagedRunError(f"{run.path} is a symbolic link, not a run folder: open the folder it points to instead")
    entries = {run.lock_path: "file", run.config_path: "file", run.status_path: "file", run.metrics_path: "file",
               run.gif_path: "file", run.samples_dir: "folder", run.checkpoints_dir: "folder"}
    for path, kind in entries.items():
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        ok = stat.S_ISREG(mode) if kind == "file" else stat.S_ISDIR(mode)
        if not ok:
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular " + kind
            raise DamagedRunError(f"{path} is {what}: a run's files must be plain files and folders (a link could "
                                  "point anywhere, a FIFO would block); delete the run, or replace it with the file")


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
        """Take the lock, or raise RunBusyError naming the process that holds it (DamagedRunError when `.lock` is a
        link or a special file: it is never followed, truncated or waited on)."""
        run.path.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            if _recently_written(run) and run.read_status().get("status") in ACTIVE:
                raise RunBusyError(f"run {run.name!r} is being trained by another process (its files changed in "
                                   f"the last {LIVE_WINDOW_S} s): stop that training first")
            return cls(run, None)
        try:
            fd = open_regular(run.lock_path, os.O_RDWR | os.O_CREAT)
        except UnsafeFileError as exc:
            raise DamagedRunError(str(exc)) from None
        try:
            _take(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunBusyError(f"run {run.name!r} is being trained by another process "
                               f"({cls._describe(run)}): stop that training first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        return cls(run, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the one descriptor that holds it releases the lock
            self._fd = None

    @classmethod
    def holder(cls, run: RunDir) -> str | None:
        """Who holds the run's lock ("pid N on HOST"), or None when nobody trains it now.

        Asked without taking the lock (Linux's open-file-description locks answer F_OFD_GETLK), so a probe never
        makes a concurrent acquire fail; elsewhere a shared flock is tried and dropped at once. A `.lock` that is
        a link or a special file holds no lock: None (listings show the run as damaged, `check_layout`).
        """
        if fcntl is None:
            active = run.read_status().get("status") in ACTIVE and _recently_written(run)
            return "a process that wrote its files in the last two minutes" if active else None
        try:
            fd = open_regular(run.lock_path)
        except (FileNotFoundError, UnsafeFileError):  # a link or a FIFO as .lock is nobody's lock (check_layout)
            return None
        try:
            held = _is_held(fd)
        finally:
            os.close(fd)
        return cls._describe(run) if held else None

    @staticmethod
    def _describe(run: RunDir) -> str:
        try:
            text = read_regular(run.lock_path, MAX_LOCK_BYTES).decode("utf-8", errors="replace").strip()
        except (OSError, UnsafeFileError):
            return "a process"
        return printable(text)[:200] or "a process"


# Linux's open-file-description locks: owned by the open file (like flock, so a lock is never dropped by another
# descriptor of the same file closing) and queryable with F_OFD_GETLK without being taken. struct flock on 64-bit
# Linux: l_type, l_whence, padding, l_start, l_len, l_pid, padding (32 bytes).
_FLOCK = "hhxxxxqqixxxx"
_OFD = (fcntl is not None and sys.platform.startswith("linux") and hasattr(fcntl, "F_OFD_SETLK")
        and struct.calcsize(_FLOCK) == 32 and sys.maxsize > 2**32)


def _take(fd: int) -> None:
    """An exclusive lock on the whole file, or OSError (EAGAIN/EACCES) when another open file holds one."""
    if _OFD:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
        return
    for attempt in range(20):  # flock's probe takes a shared lock for microseconds: a trainer holds it for good
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == 19:
                raise
            time.sleep(0.005)


def _is_held(fd: int) -> bool:
    if _OFD:
        answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
        return struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False  # closing the descriptor drops the probe's shared lock


def printable(text: str) -> str:
    """`text` without control characters (a hostile file's terminal escapes must not reach a terminal or a page)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _recently_written(run: RunDir, within_s: float = LIVE_WINDOW_S) -> bool:
    times = [_mtime(p) for p in (run.status_path, run.metrics_path)]  # 0.0 for a file gone meanwhile
    return time.time() - max(times) < within_s


def list_runs(root: Path | None = None) -> list[RunDir]:
    root = Path(root or default_runs_root())
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if not p.name.startswith(".") and _has_config(p)]
    return sorted(runs, key=lambda r: _mtime(r.config_path), reverse=True)


def _has_config(folder: Path) -> bool:
    """A run folder has a config.json entry (checked without following it: a damaged run is still listed)."""
    try:
        return folder.is_dir() and (folder / "config.json").lstat() is not None
    except OSError:
        return False


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def step_of(path: Path) -> int:
    m = _STEP_RE.search(path.name)
    if not m:
        raise ValueError(f"{path.name} is not named step_<number>")
    return int(m.group(1))


def _numbered(folder: Path, pattern: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    return sorted((step_of(p), p) for p in folder.glob(pattern) if _STEP_RE.search(p.name))


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)

