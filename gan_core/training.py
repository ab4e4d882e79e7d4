"""The GAN training loop, readable top to bottom, and the snapshot other threads read.

`Trainer.run()` is blocking and step-based. Another thread (the app's page, the
CLI's progress bar) controls it with `pause()`, `resume()` and `stop()` and reads
`snapshot()`, an immutable copy taken under a lock: the trainer never knows who
is watching.

Resume is exact: the data order of epoch e is a permutation seeded by (seed, e);
the latents, the initial weights and D's dropout masks come from the run's own
generators (never torch's global RNG, which other threads share), whose states are
checkpointed with both Adam states.

Under torchrun the same loop runs in every process (gan_core.distributed says how the
work is split): G and D's update are wrapped in DistributedDataParallel, the step's
statistics and any stop request are agreed by one all-reduce, and rank 0 alone
writes the run folder.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import math
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_core import checkpoints as ck
from gan_core import distributed
from gan_core.budget import check_fits
from gan_core.config import TrainConfig, resume_changes
from gan_core.data import class_index, load_split
from gan_core.distributed import World
from gan_core.health import diagnose
from gan_core.images import make_grid
from gan_core.latent import info_code
from gan_core.losses import discriminator_loss, generator_loss, r1_penalty, realness
from gan_core.models import Discriminator, Generator, build_seeded, draw_dropout_from
from gan_core.paths import default_runs_root
from gan_core.runs import ACTIVE, HEARTBEAT_S, RunDir, RunLock, RunStatus, resume_point, run_of, step_of
from gan_core.runtime import resolve_device, set_threads
from gan_core.schedule import Schedule

MAX_HISTORY = 2000   # chart points kept in memory; older points are thinned
MAX_GRIDS = 60       # sample grids kept in memory; all of them stay on disk
CHECKPOINT_MARGIN_BYTES = 64 * 2**20  # free space kept besides the checkpoint itself (status, metrics, GIF, grids)
ETA_WINDOW_S = 180.0  # the ETA's rate is measured over this much wall-clock time


@dataclass(frozen=True)
class Snapshot:
    """Everything a view needs, copied under the trainer's lock."""

    status: str = RunStatus.IDLE  # a RunStatus: idle, starting, running, paused, stopping, finished, stopped, failed
    run_name: str = ""
    run_dir: str = ""
    step: int = 0
    total_steps: int = 0
    steps_per_epoch: int = 0
    epoch: int = 0
    epochs: int = 0
    images_per_sec: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    d_loss: float | None = None
    g_loss: float | None = None
    d_real: float | None = None
    d_fake: float | None = None
    message: str = ""
    history: tuple[dict[str, float], ...] = ()
    grids: tuple[tuple[int, np.ndarray], ...] = ()
    grid_source: str = ""       # which copy of G drew the grids: the EMA copy (with its decay now) or G itself
    warnings: tuple[str, ...] = ()
    config: TrainConfig | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


@dataclass
class _Live:
    """Mutable state behind the lock; `Snapshot` is its frozen copy."""

    snap: Snapshot = field(default_factory=Snapshot)
    history: list[dict[str, float]] = field(default_factory=list)
    grids: list[tuple[int, np.ndarray]] = field(default_factory=list)


class DiscriminatorUpdate(nn.Module):
    """D's side of one D update as a single forward: scores of the real and the generated batch, and the Q head's
    code logits on the generated one (None without an InfoGAN code).

    One forward per backward is what DistributedDataParallel expects: wrapped, it all-reduces D's gradients once.
    """

    def __init__(self, D: Discriminator) -> None:
        super().__init__()
        self.D = D

    def forward(self, real: torch.Tensor, y_real: torch.Tensor | None, fake: torch.Tensor, y_fake: torch.Tensor | None,
                with_code: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return self.D(real, y_real), *score_fake(self.D, fake, y_fake, with_code)


def score_fake(D: Discriminator, fake: torch.Tensor, labels: torch.Tensor | None, with_code: bool
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's scores on generated images and, with an InfoGAN code, the Q head's code logits (one pass through D)."""
    if not with_code:
        return D(fake, labels), None
    return D.score_and_code(fake, labels)


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        *,
        runs_root: str | Path | None = None,
        resume: str | Path | None = None,
        world: World | None = None,
    ) -> None:
        """`resume`: a run folder (continue from its latest checkpoint) or one checkpoint file.

        Resuming from a checkpoint older than the run's latest forks a new run, so the
        later history is kept. `world`: this process's rank under torchrun (default: one process).
        """
        self.config = config
        self.runs_root = Path(runs_root) if runs_root else None
        self.resume_path = Path(resume) if resume else None
        self.world = world or World()
        # Refused here, before a folder exists, when it would not fit the machine (BudgetError names what to change).
        # Checked against the config that trains: a resume's saved one once it is known (`_prepare_resume`); on the
        # other ranks under torchrun, the one rank 0 sends (`_setup`), whatever their own command line said.
        self.budget = None if self.resume_path or not self.world.is_main else self._check_budget(config)
        if self.world.is_main:  # before any folder exists (the other ranks learn the run's config from rank 0)
            distributed.check_batch(config.batch_size, self.world)
        self._lock = threading.Lock()
        self._live = _Live(Snapshot(status=RunStatus.STARTING, config=config))
        self._stop = threading.Event()
        self._weights_lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self.rundir: RunDir | None = None  # set only once the run's lock is held: nothing is written before
        self._run_lock: RunLock | None = None
        self.phase = "starting"  # what the worker is doing, for the message if it fails there

    # ------------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def generator_copy(self) -> tuple[Generator, int] | None:
        """A copy of the generator the grids use (the EMA copy when there is one) and its step; None before setup.

        Taken between two training steps, so the weights are those of one step; the copy is the caller's (on the
        CPU, in eval mode) and training goes on untouched.
        """
        with self._weights_lock:
            g = getattr(self, "G_ema", None) or getattr(self, "G", None)
            if g is None:
                return None
            return copy.deepcopy(g).cpu().eval(), self.step

    def snapshot(self) -> Snapshot:
        with self._lock:
            live = self._live
            return replace(live.snap, history=tuple(live.history), grids=tuple(live.grids))

    def _publish(self, **fields: Any) -> None:
        with self._lock:
            self._live.snap = replace(self._live.snap, **fields)

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        world = self.world = distributed.init(self.world, resolve_device(self.config.device))
        header: dict[str, Any] = {}
        ckpt_path: Path | None = None
        weights: tuple[dict[str, torch.Tensor], dict[str, str]] | tuple[None, None] = (None, None)
        if world.is_main:  # only rank 0 touches the run folder: it creates (or forks and locks) it and says what to train
            try:
                cfg, ckpt_path = self._open_run(self.config)
                if ckpt_path is not None:  # read now, so a damaged checkpoint stops the others with the header
                    weights = ck.read_weights(ckpt_path)
                header = {"config": cfg.to_dict(), "resume": ckpt_path is not None}
            except Exception as exc:
                if world.distributed:  # the others wait for this header: tell them, so they stop instead of waiting
                    distributed.broadcast_text(json.dumps({"error": str(exc)}), world)
                raise
        header = json.loads(distributed.broadcast_text(json.dumps(header) if world.is_main else None, world))
        if "error" in header:
            raise RuntimeError(f"rank 0 could not set up the run: {header['error']}")
        cfg = self.config = TrainConfig.from_dict(header["config"])
        # Under torchrun a rank that cannot train (its machine's budget, its data) says why in the agreement below,
        # so every rank stops with that reason; one process raises it here.
        problem = ""
        try:
            if self.budget is None:  # a rank other than 0: this machine's budget for the config rank 0 sent
                self.budget = self._check_budget(cfg)
            set_threads(cfg.threads)
            if cfg.eval_every and world.is_main:  # fail now, with the classifier's message, not at the first evaluation
                from gan_core.classifier import load_classifier

                load_classifier()
            data = load_split("train", data_dir=cfg.data_dir or None, classes=cfg.classes or None,
                              max_images=cfg.max_images or None)
            self.prepare(data.to_tensor(), torch.tensor(np.array(data.labels), dtype=torch.long))
        except Exception as exc:
            if not world.distributed:
                raise
            problem = str(exc) or type(exc).__name__
        self.wall_time = 0.0
        if header["resume"]:  # rank 0 reads the checkpoint; the others receive it (a second machine has no copy)
            tensors, meta = distributed.broadcast_weights(*weights, world)
            if not problem:
                self.step, self.wall_time = ck.apply_checkpoint(tensors, meta, self._state(), lr_g=cfg.lr_g,
                                                                lr_d=cfg.lr_d, path=ckpt_path or "rank 0's checkpoint")
        # Under torchrun, before the first step: a rank with other data or another schedule would finish early and
        # leave the others waiting at a collective for the timeout; all fail now, alike, saying what differs.
        if world.distributed:
            s = None if problem else self.schedule
            distributed.check_agreement(world, distributed.Facts.unable(problem, cfg.to_dict()) if s is None else
                                        distributed.Facts(images=s.images, config=cfg.to_dict(), step=self.step,
                                                          data=distributed.data_fingerprint(data.images, data.labels),
                                                          schedule=(s.batch, s.steps_per_epoch, s.total_steps)))
        self._wrap_for_world()
        self._publish(config=cfg, step=self.step, total_steps=self.total_steps, steps_per_epoch=self.steps_per_epoch,
                      epochs=cfg.epochs, epoch=self.step // self.steps_per_epoch + 1, elapsed_s=self.wall_time)
        if not world.is_main:
            return
        assert self.rundir is not None
        self.rundir.write_status(status=RunStatus.RUNNING, step=self.step, total_steps=self.total_steps,
                                 world_size=world.size)
        grids = [(s, self.rundir.load_grid(p)) for s, p in self.rundir.grids()[-MAX_GRIDS:]]
        history = list(self.rundir.metrics_summary().rows)
        with self._lock:
            self._live.grids = grids
            self._live.history = _thin(history)

    def _open_run(self, cfg: TrainConfig) -> tuple[TrainConfig, Path | None]:
        """A new run folder, or the run to resume and the checkpoint to resume from; locked, and published at once."""
        if self.resume_path is not None:
            cfg, ckpt_path = self._prepare_resume(cfg)
        else:
            run = RunDir.create(cfg, self.runs_root)
            self._run_lock = RunLock.acquire(run)  # a fresh folder: nobody else can hold it
            self.rundir, ckpt_path = run, None
            cfg = run.read_config()  # carries the final, unique name
        self.config = cfg
        assert self.rundir is not None
        # Published the moment the folder exists and is locked, so no page can rename or delete it while it starts.
        self._publish(run_name=self.rundir.name, run_dir=str(self.rundir.path), config=cfg)
        return cfg, ckpt_path

    def prepare(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """The networks, optimisers, noise streams and schedule for these training images (n, 1, 28, 28).

        `_setup` calls it with the data set; `gan_core.speed` calls it with random images to time a step.
        """
        cfg = self.config
        self.device = distributed.device_for(self.world, resolve_device(cfg.device))
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        n = len(images)
        self.schedule = Schedule.of(cfg, n)  # the budget and the speed estimate count the same steps
        self.batch = self.schedule.batch
        distributed.check_batch(self.batch, self.world)  # the global batch; each rank trains on batch / world size
        self.steps_per_epoch, self.total_steps = self.schedule.steps_per_epoch, self.schedule.total_steps
        self.label_pool = torch.tensor(
            [class_index(c) for c in cfg.classes] if cfg.classes else list(range(10)), dtype=torch.long
        )

        # The run's own random streams, never torch's global RNG (which every thread of the app shares, and pages
        # reseed): `rng` draws the initial weights, then D's dropout masks on the CPU; a CUDA or MPS run's masks come
        # from a generator on its device, seeded alike (as torch.manual_seed seeded both before).
        self.rng = torch.Generator().manual_seed(cfg.seed)
        self.device_rng = None if self.device.type == "cpu" else torch.Generator(self.device).manual_seed(cfg.seed)
        G, D = build_seeded(cfg.model_config(), self.rng)
        self.G: Generator = G.to(self.device)
        self.D: Discriminator = D.to(self.device)
        draw_dropout_from(self.D, self.device_rng or self.rng)
        self.G_ema: Generator | None = copy.deepcopy(self.G).eval() if cfg.ema > 0 else None
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas)
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)
        fixed = torch.Generator().manual_seed(cfg.seed + 2)
        self.fixed_z = torch.randn(cfg.grid_size, cfg.latent_dim, generator=fixed).to(self.device)
        self.fixed_y = torch.tensor(grid_classes(cfg), device=self.device) if cfg.conditional else None
        self.step = 0
        # What the updates call (`_wrap_for_world` puts DistributedDataParallel around them under torchrun).
        self.g_forward: nn.Module = self.G
        self.d_update: nn.Module = DiscriminatorUpdate(self.D)
        self._buffers_per_rank = False

    def _wrap_for_world(self) -> None:
        """Under torchrun: SyncBatchNorm on CUDA, DDP around G and around D's update. With bf16 autocast on CUDA,
        channels_last memory (what tensor-core convolutions want). Done after a resume loaded its weights."""
        world, dev = self.world, self.device
        if dev.type == "cuda" and self.config.amp:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
            self.images = self.images.contiguous(memory_format=torch.channels_last)
        if not world.distributed:
            return
        self.G = distributed.sync_batchnorm(self.G, world, dev)  # type: ignore[assignment]
        self.D = distributed.sync_batchnorm(self.D, world, dev)  # type: ignore[assignment]
        # On the CPU each rank's BatchNorm statistics drift apart within a step (gan_core.distributed).
        self._buffers_per_rank = dev.type != "cuda"
        self.g_forward = distributed.wrap(self.G, world, dev)
        self.d_update = distributed.wrap(DiscriminatorUpdate(self.D), world, dev)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast when the config asks for it (`amp`), else nothing."""
        if not self.config.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _check_budget(self, cfg: TrainConfig) -> Any:
        return check_fits(cfg, self.runs_root or default_runs_root(), processes=self.world.local_size,
                          ranks=self.world.size)

    def _prepare_resume(self, override: TrainConfig) -> tuple[TrainConfig, Path]:
        """The run to continue (forked if the checkpoint is older than its latest) with what a resume may change.

        Fixed on resume: everything a checkpoint's networks, optimisers and data order depend on (model, loss,
        batch, data, seed); a resume may change the fields marked resumable in gan_core.config.
        """
        assert self.resume_path is not None
        path = self.resume_path
        saved = run_of(path).read_config()
        changes = resume_changes(saved, override)
        self.budget = self._check_budget(saved.replace(**changes))  # before the run is locked, forked or rewound
        run, ckpt, self._run_lock = resume_point(self.resume_path, self.runs_root)
        saved = run.read_config()
        cfg = saved.replace(**changes, name=run.name)
        run.write_config(cfg)
        self.rundir = run
        return cfg, ckpt

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> ck.TrainingState:
        return ck.TrainingState(self.G, self.D, self.G_ema, self.opt_g, self.opt_d, self.noise, self.rng,
                                self.device_rng)

    def save_checkpoint(self) -> Path:
        """A checkpoint of this step; then the older ones beyond `keep_checkpoints`, the GIF and status.json."""
        assert self.rundir is not None
        path = self.rundir.checkpoint_path(self.step)
        free, need = shutil.disk_usage(self.rundir.path).free, self.budget.checkpoint + CHECKPOINT_MARGIN_BYTES
        if free < need:  # checked before writing, so a full disk leaves the previous checkpoint as it was
            raise OSError(errno.ENOSPC, f"not enough free disk space for a checkpoint ({free / 2**20:,.0f} MB free, "
                          f"{need / 2**20:,.0f} MB needed): free some space (or delete old runs on the Runs page), "
                          "then resume")
        ck.save_checkpoint(path, self._state(), config_json=self.config.to_json(), step=self.step,
                           wall_time_s=self.wall_time, world_size=self.world.size)
        self.rundir.prune_checkpoints(self.config.keep_checkpoints)  # only now: a crash never leaves none
        self.rundir.write_gif()
        self.rundir.write_status(step=self.step, wall_time_s=round(self.wall_time, 2), last_checkpoint=path.name)
        return path

    # ------------------------------------------------------------------ the loop
    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, pos = divmod(step, self.steps_per_epoch)
        if getattr(self, "_perm_epoch", None) != epoch:
            g = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
            self._perm = torch.randperm(len(self.images), generator=g).to(self.device)
            self._perm_epoch = epoch
        idx = distributed.shard(self._perm[pos * self.batch : (pos + 1) * self.batch], self.world)
        return self.images[idx], self.labels[idx]

    def _noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's share of a global batch of latents (and class labels). Every rank draws the whole batch from
        the same stream, so a run's noise is the same however many processes train it."""
        z = torch.randn(self.batch, self.config.latent_dim, generator=self.noise)
        if not self.config.conditional:
            return distributed.shard(z, self.world).to(self.device), None
        pick = torch.randint(len(self.label_pool), (self.batch,), generator=self.noise)
        return (distributed.shard(z, self.world).to(self.device),
                distributed.shard(self.label_pool[pick], self.world).to(self.device))

    def train_step(self) -> dict[str, float]:
        """One (or d_steps) discriminator update(s) and one generator update, as in pytorch/examples' dcgan.

        Under torchrun `d_update` and `g_forward` are DistributedDataParallel modules: each backward all-reduces the
        gradients, so every rank takes the same optimiser step. Statistics are this rank's (the loop averages them).
        """
        cfg = self.config
        probs = self.D.outputs_probabilities
        real, y_real = self._batch(self.step)            # real: (batch / N, 1, 28, 28) in [-1, 1], this rank's share
        y_real = y_real if cfg.conditional else None
        # (1) Update D: maximize log D(x) + log(1 - D(G(z))) (or the hinge / least-squares form of it), plus the
        #     InfoGAN code's likelihood through the Q head and, with r1_gamma, minus a gradient penalty on reals.
        for i in range(cfg.d_steps):
            z, y_fake = self._noise()                    # z: (batch / N, latent_dim); y_fake: (batch / N,) or None
            code = info_code(z, cfg.info_codes) if cfg.info_codes else None
            with torch.set_grad_enabled(i == cfg.d_steps - 1), self._autocast():  # only the last fake trains G
                fake = self.g_forward(z, y_fake)
            if cfg.r1_gamma > 0:
                real = real.detach().requires_grad_(True)
            with self._autocast():
                out_real, out_fake, code_logits = self.d_update(real, y_real, fake.detach(), y_fake, code is not None)
                loss_d = discriminator_loss(cfg.loss, out_real, out_fake, from_probs=probs,
                                            smoothing=cfg.label_smoothing)
                # Apart, so the logged D loss (and its ln 2 / D-winning checks) stays the adversarial one.
                info_d = cfg.info_weight * F.cross_entropy(code_logits, code) if code_logits is not None else 0.0
            if cfg.r1_gamma > 0:
                loss_d = loss_d + r1_penalty(out_real, real, cfg.r1_gamma)
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
                out_gen, code_logits = score_fake(self.D, fake, y_fake, code is not None)
                info_g = cfg.info_weight * F.cross_entropy(code_logits, code) if code_logits is not None else 0.0
                loss_g = generator_loss(cfg.loss, out_gen, from_probs=probs)
            self.opt_g.zero_grad(set_to_none=True)
            (loss_g + info_g).backward()
        finally:
            self.D.requires_grad_(True)
        self.opt_g.step()
        # (3) The EMA of G's weights, what grids, checkpoints' generator files and evaluations use.
        if self.G_ema is not None:
            if self._buffers_per_rank:  # rank 0's BatchNorm statistics, so every rank's EMA copy is the same
                distributed.broadcast_buffers(self.G, self.world)
            # Warm-up: early on the average spans only the last few steps ((1 + t) / (10 + t) grows to cfg.ema
            # by step ~9,000 at 0.999), so the EMA generator follows G from the first seconds instead of
            # showing the random initial weights for minutes.
            decay = ema_decay(cfg.ema, self.step)
            with torch.no_grad():
                for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                    pe.lerp_(p, 1.0 - decay)
                for be, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                    be.copy_(b)
        self.step += 1
        return {
            "d_loss": loss_d.item(),
            "g_loss": loss_g.item(),
            "d_real": realness(out_real.detach(), from_probs=probs),
            "d_fake": realness(out_fake.detach(), from_probs=probs),
        }

    def grid_source(self) -> str:
        """Which copy of G draws the grids (the same copy a checkpoint's generator file holds), for a caption."""
        if not self.config.ema:
            return "G itself (no EMA in this run)"
        return (f"the EMA of G's weights (decay {ema_decay(self.config.ema, self.step):.3f} now, warming up to "
                f"{self.config.ema:g})")

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        g = self.G_ema if self.G_ema is not None else self.G
        was = g.training
        g.eval()
        images = g(self.fixed_z, self.fixed_y)
        g.train(was)
        nrow = 10 if self.config.conditional and self.config.grid_size >= 10 else None
        return make_grid(images, nrow=nrow)

    def _record_grid(self) -> None:
        assert self.rundir is not None
        self._last_grid = (self.step, time.monotonic())
        grid = self.sample_grid()
        self.rundir.save_grid(self.step, grid)
        with self._lock:
            self._live.grids.append((self.step, grid))
            del self._live.grids[:-MAX_GRIDS]
            self._live.snap = replace(self._live.snap, grid_source=self.grid_source())

    def _grid_due(self, end_of_epoch: bool) -> bool:
        """On the step cadence (or each epoch), and on the time cadence so the live view moves from the first seconds."""
        cfg = self.config
        last_step, last_t = self._last_grid
        if last_step == self.step:
            return False
        if cfg.sample_every:
            if self.step % cfg.sample_every == 0:
                return True
        elif end_of_epoch:
            return True
        return bool(cfg.grid_every_s) and time.monotonic() - last_t >= cfg.grid_every_s

    def run(self, on_step: Callable[[Snapshot], None] | None = None) -> Snapshot:
        """Train until done, stopped or failed; returns the final snapshot. Never raises for a failed run.

        Any exception in any phase (setup, a step, logging, evaluation, a grid, a checkpoint, the finish) ends the
        run as "failed" with a message naming the phase, the error and what is kept, so no view is left showing a
        run as active whose worker has died.
        """
        self.phase = "setting up the run"
        try:
            self._setup()
            return self._loop(on_step)
        except Exception as exc:
            return self._crash(exc)
        finally:
            if self._run_lock is not None:  # the process ending would release it too; a server process lives on
                self._run_lock.release()
            distributed.close(self.world)

    def _crash(self, exc: Exception) -> Snapshot:
        known = isinstance(exc, (ValueError, OSError))  # their messages already say what to do
        what = str(exc) if known else f"{type(exc).__name__}: {exc}"
        if self.phase == "setting up the run":
            msg = what
        else:
            kept = None
            with contextlib.suppress(OSError):
                kept = self.rundir.latest_checkpoint() if self.rundir is not None else None
            msg = (f"the run stopped at step {self.step:,} while {self.phase}: {what}. "
                   + (f"Kept: every file written before, up to the checkpoint {kept.name}; resume from it on the "
                      "Train page's Checkpoints tab or with `python -m gan_core train --resume`."
                      if kept else "No checkpoint had been saved yet; the run's other files are kept."))
        if self.rundir is not None:
            with contextlib.suppress(OSError):  # the run folder may be what failed (deleted, disk full)
                self.rundir.write_status(status=RunStatus.FAILED, message=msg, step=getattr(self, "step", 0))
        self._publish(status=RunStatus.FAILED, message=msg)
        return self.snapshot()

    def _loop(self, on_step: Callable[[Snapshot], None] | None) -> Snapshot:
        """The steps, and after each what is due: a metrics row, an evaluation, a grid, a checkpoint (rank 0 only)."""
        cfg, run, main = self.config, self.rundir, self.world.is_main
        assert run is not None or not main
        self._publish(status=RunStatus.RUNNING)
        self._last_grid = (-1, time.monotonic())
        if self.step == 0 and main:
            self.phase = "drawing a sample grid"
            self._record_grid()
        pending: list[dict[str, float]] = []
        rate = 0.0
        eta = EtaClock(self.step)
        last_ckpt_step = self.step
        last_beat = time.monotonic()
        stop = False  # under torchrun, what all ranks agreed after the last step
        while self.step < self.total_steps:
            if stop or (not self.world.distributed and self._stop.is_set()):
                break
            if not self._running.is_set() and not self.world.distributed:  # pausing is the app's, one process
                self._pause_point(last_ckpt_step)
                last_ckpt_step = self.step
                eta = EtaClock(self.step)  # a pause is not training time
                continue
            self.phase = "training a step"
            t0 = time.perf_counter()
            with self._weights_lock:  # a copy of G (generator_copy) is never taken halfway through an update
                stats = self.train_step()
            # Every rank's mean statistics, and whether any was asked to stop: all ranks decide alike (one all-reduce).
            stats, stop = distributed.agree(self.world, stats, self._stop.is_set())
            dt = time.perf_counter() - t0
            self.wall_time += dt
            inst = self.batch / max(dt, 1e-9)  # the global batch: images/s of the whole run
            rate = inst if rate == 0 else 0.9 * rate + 0.1 * inst
            if not (math.isfinite(stats["d_loss"]) and math.isfinite(stats["g_loss"])):
                return self._fail(stats, last_ckpt_step)
            pending.append(stats)
            epoch, end_of_epoch = self.schedule.epoch_of(self.step), self.schedule.ends_epoch(self.step)
            if not main:  # the others only train: rank 0 logs, evaluates, draws and saves while they wait
                pending.clear()
                self._publish(step=self.step, epoch=epoch, images_per_sec=rate, elapsed_s=self.wall_time)
                continue
            assert run is not None
            if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                self.phase = "logging metrics"
                row = {k: float(np.mean([p[k] for p in pending])) for k in pending[0]}
                row.update(step=self.step, epoch=epoch, time_s=round(self.wall_time, 3), images_per_sec=rate)
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self.phase = "evaluating FID and coverage"
                    row.update(self._evaluate())
                    self.phase = "logging metrics"
                pending.clear()
                run.append_metrics([row])
                with self._lock:
                    self._live.history.append(row)
                    if len(self._live.history) > MAX_HISTORY:
                        self._live.history = _thin(self._live.history)
                    history, grids = list(self._live.history), [g for _, g in self._live.grids]
                warnings = tuple(w.message for w in diagnose(history[-400:], grids, loss=cfg.loss,
                                                             classes_trained=len(self.label_pool)))
                self._publish(warnings=warnings)
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                run.write_status(status=RunStatus.RUNNING, step=self.step, total_steps=self.total_steps,
                                 wall_time_s=round(self.wall_time, 3))
                last_beat = time.monotonic()
            if self._grid_due(end_of_epoch):
                self.phase = "drawing a sample grid"
                self._record_grid()
            if cfg.checkpoint_every and end_of_epoch and (self.step // self.steps_per_epoch) % cfg.checkpoint_every == 0:
                self.phase = "saving a checkpoint"
                self.save_checkpoint()
                last_ckpt_step = self.step
            self._publish(step=self.step, epoch=epoch, images_per_sec=rate, elapsed_s=self.wall_time,
                          eta_s=eta.update(self.step, self.total_steps),
                          d_loss=stats["d_loss"], g_loss=stats["g_loss"], d_real=stats["d_real"],
                          d_fake=stats["d_fake"])
            if on_step is not None:
                on_step(self.snapshot())
        return self._finish()

    def _pause_point(self, last_ckpt_step: int) -> None:
        """Save on pause (so closing the app while paused loses nothing), then wait for resume or stop."""
        self.phase = "pausing (saving a checkpoint)"
        self._publish(status=RunStatus.PAUSED)  # first: the page shows the pause at once, the save follows
        if self.step != last_ckpt_step:
            self.save_checkpoint()
        assert self.rundir is not None
        self.rundir.write_status(status=RunStatus.PAUSED, step=self.step)
        while not self._running.wait(timeout=HEARTBEAT_S):
            self.rundir.write_status(status=RunStatus.PAUSED)  # heartbeat: this process is alive, only paused
        if not self._stop.is_set():
            self._publish(status=RunStatus.RUNNING)
            self.rundir.write_status(status=RunStatus.RUNNING)

    def _finish(self) -> Snapshot:
        self.phase = "finishing (last grid, checkpoint and GIF)"
        stopped = self.step < self.total_steps
        self._publish(status=RunStatus.STOPPING if stopped else self._live.snap.status)
        status = RunStatus.STOPPED if stopped else RunStatus.FINISHED
        msg = f"stopped at step {self.step:,} of {self.total_steps:,}" if stopped else \
            f"finished {self.step:,} steps in {self.wall_time:.0f} s"
        if self.world.is_main:
            assert self.rundir is not None
            grids, latest = self.rundir.grids(), self.rundir.latest_checkpoint()
            if not grids or grids[-1][0] != self.step:
                self._record_grid()
            if latest is None or step_of(latest) != self.step:
                self.save_checkpoint()
            else:
                self.rundir.write_gif()
            self.rundir.write_status(status=status, step=self.step, wall_time_s=round(self.wall_time, 2), message=msg)
        self._publish(status=status, message=msg, eta_s=0.0 if not stopped else None)
        return self.snapshot()

    def _fail(self, stats: dict[str, float], last_ckpt_step: int) -> Snapshot:
        bad = "D loss" if not math.isfinite(stats["d_loss"]) else "G loss"
        kept = self.rundir.latest_checkpoint() if self.rundir is not None else None
        msg = (f"{bad} became {stats['d_loss'] if bad == 'D loss' else stats['g_loss']} at step {self.step}: "
               "the run stopped. "
               + (f"The last good checkpoint ({kept.name}) is kept; resume from it with a lower learning rate. "
                  if kept else "No checkpoint had been saved yet. ")
               + "Lower learning rates, a logit output or spectral norm usually help.")
        if self.rundir is not None:
            self.rundir.write_status(status=RunStatus.FAILED, message=msg, step=self.step)
        self._publish(status=RunStatus.FAILED, message=msg)
        return self.snapshot()

    def _evaluate(self) -> dict[str, float]:
        from gan_core import metrics  # heavy (classifier, reference statistics): only when asked for

        g = self.G_ema if self.G_ema is not None else self.G
        return metrics.quick_evaluate(g, n=self.config.eval_samples, seed=self.config.seed,
                                      classes=self.config.classes)


class EtaClock:
    """Time left, from wall-clock progress (grids, logging and checkpoints included) over the last minutes.

    The per-step rate swings with every grid, checkpoint and browser refresh; steps per wall-clock second over a
    window of up to ETA_WINDOW_S, itself smoothed once a second, does not.
    """

    def __init__(self, step: int) -> None:
        self._marks: deque[tuple[float, int]] = deque([(time.monotonic(), step)])
        self._rate: float | None = None

    def update(self, step: int, total: int) -> float | None:
        now = time.monotonic()
        if now - self._marks[-1][0] >= 1.0:
            self._marks.append((now, step))
            while len(self._marks) > 2 and now - self._marks[1][0] >= ETA_WINDOW_S:
                self._marks.popleft()
            t0, s0 = self._marks[0]
            rate = (step - s0) / (now - t0)
            self._rate = rate if self._rate is None else 0.9 * self._rate + 0.1 * rate
        if not self._rate:
            return None
        return max(0.0, (total - step) / self._rate)


def grid_classes(cfg: TrainConfig) -> list[int]:
    """The class asked of each image of a conditional run's fixed grid: the trained classes in order, spread evenly,
    so row r of a 10x10 grid is class r (and views can name the rows)."""
    pool = [class_index(c) for c in cfg.classes] if cfg.classes else list(range(10))
    return [pool[i * len(pool) // cfg.grid_size] for i in range(cfg.grid_size)]


def ema_decay(target: float, step: int) -> float:
    """The EMA decay at `step`: min(target, (1 + step) / (10 + step))."""
    return min(target, (1.0 + step) / (10.0 + step))


def _thin(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """Keep at most MAX_HISTORY points: drop every other old point, always keep the newest half."""
    while len(history) > MAX_HISTORY:
        half = len(history) // 2
        history = history[:half][::2] + history[half:]
    return history

