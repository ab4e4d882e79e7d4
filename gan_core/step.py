"""One training step: the networks, their optimisers, the EMA of G, the run's random streams and `train_step`.

It knows nothing of files, threads or views: `gan_core.training` drives it and records what it returns, the
speed estimate times it on random images, and tests call it directly. How its work is split over processes comes
in as `Replicas`: `OneProcess` here, or `gan_core.distributed.Ranks` under torchrun, chosen once by the trainer.

Resume is exact: the data order of epoch e is a permutation seeded by (seed, e); the latents, the initial weights
and D's dropout masks come from the run's own generators (never torch's global RNG, which other threads share),
whose states a checkpoint keeps with both Adam states (`state()`).
"""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_core import checkpoints as ck
from gan_core.clusters import balanced_clusters, clusters_within
from gan_core.config import TrainConfig
from gan_core.data import CLASS_NAMES, SHORT_NAMES, class_index
from gan_core.images import grid_columns, make_grid
from gan_core.latent import carrying, info_code
from gan_core.losses import discriminator_loss, generator_loss, r1_penalty, realness
from gan_core.models import Discriminator, Generator, build_seeded, draw_dropout_from
from gan_core.runtime import use_bf16
from gan_core.schedule import Schedule


class Replicas(Protocol):
    """How a step's work is split over the processes that train one run."""

    def device(self, device: torch.device) -> torch.device: ...
    def shard(self, batch: torch.Tensor) -> torch.Tensor: ...
    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module: ...
    def sync_batchnorm(self, module: nn.Module, device: torch.device) -> nn.Module: ...
    def sync_buffers(self, module: nn.Module) -> None: ...
    def agree(self, stats: dict[str, float], stop: bool) -> tuple[dict[str, float], bool]: ...


class OneProcess:
    """One process trains the whole batch: nothing to split, wrap or synchronise."""

    size = 1

    def device(self, device: torch.device) -> torch.device:
        return device

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        return batch

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        return module

    def sync_batchnorm(self, module: nn.Module, device: torch.device) -> nn.Module:
        return module

    def sync_buffers(self, module: nn.Module) -> None:
        return None

    def agree(self, stats: dict[str, float], stop: bool) -> tuple[dict[str, float], bool]:
        """One process decides alone: its own statistics, its own stop request."""
        return stats, stop


class DiscriminatorUpdate(nn.Module):
    """D's side of one D update as a single forward: scores of the real and the generated batch (against their
    classes and, with `code_projection`, their codes), and the Q head's code logits on the generated one (None
    without an InfoGAN code) and, with `info_clusters`, on the real one.

    One forward per backward is what DistributedDataParallel expects: wrapped, it all-reduces D's gradients once.
    """

    def __init__(self, D: Discriminator) -> None:
        super().__init__()
        self.D = D

    def forward(self, real: torch.Tensor, y_real: torch.Tensor | None, c_real: torch.Tensor | None,
                fake: torch.Tensor, y_fake: torch.Tensor | None, c_fake: torch.Tensor | None,
                with_code: bool, real_code: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        out_real, real_logits = (self.D.score_and_code(real, y_real, c_real) if real_code
                                 else (self.D(real, y_real, c_real), None))
        return out_real, *score_fake(self.D, fake, y_fake, c_fake, with_code), real_logits


def score_fake(D: Discriminator, fake: torch.Tensor, labels: torch.Tensor | None, codes: torch.Tensor | None,
               with_code: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's scores on generated images and, with an InfoGAN code, the Q head's code logits (one pass through D)."""
    if not with_code:
        return D(fake, labels, codes), None
    return D.score_and_code(fake, labels, codes)


class GanStep:
    """The state one step changes, and the step itself (`train_step`), as pytorch/examples' dcgan writes it."""

    def __init__(self, cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor, *,
                 device: torch.device, replicas: Replicas | None = None) -> None:
        """Networks, optimisers, noise streams and schedule for these training images (n, 1, 28, 28) in [-1, 1]."""
        self.config = cfg
        self.replicas: Replicas = replicas or OneProcess()
        self.device = device
        self.bf16 = use_bf16(cfg.precision, device)  # decided once: "auto" asks the machine (runtime.native_bf16)
        # With info_clusters each image's cluster is the code the Q head must read off it: of the pixels alone in an
        # unconditional run (which never uses the classes), within each class in a conditional one.
        clusters = None
        if cfg.info_clusters:
            clusters = (clusters_within(images, labels, cfg.info_codes, cfg.seed) if cfg.conditional
                        else balanced_clusters(images, cfg.info_codes, cfg.seed))
        self.images, self.labels = images.to(device), labels.to(device)
        self.clusters = clusters.to(device) if clusters is not None else None
        self.schedule = Schedule.of(cfg, len(images))  # the budget and the speed estimate count the same steps
        self.batch = self.schedule.batch
        self.label_pool = torch.tensor(trained_classes(cfg), dtype=torch.long)
        # The run's own random streams, never torch's global RNG (which every thread of the app shares, and pages
        # reseed): `rng` draws the initial weights, then D's dropout masks on the CPU; a CUDA or MPS run's masks come
        # from a generator on its device, seeded alike (as torch.manual_seed seeded both before).
        self.rng = torch.Generator().manual_seed(cfg.seed)
        self.device_rng = None if device.type == "cpu" else torch.Generator(device).manual_seed(cfg.seed)
        G, D = build_seeded(cfg.model_config(), self.rng)
        self.G: Generator = G.to(device)
        self.D: Discriminator = D.to(device)
        draw_dropout_from(self.D, self.device_rng or self.rng)
        self.G_ema: Generator | None = copy.deepcopy(self.G).eval() if cfg.ema > 0 else None
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas)
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)
        fixed = torch.Generator().manual_seed(cfg.seed + 2)
        self.fixed_z = torch.randn(cfg.grid_size, cfg.latent_dim, generator=fixed)
        if (codes := grid_codes(cfg)) is not None:  # one code per row, as a conditional run has one class per row
            self.fixed_z = carrying(self.fixed_z, torch.tensor(codes), cfg.info_codes)
        self.fixed_z = self.fixed_z.to(device)
        self.fixed_y = torch.tensor(grid_classes(cfg), device=device) if cfg.conditional else None
        self.step = 0
        self._perm_epoch, self._perm = -1, torch.empty(0, dtype=torch.long)
        # What the updates call: the networks themselves, or DistributedDataParallel around them (`wrap`).
        self.g_forward: nn.Module = self.G
        self.d_update: nn.Module = DiscriminatorUpdate(self.D)

    def wrap(self) -> None:
        """Ready the networks for the replicas (after a resume loaded their weights): SyncBatchNorm on CUDA and DDP
        under torchrun; with bf16 autocast, channels_last memory (the layout tensor-core and oneDNN's AMX
        convolutions work in)."""
        if self.bf16:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
            self.images = self.images.contiguous(memory_format=torch.channels_last)
        if isinstance(self.replicas, OneProcess):
            return
        r, dev = self.replicas, self.device
        self.G = r.sync_batchnorm(self.G, dev)  # type: ignore[assignment]
        self.D = r.sync_batchnorm(self.D, dev)  # type: ignore[assignment]
        self.g_forward = r.wrap(self.G, dev)
        self.d_update = r.wrap(DiscriminatorUpdate(self.D), dev)

    @property
    def compute(self) -> str:
        """How this step computes, for the views and the CLI: the device and the precision, and why."""
        p = self.config.precision
        why = {"auto": "bf16 is native here" if self.bf16 else "bf16 is not native here", "bf16": "asked for",
               "fp32": "asked for"}[p]
        return f"{self.device.type}, {'bf16 autocast' if self.bf16 else 'fp32'} (precision {p}: {why})"

    def state(self) -> ck.TrainingState:
        """What a checkpoint saves and a resume restores."""
        return ck.TrainingState(self.G, self.D, self.G_ema, self.opt_g, self.opt_d, self.noise, self.rng,
                                self.device_rng)

    # ------------------------------------------------------------------ inputs of a step
    def real_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """This process's share of step `step`'s real images, labels and clusters (None without info_clusters), in
        the epoch's seeded permutation."""
        epoch, pos = divmod(step, self.schedule.steps_per_epoch)
        if self._perm_epoch != epoch:
            g = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
            self._perm = torch.randperm(len(self.images), generator=g).to(self.device)
            self._perm_epoch = epoch
        idx = self.replicas.shard(self._perm[pos * self.batch : (pos + 1) * self.batch])
        return self.images[idx], self.labels[idx], None if self.clusters is None else self.clusters[idx]

    def latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This process's share of a batch of latents (and class labels). Every process draws the whole batch from
        the same stream, so a run's noise is the same however many processes train it."""
        z = torch.randn(self.batch, self.config.latent_dim, generator=self.noise)
        shard = self.replicas.shard
        if not self.config.conditional:
            return shard(z).to(self.device), None
        pick = torch.randint(len(self.label_pool), (self.batch,), generator=self.noise)
        return shard(z).to(self.device), shard(self.label_pool[pick]).to(self.device)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast when the config's `precision` means it here (`self.bf16`), else nothing."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    # ------------------------------------------------------------------ the step
    def train_step(self, measure: bool = False) -> dict[str, float]:
        """One (or d_steps) discriminator update(s) and one generator update, as in pytorch/examples' dcgan.

        Under torchrun `d_update` and `g_forward` are DistributedDataParallel modules: each backward all-reduces the
        gradients, so every process takes the same optimiser step. Statistics are this process's own; with
        `measure`, they include the gradient norms of both updates (`grad_norms`), which the loop asks for on the
        steps that write a metrics row.
        """
        cfg = self.config
        probs = self.D.outputs_probabilities
        self._set_rates()
        # real: (batch / N, 1, 28, 28) in [-1, 1], this share; code_real: (batch / N,) the reals' clusters, the code
        # Q must read (None without info_clusters)
        real, y_real, code_real = self.real_batch(self.step)
        # What D scores a real image against: its class (conditional), its cluster (code_projection), both, or nothing.
        y_real = y_real if cfg.conditional else None
        c_real = code_real if cfg.code_projection else None
        # (1) Update D: maximize log D(x) + log(1 - D(G(z))) (or the hinge / least-squares form of it), plus the
        #     InfoGAN code's likelihood through the Q head (on the reals too with info_clusters: each one's cluster)
        #     and, with r1_gamma, minus a gradient penalty on reals (lazily: on every r1_every-th step, weighted by
        #     r1_every, as StyleGAN2 regularises).
        r1 = cfg.r1_gamma > 0 and self.step % cfg.r1_every == 0
        for i in range(cfg.d_steps):
            z, y_fake = self.latents()                   # z: (batch / N, latent_dim); y_fake: (batch / N,) or None
            code = info_code(z, cfg.info_codes) if cfg.info_codes else None
            c_fake = code if cfg.code_projection else None  # what D scores a fake against: its class and/or its code
            with torch.set_grad_enabled(i == cfg.d_steps - 1), self._autocast():  # only the last fake trains G
                fake = self.g_forward(z, y_fake)
            if r1:
                real = real.detach().requires_grad_(True)
            with self._autocast():
                out_real, out_fake, code_logits, real_logits = self.d_update(
                    real, y_real, c_real, fake.detach(), y_fake, c_fake, code is not None, code_real is not None)
                loss_d = discriminator_loss(cfg.loss, out_real, out_fake, from_probs=probs,
                                            smoothing=cfg.label_smoothing)
                # Apart, so the logged D loss (and its ln 2 / D-winning checks) stays the adversarial one.
                info_d = cfg.info_weight * F.cross_entropy(code_logits, code) if code_logits is not None else 0.0
                if real_logits is not None:
                    info_d = info_d + cfg.info_weight * F.cross_entropy(real_logits, code_real)
            if r1:
                loss_d = loss_d + r1_penalty(out_real, real, cfg.r1_gamma * cfg.r1_every)
            self.opt_d.zero_grad(set_to_none=True)
            (loss_d + info_d).backward()
            self.opt_d.step()
        # (2) Update G: maximize log D(G(z)) (the non-saturating form), plus the code's likelihood: G must draw
        #     images from which Q recovers the code it was given. D's weights are frozen for this pass: G needs only
        #     the gradient through D to its input, so D's own is never computed (and D, called directly rather than
        #     through DDP, takes part in no all-reduce).
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                out_gen, code_logits = score_fake(self.D, fake, y_fake, c_fake, code is not None)
                info_g = cfg.info_weight * F.cross_entropy(code_logits, code) if code_logits is not None else 0.0
                loss_g = generator_loss(cfg.loss, out_gen, from_probs=probs)
            self.opt_g.zero_grad(set_to_none=True)
            (loss_g + info_g).backward()
        finally:
            self.D.requires_grad_(True)
        self.opt_g.step()
        # (3) The EMA of G's weights, what grids, checkpoints' generator files and evaluations use.
        self._update_ema()
        self.step += 1
        stats = {"d_loss": loss_d.item(), "g_loss": loss_g.item(),
                 "d_real": realness(out_real.detach(), from_probs=probs),
                 "d_fake": realness(out_fake.detach(), from_probs=probs)}
        if measure:  # D's gradients are its last update's (R1 included): G's pass leaves them as they were
            stats.update(grad_norms(self.G, "g") | grad_norms(self.D, "d"))
        return stats

    def _set_rates(self) -> None:
        """This step's learning rates (`learning_rates`). Set on every step from the step number alone, so a resume,
        or a rate changed at one, lands on the same curve."""
        lr_g, lr_d = learning_rates(self.config, self.step)
        for opt, lr in ((self.opt_d, lr_d), (self.opt_g, lr_g)):
            for group in opt.param_groups:
                group["lr"] = lr

    @torch.no_grad()
    def _update_ema(self) -> None:
        """Warm-up: early on the average spans only the last few steps ((1 + t) / (10 + t) grows to cfg.ema by step
        ~9,000 at 0.999), so the EMA generator follows G from the first seconds instead of showing the random
        initial weights for minutes."""
        if self.G_ema is None:
            return
        self.replicas.sync_buffers(self.G)  # several CPU processes: rank 0's BatchNorm statistics, one EMA copy
        decay = ema_decay(self.config.ema, self.step)
        # One foreach call per kind instead of a Python loop over tensors (the loop's own time, once the step is fast).
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - decay)
        ema_buffers, buffers = list(self.G_ema.buffers()), list(self.G.buffers())
        if buffers:
            torch._foreach_copy_(ema_buffers, buffers)

    # ------------------------------------------------------------------ what views see of it
    @property
    def sampler(self) -> Generator:
        """The copy of G that grids, checkpoints' generator files and evaluations use: the EMA one when there is."""
        return self.G_ema if self.G_ema is not None else self.G

    def grid_source(self) -> str:
        """Which copy of G draws the grids (the same copy a checkpoint's generator file holds), for a caption."""
        if not self.config.ema:
            return "G itself (no EMA in this run)"
        return (f"the EMA of G's weights (decay {ema_decay(self.config.ema, self.step):.3f} now, warming up to "
                f"{self.config.ema:g})")

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        """The fixed-noise grid, one row per class or per InfoGAN code where `grid_row` says so."""
        g = self.sampler
        was = g.training
        g.eval()
        images = g(self.fixed_z, self.fixed_y)
        g.train(was)
        return make_grid(images, nrow=grid_row(self.config))


def layer_group(name: str) -> str:
    """The layer a parameter belongs to, by its module path: `body.0.weight` -> `body.0`; a spectrally normalised
    `features.0.parametrizations.weight.original` -> `features.0`."""
    return name.split(".parametrizations.")[0] if ".parametrizations." in name else name.rpartition(".")[0] or name


@torch.no_grad()
def grad_norms(net: nn.Module, side: str) -> dict[str, float]:
    """The L2 norm of `net`'s parameter gradients as they are now: `grad_norm_<side>` for the whole network and
    `grad_norm_<side>/<layer>` for each layer's own parameters (a layer without a gradient is left out)."""
    groups: dict[str, list[torch.Tensor]] = {}
    for name, p in net.named_parameters():
        if p.grad is not None:
            groups.setdefault(layer_group(name), []).append(p.grad.detach().float())
    if not groups:
        return {}
    norms = {k: torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in v])) for k, v in
             groups.items()}
    total = torch.linalg.vector_norm(torch.stack(list(norms.values())))
    out = {f"grad_norm_{side}": float(total)}
    out.update({f"grad_norm_{side}/{k}": float(v) for k, v in norms.items()})
    return out


def trained_classes(cfg: TrainConfig) -> list[int]:
    """The class indices a run trains on: its `classes`, or all ten."""
    return [class_index(c) for c in cfg.classes] if cfg.classes else list(range(10))


def grid_classes(cfg: TrainConfig) -> list[int]:
    """The class asked of each image of a conditional run's fixed grid: the trained classes in order, spread evenly,
    so row r of a 10x10 grid is class r (and views can name the rows)."""
    pool = trained_classes(cfg)
    return [pool[i * len(pool) // cfg.grid_size] for i in range(cfg.grid_size)]


def grid_codes(cfg: TrainConfig) -> list[int] | None:
    """The InfoGAN code each image of an unconditional run's fixed grid carries when the grid holds a whole row per
    code, two or more images each (100 images and 10 codes: row r is code r); None when it does not, each image
    keeping its z's own code."""
    k = cfg.info_codes
    if not k or cfg.conditional or cfg.grid_size % k or cfg.grid_size < 2 * k:
        return None
    per_code = cfg.grid_size // k
    return [i // per_code for i in range(cfg.grid_size)]


def grid_row(cfg: TrainConfig) -> int | None:
    """Images per row of a run's fixed grid: 10 for a conditional run of 10 or more (a row per class), one code's
    share for a grid with a row per InfoGAN code (`grid_codes`), else None (make_grid's near-square default)."""
    if cfg.conditional:
        return 10 if cfg.grid_size >= 10 else None
    return cfg.grid_size // cfg.info_codes if grid_codes(cfg) is not None else None


def fixed_grid_names(cfg: TrainConfig | None, grid: np.ndarray) -> tuple[list[str] | None, list[str] | None]:
    """(row names, image names) of a run's fixed-noise grid: a conditional run's grid has 10 per row, each image of
    the class `grid_classes` asked of it; rows are named when each holds one class, else each image is. A grid with
    a row per InfoGAN code (`grid_codes`) names each row by its code."""
    if not in_run_layout(grid, cfg):
        return None, None  # no row layout, or a grid drawn before this run's layout had one
    codes = grid_codes(cfg)
    if codes is not None:
        return [f"code {c}" for c in sorted(set(codes))], None
    if not cfg.conditional:
        return None, None
    per_image = grid_classes(cfg)
    row_classes = [set(per_image[r : r + 10]) for r in range(0, cfg.grid_size, 10)]
    if all(len(c) == 1 for c in row_classes):
        return [CLASS_NAMES[c.pop()] for c in row_classes], None
    return None, [SHORT_NAMES[c] for c in per_image]


def in_run_layout(grid: np.ndarray, cfg: TrainConfig | None) -> bool:
    """Whether a saved grid has the row length the run draws today (`grid_row`); older grids may not."""
    return cfg is not None and grid_columns(grid) == grid_row(cfg)


def lr_scale(cfg: TrainConfig, step: int) -> float:
    """The share of lr_g and lr_d that step `step` (0-based) trains at: 1 without an anneal, else along a half
    cosine from 1 at the first step to `lr_final` at step `lr_anneal_steps`, and `lr_final` from there on."""
    if not cfg.lr_anneal_steps:
        return 1.0
    t = min(step / cfg.lr_anneal_steps, 1.0)
    return cfg.lr_final + (1.0 - cfg.lr_final) * 0.5 * (1.0 + math.cos(math.pi * t))


def learning_rates(cfg: TrainConfig, step: int) -> tuple[float, float]:
    """(lr_g, lr_d) that step `step` (0-based) trains at: the config's, times the anneal's share (`lr_scale`)."""
    scale = lr_scale(cfg, step)
    return cfg.lr_g * scale, cfg.lr_d * scale


def ema_decay(target: float, step: int) -> float:
    """The EMA decay at `step`: min(target, (1 + step) / (10 + step))."""
    return min(target, (1.0 + step) / (10.0 + step))
