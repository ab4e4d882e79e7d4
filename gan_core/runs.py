"""A run folder on disk, the one record of a training run that every view reads.

    runs/<name>/
        config.json            the TrainConfig
        status.json            status, step, wall time, message (updated as the run goes)
        metrics.csv            one row per logged step
        samples/step_XXXXXXX.png   fixed-noise grids
        checkpoints/step_XXXXXXX.safetensors
        progress.gif           the grids as an animation
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gan_core.checkpoints import atomic_write_bytes, atomic_write_text
from gan_core.config import ConfigError, TrainConfig
from gan_core.images import MAX_GIF_FRAMES, gif_bytes, png_bytes, thin_evenly

METRIC_FIELDS = (
    "step", "epoch", "time_s", "images_per_sec", "d_loss", "g_loss", "d_real", "d_fake",
    "fid", "coverage_classes", "coverage_kl",
)
_STEP_RE = re.compile(r"step_(\d+)\.")


def default_runs_root() -> Path:
    return Path(os.environ.get("GAN_STUDIO_RUNS", "runs"))


@dataclass(frozen=True)
class RunDir:
    path: Path

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
        try:
            return TrainConfig.from_dict(json.loads(self.config_path.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"{self.path} is not a run folder (no config.json)") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.config_path} is not valid JSON ({exc})") from None

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
        if not self.metrics_path.exists():
            return []
        rows = []
        with self.metrics_path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                try:  # a line cut short by a crash is skipped, not fatal
                    rows.append({k: float(v) for k, v in row.items() if k and v not in ("", None)})
                except (TypeError, ValueError):
                    continue
        return [r for r in rows if "step" in r]

    def truncate_metrics(self, last_step: int) -> None:
        """Drop rows logged after `last_step` (a resume from a checkpoint replays them)."""
        if not self.metrics_path.exists():
            return
        with self.metrics_path.open(newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if int(float(r["step"])) <= last_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.metrics_path, buf.getvalue())

    # ------------------------------------------------------------------ grids and GIF
    def save_grid(self, step: int, grid: np.ndarray) -> Path:
        path = self.samples_dir / f"step_{step:07d}.png"
        atomic_write_bytes(path, png_bytes(grid))
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
        forked.write_status(status="created", forked_from=f"{self.name}@{step}")
        return forked


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
