"""One run folder: its layout, what each file holds (every read checked by type and size), and which run a path names.

Nothing in a folder is followed or waited on: it may come from elsewhere (`check_layout`, gan_core.paths' readers).
metrics.csv itself is gan_core.runlog's; who trains the run is gan_core.runs.lock's.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    read_json,
    read_regular,
)
from gan_core.runs.status import DamagedRunError, checked_status

_STEP_RE = re.compile(r"step_(\d+)\.")
MAX_GRIDS_ON_DISK = 2000  # a run keeps at most about this many grids (a grid every step would fill any disk)
MAX_CONFIG_BYTES = 256 * 2**10  # a config.json is about 1.5 KB; anything this large is not one
MAX_STATUS_BYTES = 64 * 2**10   # a status.json is a few hundred bytes, its message included
MAX_GRID_BYTES = 32 * 2**20     # a 100-image grid's PNG is about 90 KB
MAX_GRID_PIXELS = 2048 * 2048   # a 100-image grid is 302 x 302 pixels
MAX_GIF_BYTES = 256 * 2**20     # 120 frames of the largest grid, uncompressed, are about 11 MB


@dataclass(frozen=True)
class RunDir:
    """A run folder (runs/<name>/, the package's docstring shows its files): where each file is, and reading and
    writing each, checked."""

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
        return checked_status(data, self.status_path)

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


def step_of(path: Path) -> int:
    m = _STEP_RE.search(path.name)
    if not m:
        raise ValueError(f"{path.name} is not named step_<number>")
    return int(m.group(1))


def _numbered(folder: Path, pattern: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    return sorted((step_of(p), p) for p in folder.glob(pattern) if _STEP_RE.search(p.name))


def mtime(path: Path) -> float:
    """When `path` itself (never what a link points to) last changed; 0.0 when it is gone."""
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def run_of(path: str | Path) -> RunDir:
    """The run a path names: a run folder itself, or the run a checkpoint file inside one belongs to."""
    path = Path(path)
    return RunDir(path) if path.is_dir() else RunDir.of_checkpoint(path)


def checkpoint_of(path: str | Path) -> Path:
    """The checkpoint a path names: a run folder's latest (ValueError when it has none yet), or the file itself."""
    path = Path(path)
    return RunDir(path).require_checkpoint() if path.is_dir() else path


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
