"""Setting a run up before its first step: its folder (new, or the run a resume continues), the config that trains,
the data, the step and the checkpoint it resumes from.

One process does it directly (`_setup_one`) and never enters `gan_core.distributed`. Under torchrun
(`_setup_ranks`) rank 0 alone opens the folder and sends the config and the checkpoint; every rank loads its data,
builds its step and, before the first step, checks with the others that they agree (data, schedule, config, step).

`Launch` holds what setting up makes, filled in as it goes, so a failure part-way still names the lock to release
and the folder whose status to write. The trainer owns one; nothing here knows the trainer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_core import checkpoints as ck
from gan_core import distributed, tboard
from gan_core.budget import Budget, check_fits
from gan_core.config import TrainConfig, resume_changes
from gan_core.data import FashionMNIST, load_split
from gan_core.distributed import Ranks, World
from gan_core.live import LiveState
from gan_core.paths import default_runs_root
from gan_core.recorder import RunRecorder
from gan_core.runs import RunDir, RunLock, resume_point, run_of
from gan_core.runtime import resolve_device, set_threads
from gan_core.step import GanStep, OneProcess

Weights = tuple[dict[str, torch.Tensor], dict[str, str]]


class Launch:
    """One run's setup: the config that trains, its budget, lock, recorder (rank 0's) and step, as they are made."""

    def __init__(self, config: TrainConfig, *, runs_root: Path | None, resume: Path | None, world: World,
                 live: LiveState) -> None:
        self.config, self.runs_root, self.resume_path, self.world, self.live = config, runs_root, resume, world, live
        self.run_lock: RunLock | None = None
        self.recorder: RunRecorder | None = None
        self.gan: GanStep | None = None
        self.wall_time = 0.0  # what a resumed run had trained
        self.budget = self._early_budget()

    @property
    def solo(self) -> bool:
        return not self.world.distributed

    def _early_budget(self) -> Budget | None:
        """The budget of a new run, checked before any folder exists (BudgetError says what to change).

        A resume is budgeted once its saved config is known (`_prepare_resume`); under torchrun a rank other than 0
        budgets the config rank 0 sends (`_setup_ranks`), whatever its own command line said. TensorBoard output
        asked for without its package is refused first, a resume's too (the field is resumable: what it asks for is
        what trains); only rank 0 records, so only its machine needs the package.
        """
        if self.world.is_main:
            tboard.check(self.config)
        if self.resume_path or not self.world.is_main:
            return None
        budget = self._budget(self.config)
        if not self.solo:  # the global batch must split over the ranks: refused before any folder exists
            distributed.check_batch(self.config.batch_size, self.world)
        return budget

    def _budget(self, cfg: TrainConfig) -> Budget:
        return check_fits(cfg, self.runs_root or default_runs_root(), processes=self.world.local_size,
                          ranks=self.world.size)

    def setup(self) -> GanStep:
        """Everything before the first step: the step, ready, with the run recorded as running."""
        if self.solo:
            self._setup_one()
        else:
            self._setup_ranks()
        assert self.gan is not None
        return self.gan

    def _setup_one(self) -> None:
        cfg, ckpt = self._open_run()
        weights = ck.read_weights(ckpt) if ckpt is not None else None
        gan, _ = self._build(cfg, OneProcess())
        self._start(gan, _restore(gan, weights, ckpt))

    def _setup_ranks(self) -> None:
        world = self.world = distributed.init(self.world, resolve_device(self.config.device))
        header: dict[str, Any] = {}
        ckpt: Path | None = None
        weights: Weights | tuple[None, None] = (None, None)
        if world.is_main:  # only rank 0 touches the run folder: it creates (or forks and locks) it, says what to train
            try:
                cfg, ckpt = self._open_run()
                if ckpt is not None:  # read now, so a damaged checkpoint stops the others with the header
                    weights = ck.read_weights(ckpt)
                header = {"config": cfg.to_dict(), "resume": ckpt is not None}
            except Exception as exc:  # the others wait for this header: tell them, so they stop instead of waiting
                distributed.broadcast_text(json.dumps({"error": str(exc)}), world)
                raise
        header = json.loads(distributed.broadcast_text(json.dumps(header) if world.is_main else None, world))
        if "error" in header:
            raise RuntimeError(f"rank 0 could not set up the run: {header['error']}")
        cfg = self.config = TrainConfig.from_dict(header["config"])
        # A rank that cannot train (its machine's budget, its data) says why in the agreement below, so every rank
        # stops with that reason.
        problem, gan, data, wall = "", None, None, 0.0
        try:
            if self.budget is None:  # a rank other than 0: this machine's budget for the config rank 0 sent
                self.budget = self._budget(cfg)
            gan, data = self._build(cfg, Ranks(world))
        except Exception as exc:
            problem = str(exc) or type(exc).__name__
        if header["resume"]:  # rank 0 reads the checkpoint; the others receive it (a second machine has no copy)
            received = distributed.broadcast_weights(*weights, world)
            if gan is not None:
                wall = _restore(gan, received, ckpt or "rank 0's checkpoint")
        # Before the first step: a rank with other data or another schedule would finish early and leave the others
        # waiting at a collective for the timeout; all fail now, alike, saying what differs.
        facts = distributed.Facts.unable(problem, cfg.to_dict())
        if gan is not None and data is not None:
            s = gan.schedule
            facts = distributed.Facts(images=s.images, config=cfg.to_dict(), step=gan.step, schedule=(
                s.batch, s.steps_per_epoch, s.total_steps), data=distributed.data_fingerprint(data.images, data.labels))
        distributed.check_agreement(world, facts)
        assert gan is not None
        self._start(gan, wall)

    def _start(self, gan: GanStep, wall: float) -> None:
        """The networks wrapped for the replicas, the views told what trains, the run recorded as running."""
        gan.wrap()
        self.gan, self.wall_time, s = gan, wall, gan.schedule
        self.live.publish(config=gan.config, step=gan.step, total_steps=s.total_steps,
                          steps_per_epoch=s.steps_per_epoch, epochs=gan.config.epochs,
                          epoch=gan.step // s.steps_per_epoch + 1, elapsed_s=wall, compute=gan.compute)
        if self.recorder is not None:
            self.recorder.begin(gan.step, s.total_steps)

    def _build(self, cfg: TrainConfig, replicas: OneProcess | Ranks) -> tuple[GanStep, FashionMNIST]:
        """Threads, the classifier an evaluation will need, the data, and the step on them."""
        set_threads(cfg.threads)
        if cfg.eval_every and self.world.is_main:  # fail now, with the classifier's message, not at the first one
            from gan_core.classifier import load_classifier

            load_classifier()
        data = load_split("train", data_dir=cfg.data_dir or None, classes=cfg.classes or None,
                          max_images=cfg.max_images or None)
        images, labels = data.to_tensor(), torch.tensor(np.array(data.labels), dtype=torch.long)
        device = replicas.device(resolve_device(cfg.device))
        gan = GanStep(cfg, images, labels, device=device, replicas=replicas)
        if not isinstance(replicas, OneProcess):  # the global batch; each rank trains on batch / world size
            distributed.check_batch(gan.batch, self.world)
        return gan, data

    def _open_run(self) -> tuple[TrainConfig, Path | None]:
        """A new run folder, or the run to resume and the checkpoint to resume from; locked, published at once."""
        if self.resume_path is not None:
            run, cfg, ckpt = self._prepare_resume()
        else:
            run = RunDir.create(self.config, self.runs_root)
            self.run_lock = RunLock.acquire(run)  # a fresh folder: nobody else can hold it
            cfg, ckpt = run.read_config(), None  # carries the final, unique name
        self.config = cfg
        assert self.budget is not None
        self.recorder = RunRecorder(run, self.live, cfg, self.budget.checkpoint, world_size=self.world.size)
        # Published the moment the folder exists and is locked, so no page can rename or delete it while it starts.
        self.live.publish(run_name=run.name, run_dir=str(run.path), config=cfg)
        return cfg, ckpt

    def _prepare_resume(self) -> tuple[RunDir, TrainConfig, Path]:
        """The run to continue (forked if the checkpoint is older than its latest) with what a resume may change.

        Fixed on resume: everything a checkpoint's networks, optimisers and data order depend on (model, loss,
        batch, data, seed); a resume may change the fields marked resumable in gan_core.config.
        """
        assert self.resume_path is not None
        saved = run_of(self.resume_path).read_config()
        changes = resume_changes(saved, self.config)
        self.budget = self._budget(saved.replace(**changes))  # before the run is locked, forked or rewound
        run, ckpt, self.run_lock = resume_point(self.resume_path, self.runs_root)
        cfg = run.read_config().replace(**changes, name=run.name)
        run.write_config(cfg)
        return run, cfg, ckpt


def _restore(gan: GanStep, weights: Weights | None, path: Path | str | None) -> float:
    """A resume's checkpoint applied to the step (its step count, weights, optimisers, random streams); the wall
    time it had trained (0 for a new run)."""
    if weights is None:
        return 0.0
    cfg = gan.config
    gan.step, wall = ck.apply_checkpoint(weights[0], weights[1], gan.state(), lr_g=cfg.lr_g, lr_d=cfg.lr_d,
                                         path=path)
    return wall
