"""Will a run fit this machine? Its peak memory and its disk use, estimated from the config before Start.

The form admits configurations far beyond a laptop (tf-tutorial at width 8 with batch 4096 needs tens of GB; a grid
every step for 100,000 epochs fills any disk), so the app and the CLI check a config here first and refuse one that
does not fit, with the numbers and the fields to change. The estimate is made on PyTorch's meta device: the networks
are built and run without allocating a byte.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_core.config import TrainConfig
from gan_core.format import size
from gan_core.models import build_discriminator, build_generator
from gan_core.runs import MAX_GRIDS_ON_DISK

FLOAT_BYTES = 4
TRAIN_IMAGES = 60_000
RUNTIME_BYTES = 750 * 2**20    # torch, the data's other copies, Python: so that the default's estimate is near its peak
                               # RSS as measured here (studio-fast 1.04 GB, studio-fast-deep 1.04 GiB with R1 and
                               # without; 2026-12-01)
MEMORY_SHARE = 0.8             # refuse what would take more than this share of the memory available now
GRID_PNG_BYTES_PER_IMAGE = 900  # a saved grid's PNG, per image (measured: 50-90 KB for 100 images)


class BudgetError(ValueError):
    """The run would not fit this machine's memory or disk."""


@dataclass(frozen=True)
class Budget:
    """What a run needs, in bytes, and what the machine has now."""

    memory: int            # peak resident memory while training (of every process on this machine)
    checkpoint: int        # one checkpoint file
    disk: int              # every checkpoint it keeps plus its grids
    memory_available: int
    disk_free: int

    def problems(self) -> list[str]:
        out = []
        if self.memory > MEMORY_SHARE * self.memory_available:
            out.append(f"it needs about {size(self.memory)} of memory while training, and this machine has "
                       f"{size(self.memory_available)} available: lower “Batch size” or “Width multiplier”")
        if self.disk > self.disk_free:
            out.append(f"it would write about {size(self.disk)} (checkpoints of {size(self.checkpoint)} each, "
                       f"and its grids), and the disk has {size(self.disk_free)} free: set “Keep newest checkpoints”, "
                       "raise “Checkpoint every” or lower “Epochs”")
        return out


def estimate(cfg: TrainConfig, runs_root: Path | None = None, processes: int = 1) -> Budget:
    """`processes`: how many of the run's processes share this machine's memory (torchrun's processes per node)."""
    model = cfg.model_config()
    with torch.device("meta"):
        g, d = build_generator(model), build_discriminator(model)
        batch = min(cfg.batch_size, cfg.max_images or TRAIN_IMAGES)
        z = torch.zeros(batch, model.latent_dim)
        y = torch.zeros(batch, dtype=torch.long) if model.conditional else None
        act_g = _activations(g, z, y)
        act_d = _activations(d, torch.zeros(batch, 1, 28, 28), y)
    p_g, p_d = _count(g), _count(d)
    ema = p_g if cfg.ema > 0 else 0
    # Weights, gradients and Adam's two moments of both networks, the EMA copy; activations kept for backward
    # (G once, D on real and fake, and with R1 the graph of D's input gradient on real images) and their
    # gradients; the training images as float32.
    weights = (4 * (p_g + p_d) + ema) * FLOAT_BYTES
    activations = 2 * (act_g + (3 if cfg.r1_gamma > 0 else 2) * act_d) * FLOAT_BYTES
    images = (cfg.max_images or TRAIN_IMAGES) * 28 * 28 * FLOAT_BYTES
    memory = processes * (RUNTIME_BYTES + weights + activations + images)  # each process holds all of it (an upper bound)

    checkpoint = (3 * (p_g + p_d) + ema) * FLOAT_BYTES  # G, D, EMA and both Adam states
    steps_per_epoch = max(1, (cfg.max_images or TRAIN_IMAGES) // batch)
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    epochs_run = math.ceil(total_steps / steps_per_epoch)
    saved = epochs_run // cfg.checkpoint_every + 1 if cfg.checkpoint_every else 1
    kept = min(saved, cfg.keep_checkpoints) if cfg.keep_checkpoints else saved
    grids = min(MAX_GRIDS_ON_DISK, total_steps // cfg.sample_every + 1 if cfg.sample_every else epochs_run + 1)
    disk = kept * checkpoint + grids * cfg.grid_size * GRID_PNG_BYTES_PER_IMAGE
    where = _existing(Path(runs_root) if runs_root else Path.cwd())
    return Budget(memory, checkpoint, disk, memory_available(), shutil.disk_usage(where).free)


def check_fits(cfg: TrainConfig, runs_root: Path | None = None, processes: int = 1) -> Budget:
    """The budget, or BudgetError saying what does not fit and which field to change."""
    budget = estimate(cfg, runs_root, processes)
    problems = budget.problems()
    if problems:
        raise BudgetError("this run does not fit this machine: " + "; ".join(problems))
    return budget


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
