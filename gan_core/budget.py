"""Will a run fit this machine? Its peak memory and its disk use, estimated from the config before Start.

The form admits configurations far beyond a laptop (tf-tutorial at width 8 with batch 4096 needs tens of GB; a grid
every step for 100,000 epochs fills any disk), so the app and the CLI check a config here first and refuse one that
does not fit, with the numbers and the fields to change. The estimate is made on PyTorch's meta device: the networks
are built and run without allocating a byte. The same pass refuses a batch that BatchNorm cannot train on, so the
form and the CLI's `train` say the same thing before anything starts.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gan_core.config import ConfigError, TrainConfig
from gan_core.format import size
from gan_core.images import MAX_GIF_FRAMES, make_grid
from gan_core.models import build_discriminator, build_generator
from gan_core.runs import MAX_GRIDS_ON_DISK
from gan_core.schedule import Schedule, train_images

FLOAT_BYTES = 4
RUNTIME_BYTES = 750 * 2**20    # torch, the data's other copies, Python: so that the default's estimate is near its peak
                               # RSS as measured here (studio-fast 1.04 GB, studio-fast-deep 1.04 GiB with R1 and
                               # without; 2026-12-01)
MEMORY_SHARE = 0.8             # refuse what would take more than this share of the memory available now
GRID_PNG_BYTES_PER_IMAGE = 900  # a saved grid's PNG, per image (measured: 50-90 KB for 100 images, 833 B an image)
GIF_BYTES_PER_PIXEL = 0.7      # progress.gif, per pixel of a frame at its 2x scale (measured 0.65 on a run's early
                               # grids, 0.67 on uniform noise, the worst case; 2026-12-04)
GIF_SCALE = 2                  # gan_core.images.gif_bytes' default, which RunDir.write_gif uses
METRICS_ROW_BYTES = 320        # a metrics.csv row (57-58 B at steps < 1,000 without evaluation, and a gradient norm
                               # per network and per layer: 13 more columns of up to 12 B on the default preset; a long
                               # run's step, epoch and time are longer and an evaluation row adds three columns)
TENSORBOARD_ROW_BYTES = 600    # a metrics row in TensorBoard's event file (measured 484 B for 19 scalars, 2026-12-06)
PAUSE_CHECKPOINTS = 3          # allowance for checkpoints saved on pause when every checkpoint is kept: each pause
                               # saves one (Trainer._pause), and with "keep" 0 none is ever pruned


class BudgetError(ValueError):
    """The run would not fit this machine's memory or disk."""


@dataclass(frozen=True)
class Budget:
    """What a run needs, in bytes, and what the machine has now. Disk is an upper bound: the most the run can have
    written at once."""

    memory: int            # peak resident memory while training (of every process on this machine)
    checkpoint: int        # one checkpoint file
    disk: int              # every file the run writes: checkpoints, grids, GIF, metrics
    memory_available: int
    disk_free: int
    step_memory: int       # one process's networks, optimiser states and one batch's activations (what timing a step
                           # holds), without the runtime or the data set
    checkpoints: int       # checkpoint files on disk at once, at most (the pause allowance included)
    grids: int             # grid PNGs on disk, at most
    metrics_rows: int
    schedule: Schedule
    keeps_all: bool        # keep_checkpoints is 0: nothing is pruned, so each pause's checkpoint stays

    def problems(self) -> list[str]:
        out = []
        if self.memory > MEMORY_SHARE * self.memory_available:
            out.append(f"it needs about {size(self.memory)} of memory while training, and this machine has "
                       f"{size(self.memory_available)} available: lower “Batch size” or “Width multiplier”")
        if self.disk > self.disk_free:
            s = self.schedule
            paused = f", {PAUSE_CHECKPOINTS} of them for pauses (each pause saves one)" if self.keeps_all else ""
            out.append(f"it would write up to {size(self.disk)} in {s.total_steps:,} steps of {s.steps_per_epoch:,} "
                       f"an epoch ({s.images:,} images): {self.checkpoints:,} checkpoints of {size(self.checkpoint)} "
                       f"each{paused}, {self.grids:,} grids, the GIF and {self.metrics_rows:,} metrics rows; the disk "
                       f"has {size(self.disk_free)} free: set “Keep newest checkpoints”, raise “Checkpoint every” or "
                       "lower “Epochs” or “Max steps”")
        return out


@dataclass(frozen=True)
class _Nets:
    """The parameter and activation counts of a config's networks at its batch, from one meta-device pass."""

    params_g: int
    params_d: int
    activations_g: int
    activations_d: int


def estimate(cfg: TrainConfig, runs_root: Path | None = None, processes: int = 1, ranks: int = 1) -> Budget:
    """`processes`: how many of the run's processes share this machine's memory (torchrun's processes per node);
    `ranks`: how many train it in all (each holds batch / ranks images of a step).

    Raises ConfigError for a batch of one image on networks with BatchNorm (which cannot train on it)."""
    schedule = Schedule.of(cfg, train_images(cfg))
    nets = _measure(cfg, schedule, ranks)
    images = schedule.images * 28 * 28 * FLOAT_BYTES  # the training images as float32
    step = _step_bytes(cfg, nets)
    memory = processes * (RUNTIME_BYTES + step + images)  # each process holds all of it (an upper bound)

    checkpoint = (3 * (nets.params_g + nets.params_d) + (nets.params_g if cfg.ema > 0 else 0)) * FLOAT_BYTES
    # (G, D, EMA and both Adam states.) A new checkpoint is written before the older ones are pruned: keep + 1.
    checkpoints = _checkpoints_saved(cfg, schedule) + (PAUSE_CHECKPOINTS if not cfg.keep_checkpoints else 0)
    if cfg.keep_checkpoints:
        checkpoints = min(checkpoints, cfg.keep_checkpoints + 1)
    grids = _grids_saved(cfg, schedule)
    rows = math.ceil(schedule.total_steps / cfg.log_every)  # on the cadence, and the last step's
    grid_png = cfg.grid_size * GRID_PNG_BYTES_PER_IMAGE
    disk = (checkpoints * checkpoint + grids * grid_png + _gif_bytes(cfg, grids) + (rows + 1) * METRICS_ROW_BYTES)
    if cfg.tensorboard:  # the event files: a row's scalars, and each grid's PNG again (counted as the folder keeps)
        disk += (rows + 1) * TENSORBOARD_ROW_BYTES + grids * grid_png
    where = _existing(Path(runs_root) if runs_root else Path.cwd())
    return Budget(memory, checkpoint, disk, memory_available(), shutil.disk_usage(where).free, step_memory=step,
                  checkpoints=checkpoints, grids=grids, metrics_rows=rows, schedule=schedule,
                  keeps_all=not cfg.keep_checkpoints)


def check_fits(cfg: TrainConfig, runs_root: Path | None = None, processes: int = 1, ranks: int = 1) -> Budget:
    """The budget, or BudgetError saying what does not fit and which field to change (ConfigError for a batch
    BatchNorm cannot train on)."""
    budget = estimate(cfg, runs_root, processes, ranks)
    problems = budget.problems()
    if problems:
        raise BudgetError("this run does not fit this machine: " + "; ".join(problems))
    return budget


def step_memory(cfg: TrainConfig) -> int:
    """Bytes one training step of `cfg` holds: weights, gradients, Adam's moments, the EMA copy, one batch's
    activations (what `gan_core.speed` needs to time a step, without the data set or the runtime)."""
    return _step_bytes(cfg, _measure(cfg, Schedule.of(cfg, train_images(cfg))))


def memory_available() -> int:
    """Bytes of memory available to a new allocation now (Linux: MemAvailable; elsewhere: all physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _step_bytes(cfg: TrainConfig, nets: _Nets) -> int:
    # Weights, gradients and Adam's two moments of both networks, the EMA copy; activations kept for backward
    # (G once, D on real and fake, and with R1 the graph of D's input gradient on real images) and their gradients.
    weights = (4 * (nets.params_g + nets.params_d) + (nets.params_g if cfg.ema > 0 else 0)) * FLOAT_BYTES
    activations = 2 * (nets.activations_g + (3 if cfg.r1_gamma > 0 else 2) * nets.activations_d) * FLOAT_BYTES
    return weights + activations


def _measure(cfg: TrainConfig, schedule: Schedule, ranks: int = 1) -> _Nets:
    """G and D built and run on the meta device at one rank's share of the schedule's batch; a BatchNorm layer that
    would see one value per channel (a dense layer's BatchNorm on a one-image batch) is refused before PyTorch
    raises its "Expected more than 1 value per channel when training"."""
    model = cfg.model_config()
    with torch.device("meta"):
        g, d = build_generator(model), build_discriminator(model)
        batch = max(1, schedule.batch // ranks)
        z = torch.zeros(batch, model.latent_dim)
        y = torch.zeros(batch, dtype=torch.long) if model.conditional else None
        guards = [m.register_forward_pre_hook(_one_value_guard(cfg, schedule, ranks))
                  for net in (g, d) for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        try:
            act_g = _activations(g, z, y)
            act_d = _activations(d, torch.zeros(batch, 1, 28, 28), y)
        finally:
            for h in guards:
                h.remove()
    return _Nets(_count(g), _count(d), act_g, act_d)


def _one_value_guard(cfg: TrainConfig, schedule: Schedule, ranks: int
                     ) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
    """A forward pre-hook for BatchNorm layers: ConfigError when the layer would see one value per channel."""

    def guard(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        if module.training and x.shape[0] * math.prod(x.shape[2:]) < 2:
            raise ConfigError(_one_image_message(cfg, schedule, ranks))

    return guard


def _one_image_message(cfg: TrainConfig, schedule: Schedule, ranks: int = 1) -> str:
    why = (f"{cfg.arch} with BatchNorm (a BatchNorm layer normalises each channel over the images of a batch, and "
           "after a dense layer one image leaves it a single value)")
    if ranks > 1 and schedule.batch >= 2:
        return (f"a batch of {schedule.batch} over {ranks} processes leaves each process one image, which cannot train "
                f"{why}: use --batch-size {2 * ranks} or more, or fewer processes")
    if cfg.batch_size == 1:
        return f"batch size 1 cannot train {why}: use a batch of at least 2 (“Batch size”), or turn off “Batch norm”"
    return (f"{schedule.images} training image cannot train {why}, as every batch is that one image: allow at least 2 "
            "(“Max training images”), or turn off “Batch norm”")


def _checkpoints_saved(cfg: TrainConfig, schedule: Schedule) -> int:
    """What the trainer saves: one at the end of every checkpoint_every-th epoch, and one at the last step unless an
    epoch's fell there (pauses aside)."""
    every = cfg.checkpoint_every
    on_epochs = schedule.full_epochs // every if every else 0
    last_on_epoch = on_epochs > 0 and on_epochs * every * schedule.steps_per_epoch == schedule.total_steps
    return on_epochs + (0 if last_on_epoch else 1)


def _grids_saved(cfg: TrainConfig, schedule: Schedule) -> int:
    """Grid PNGs on disk at most: step 0's, one every sample_every steps (or each epoch), the last step's; with
    the time cadence (grid_every_s) up to one a step. RunDir.save_grid keeps at most MAX_GRIDS_ON_DISK."""
    total = schedule.total_steps
    if cfg.grid_every_s:  # how many depends on the machine's speed: bounded by one a step
        drawn = total + 1
    elif cfg.sample_every:
        drawn = 1 + total // cfg.sample_every + (1 if total % cfg.sample_every else 0)
    else:
        drawn = 1 + schedule.full_epochs + (0 if schedule.ends_epoch(total) else 1)
    return min(drawn, MAX_GRIDS_ON_DISK)


def _gif_bytes(cfg: TrainConfig, grids: int) -> int:
    """progress.gif, twice: it is rewritten beside the old one, then renamed over it."""
    nrow = 10 if cfg.conditional and cfg.grid_size >= 10 else None  # as Trainer.sample_grid lays the grid out
    h, w = make_grid(np.zeros((cfg.grid_size, 28, 28), np.uint8), nrow=nrow).shape
    return 2 * math.ceil(min(grids, MAX_GIF_FRAMES) * h * w * GIF_SCALE**2 * GIF_BYTES_PER_PIXEL)


def _activations(net: torch.nn.Module, *inputs: torch.Tensor | None) -> int:
    """Elements of every module output in one forward pass (what autograd keeps for backward, about)."""
    total = 0

    def hook(_module: torch.nn.Module, _inp: object, out: object) -> None:
        nonlocal total
        if isinstance(out, torch.Tensor):
            total += out.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        net(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters()) + sum(b.numel() for b in net.buffers())


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
