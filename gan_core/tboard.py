"""A run in TensorBoard: its metrics rows as scalars and its fixed-noise grids as images, in runs/<name>/tensorboard/.

One home for what a run looks like there, used while it trains (`gan_core.recorder.RunRecorder`, with the config's
`tensorboard` on) and afterwards (`python -m gan_core tensorboard RUN`, from metrics.csv and the saved grids), so the
two write the same tags. Every numeric column of a metrics row but step, epoch and time_s becomes a scalar under a
tag group (`tag_of`): a column added to the rows later (e.g. another gradient norm) appears without a change here.

Optional: the event files are written by `torch.utils.tensorboard.SummaryWriter`, which needs the `tensorboard`
package. Without it the rest of the app works; asking for TensorBoard output is refused before a run starts, with
how to install it (`require`). (Not named tensorboard.py: that would shadow the package.)
"""

from __future__ import annotations

import bisect
import math
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gan_core.config import ConfigError, TrainConfig
from gan_core.images import png_bytes
from gan_core.runs import DamagedRunError, RunDir, RunLock, check_layout, created_time

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

EVENTS_DIR = "tensorboard"          # runs/<name>/tensorboard/: `tensorboard --logdir runs` lists it as <name>/tensorboard
EVENT_GLOB = "events.out.tfevents.*"
FLUSH_S = 10                        # seconds between writes to disk while training (SummaryWriter's default is 120):
                                    # TensorBoard shows a run at most this far behind, as the live view's grid
GRID_TAG = "samples/fixed_noise"
NOT_SCALARS = ("step", "epoch", "time_s")  # the x axes TensorBoard has already (step, wall time), not curves
# The columns of gan_core.runlog.METRIC_FIELDS, each in its group; others go by `tag_of`'s rules.
TAGS: dict[str, str] = {
    "d_loss": "loss/d", "g_loss": "loss/g",
    "d_real": "D/real", "d_fake": "D/fake",  # D(x) and D(G(z)), as probabilities of "real"
    "fid": "eval/fid", "coverage_classes": "eval/coverage_classes", "coverage_kl": "eval/coverage_kl",
    "images_per_sec": "speed/images_per_sec",
    "lr_g": "lr/g", "lr_d": "lr/d",  # the rates the row's last step took (the anneal's curve, as trained)
}
INSTALL = ("TensorBoard output needs the `tensorboard` package, which is not installed here: install it with "
           "`.venv/bin/pip install 'tensorboard>=2.16'` (or rerun `bash scripts/bootstrap.sh`, which installs "
           "requirements.txt)")


class TensorBoardMissing(ConfigError):
    """TensorBoard output was asked for and the `tensorboard` package is not installed."""


def require() -> type[SummaryWriter]:
    """SummaryWriter, or TensorBoardMissing saying how to install it (imported on each call: cached by Python)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardMissing(INSTALL) from None
    return SummaryWriter


def check(config: TrainConfig) -> None:
    """Refuse a config that asks for TensorBoard output where the package is missing (before any folder exists)."""
    if config.tensorboard:
        try:
            require()
        except TensorBoardMissing as exc:
            raise TensorBoardMissing(f"{exc}; or turn “Write TensorBoard event files” off (no --tensorboard)") from None


# ----------------------------------------------------------------------------- what is written
def tag_of(column: str) -> str:
    """A metrics column's tag: its group and name (`grad_norm_g` → grad_norm/g, `grad_norm_d/body.0` →
    grad_norm/d/body.0; an unknown column goes under metrics/)."""
    if column in TAGS:
        return TAGS[column]
    if column.startswith("grad_norm_"):
        return "grad_norm/" + column[len("grad_norm_"):]
    return "metrics/" + column


def scalars(row: Mapping[str, Any]) -> dict[str, float]:
    """The tags and values a metrics row is written as: every finite number but step, epoch and time_s."""
    out = {}
    for column, value in row.items():
        if column in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            out[tag_of(column)] = float(value)
    return out


def write_row(writer: SummaryWriter, row: Mapping[str, Any], walltime: float | None = None) -> None:
    """One metrics row as scalars at its step (`walltime`: when it was logged; None: now).

    One event holding every scalar of the row, each as SummaryWriter.add_scalar writes it (a float `simple_value`):
    a row of 19 columns took 0.22-0.37 ms against 1.25 ms as 19 events, each with its own record and checksums, and
    half the bytes (benchmarks/tensorboard_cost.py, 2026-12-06, a busy 2-core machine).
    """
    from tensorboard.compat.proto.summary_pb2 import Summary  # there whenever SummaryWriter is (torch imports it)

    values = [Summary.Value(tag=tag, simple_value=value) for tag, value in scalars(row).items()]
    writer.file_writer.add_summary(Summary(value=values), int(row["step"]), walltime)


def write_grid(writer: SummaryWriter, step: int, grid: np.ndarray, walltime: float | None = None,
               png: bytes | None = None) -> None:
    """A fixed-noise grid (uint8, H x W, as RunDir and GanStep.sample_grid have it) as an image at its step.

    `png`: the grid already encoded (the PNG the run just saved), so nothing is encoded twice. Written as the
    grayscale PNG itself: SummaryWriter.add_image makes it RGB and encodes it again, 107 ms against 32 ms for a
    100-image grid of real images on a busy 2-core machine (2026-12-06), and at a grid every 10 s the grids are most
    of TensorBoard's cost (benchmarks/tensorboard_cost.py).
    """
    if grid.ndim != 2 or grid.dtype != np.uint8:
        raise ValueError(f"a grid is a 2-D uint8 image; got shape {grid.shape} of {grid.dtype}")
    from tensorboard.compat.proto.summary_pb2 import Summary  # there whenever SummaryWriter is (torch imports it)

    image = Summary.Image(height=grid.shape[0], width=grid.shape[1], colorspace=1,  # 1: grayscale
                          encoded_image_string=png if png is not None else png_bytes(grid))
    writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=GRID_TAG, image=image)]), step, walltime)


# ----------------------------------------------------------------------------- a run's folder of event files
def events_dir(run: RunDir) -> Path:
    return run.path / EVENTS_DIR


def event_files(run: RunDir) -> list[Path]:
    """The run's event files (none when it has no tensorboard/ folder)."""
    folder = events_dir(run)
    return sorted(folder.glob(EVENT_GLOB)) if _real_folder(folder) else []


def open_writer(run: RunDir, purge_step: int | None = None) -> SummaryWriter:
    """A writer adding an event file to the run's tensorboard/ folder (made if missing, never through a link).

    `purge_step`: TensorBoard hides what earlier files logged at this step or later (SummaryWriter's purge_step
    writes a session-start event there), so a run rewound to a checkpoint does not show its curves doubling back.
    """
    writer_class = require()
    folder = events_dir(run)
    if not _real_folder(folder):
        folder.mkdir()
    return writer_class(str(folder), purge_step=purge_step, flush_secs=FLUSH_S)


def resume_writer(run: RunDir, step: int) -> SummaryWriter:
    """The writer of a run that trains on from `step` (0: a new run), continuing its event files.

    With event files already there, anything they hold after `step` is purged (a resume replays it). Without (the
    run trained without TensorBoard until now, or was forked from another), its history up to `step` is written
    first, from metrics.csv and the grids, so its curves start where the run did.
    """
    had = bool(event_files(run))
    writer = open_writer(run, purge_step=step + 1 if had else None)
    if not had and step:
        try:
            write_history(writer, run)
        except BaseException:
            writer.close()
            raise
    return writer


@dataclass(frozen=True)
class Exported:
    """What `write_history` wrote of a run."""

    rows: int
    grids: int
    skipped_grids: tuple[str, ...] = ()  # grids that could not be read (damaged, or removed meanwhile), each why


def write_history(writer: SummaryWriter, run: RunDir) -> Exported:
    """Every row of metrics.csv and every saved grid, timed as they were logged: the run's creation time plus the
    row's training time (a grid takes the time of the last row at or before its step)."""
    start = created_time(run)
    rows = run.read_metrics()
    steps, times = [], []  # of the rows with a time, in step order (read_metrics keeps only growing steps)
    for row in rows:
        walltime = start + row["time_s"] if "time_s" in row and start else None
        write_row(writer, row, walltime)
        if walltime is not None:
            steps.append(int(row["step"]))
            times.append(walltime)
    written, skipped = 0, []
    for step, path in run.grids():
        try:
            grid = run.load_grid(path)
        except (OSError, DamagedRunError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        before = bisect.bisect_right(steps, step)
        write_grid(writer, step, grid, times[before - 1] if before else (start or None))
        written += 1
    return Exported(len(rows), written, tuple(skipped))


def export_run(run: RunDir, *, replace: bool = False) -> Exported:
    """A finished or stopped run's event files, from metrics.csv and its grids (the `tensorboard` command).

    Under the run's lock, so a run that trains now is refused (RunBusyError) rather than exported halfway. Event
    files it already has are refused unless `replace`, which deletes them first (only them).
    """
    require()
    check_layout(run)
    lock = RunLock.acquire(run)
    try:
        existing = event_files(run)
        if existing and not replace:
            raise ValueError(already_written(run, len(existing)))
        for path in existing:
            path.unlink()
        writer = open_writer(run)
        try:
            return write_history(writer, run)
        finally:
            writer.close()
    finally:
        lock.release()


def already_written(run: RunDir, files: int) -> str:
    return (f"{events_dir(run)} already has {files} event file(s) (written while the run trained with TensorBoard "
            "on, or by an earlier `tensorboard` command): add --replace to delete them and write them again from "
            "metrics.csv and the grids")


def viewer_command(root: Path) -> str:
    """How to open runs under `root` in TensorBoard: the venv's `tensorboard` when there is one, the root relative
    to here when it is below it."""
    exe = Path(sys.executable).parent / "tensorboard"
    program = _relative(exe) if exe.exists() else "tensorboard"
    return f"{program} --logdir {_relative(root)}"


def _relative(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _real_folder(folder: Path) -> bool:
    """Whether `folder` exists as a plain folder; DamagedRunError when it is a link or a file (a run folder may come
    from elsewhere: a link would send the event files anywhere)."""
    try:
        mode = folder.lstat().st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
        raise DamagedRunError(f"{folder} is {what}: a run's tensorboard/ must be a plain folder (a link could point "
                              "anywhere); remove it and write the event files again")
    return True
