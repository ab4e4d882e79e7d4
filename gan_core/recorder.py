"""How a run is recorded: its metrics rows, grids, checkpoints, GIF, status and heartbeat, in its folder and live
(and, with the config's `tensorboard` on, the rows and grids as TensorBoard event files, through gan_core.tboard).

One process records (rank 0 under torchrun). The loop in `gan_core.training` decides *when* (its cadences); this
says *how*, through `gan_core.runs.RunDir` (the folder's layout) and `gan_core.checkpoints` (the weights format),
and mirrors what views need into `gan_core.live.LiveState`.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_core import checkpoints as ck
from gan_core import tboard
from gan_core.config import TrainConfig
from gan_core.health import diagnose
from gan_core.live import MAX_GRIDS, LiveState
from gan_core.runs import RunDir, RunStatus, step_of
from gan_core.step import GanStep

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

CHECKPOINT_MARGIN_BYTES = 64 * 2**20  # free space kept besides the checkpoint itself (status, metrics, GIF, grids)


class RunRecorder:
    """One run folder, written by the one process that records, and the live state mirrored from it."""

    def __init__(self, run: RunDir, live: LiveState, config: TrainConfig, checkpoint_bytes: int,
                 world_size: int = 1) -> None:
        self.run, self.live, self.config = run, live, config
        self.checkpoint_bytes = checkpoint_bytes  # the budget's size of one checkpoint, checked before each save
        self.world_size = world_size
        self.saved_step = -1  # the step of the newest checkpoint this run has (a pause saves only when it moved on)
        self.board: SummaryWriter | None = None  # TensorBoard's writer, from `begin` to `end`, when the config asks

    def begin(self, step: int, total_steps: int) -> None:
        """The run is running: status.json says so, and a resumed run's grids and curves are live again."""
        self.run.write_status(status=RunStatus.RUNNING, step=step, total_steps=total_steps,
                              world_size=self.world_size)
        self.saved_step = step
        latest = self.run.latest_checkpoint()
        self.live.publish(saved_step=step_of(latest) if latest is not None else -1)
        grids = [(s, self.run.load_grid(p)) for s, p in self.run.grids()[-MAX_GRIDS:]]
        self.live.restore(list(self.run.metrics_summary().rows), grids)
        if self.config.tensorboard:  # continues the run's event files from this step (gan_core.tboard.resume_writer)
            self.board = tboard.resume_writer(self.run, step)

    def metrics(self, row: dict[str, float], classes_trained: int) -> None:
        """A row of metrics.csv, its point on the live curves, and the health checks on the latest of them."""
        self.run.append_metrics([row])
        if self.board is not None:
            tboard.write_row(self.board, row)
        history, grids = self.live.add_row(row)
        warnings = diagnose(history[-400:], grids, loss=self.config.loss, classes_trained=classes_trained)
        self.live.publish(warnings=tuple(w.message for w in warnings))

    def grid(self, gan: GanStep) -> None:
        """The fixed-noise grid of this step, on disk and live."""
        grid = gan.sample_grid()
        path = self.run.save_grid(gan.step, grid)
        if self.board is not None:  # the PNG just saved, as it is: not encoded twice
            tboard.write_grid(self.board, gan.step, grid, png=path.read_bytes())
        self.live.add_grid(gan.step, grid, gan.grid_source())

    def checkpoint(self, gan: GanStep, wall_time: float) -> Path:
        """A checkpoint of this step; then the older ones beyond `keep_checkpoints`, the GIF and status.json."""
        path = self.run.checkpoint_path(gan.step)
        free, need = shutil.disk_usage(self.run.path).free, self.checkpoint_bytes + CHECKPOINT_MARGIN_BYTES
        if free < need:  # checked before writing, so a full disk leaves the previous checkpoint as it was
            raise OSError(errno.ENOSPC, f"not enough free disk space for a checkpoint ({free / 2**20:,.0f} MB free, "
                          f"{need / 2**20:,.0f} MB needed): free some space (or delete old runs on the Runs page), "
                          "then resume")
        ck.save_checkpoint(path, gan.state(), config_json=self.config.to_json(), step=gan.step,
                           wall_time_s=wall_time, world_size=self.world_size)
        self.saved_step = gan.step
        self.live.publish(saved_step=gan.step)
        self.run.prune_checkpoints(self.config.keep_checkpoints)  # only now: a crash never leaves none
        self.run.write_gif()
        self.run.write_status(step=gan.step, wall_time_s=round(wall_time, 2), last_checkpoint=path.name)
        return path

    def heartbeat(self, **fields: Any) -> None:
        """status.json rewritten: this process is alive (and the fields said, e.g. the step)."""
        self.run.write_status(**fields)

    def last_of_run(self, gan: GanStep, wall_time: float) -> None:
        """What a run that ends (finished or stopped) leaves: a grid and a checkpoint of its last step, the GIF."""
        grids, latest = self.run.grids(), self.run.latest_checkpoint()
        if not grids or grids[-1][0] != gan.step:
            self.grid(gan)
        if latest is None or step_of(latest) != gan.step:
            self.checkpoint(gan, wall_time)
        else:
            self.run.write_gif()

    def latest_checkpoint(self) -> Path | None:
        return self.run.latest_checkpoint()

    def end(self, status: str, step: int, message: str, wall_time: float | None = None) -> None:
        """The run's last word in status.json; TensorBoard's event file closed (flushed) however the run ended."""
        fields: dict[str, Any] = {"status": status, "step": step, "message": message}
        if wall_time is not None:
            fields["wall_time_s"] = round(wall_time, 2)
        try:
            self.run.write_status(**fields)
        finally:
            if self.board is not None:
                board, self.board = self.board, None
                board.close()
