"""Setting a run up before its first step: its folder (new, or the run a resume continues), the config that trains,
the data, the step and the checkpoint it resumes from.

One process does it directly (`_setup_one`) and never enters `gan_core.distributed`. Under torchrun
(`_setup_ranks`) rank 0 alone opens the folder and sends the config and the checkpoint; every rank loads its data,
builds its step and, before the first step, checks with the others that they agree (data, schedule, config, step).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gan_core import checkpoints as ck
from gan_core import distributed, tboard
from gan_core.budget import Budget, check_fits
from gan_core.config import TrainConfig, resume_changes
from gan_core.data import FashionMNIST, load_split
from gan_core.distributed import Ranks
from gan_core.paths import default_runs_root
from gan_core.recorder import RunRecorder
from gan_core.runs import RunDir, RunLock, resume_point, run_of
from gan_core.runtime import resolve_device, set_threads
from gan_core.step import GanStep, OneProcess

if TYPE_CHECKING:
    from gan_core.training import Trainer

Weights = tuple[dict[str, torch.Tensor], dict[str, str]]


def early_budget(t: Trainer) -> Budget | None:
    """The budget of a new run, checked before any folder exists (BudgetError says what to change).

    A resume is budgeted once its saved config is known (`_open_run`); under torchrun a rank other than 0 budgets
    the config rank 0 sends (`_setup_ranks`), whatever its own command line said. TensorBoard output asked for
    without its package is refused first, a resume's too (the field is resumable: what it asks for is what trains);
    only rank 0 records, so only its machine needs the package.
    """
    if t.world.is_main:
        tboard.check(t.config)
    if t.resume_path or not t.world.is_main:
        return None
    budget = check_budget(t, t.config)
    if not t.solo:  # the global batch must split over the ranks: refused before any folder exists
        distributed.check_batch(t.config.batch_size, t.world)
    return budget


def check_budget(t: Trainer, cfg: TrainConfig) -> Budget:
    return check_fits(cfg, t.runs_root or default_runs_root(), processes=t.world.local_size, ranks=t.world.size)


def setup(t: Trainer) -> None:
    """Everything before the first step; the trainer is attached to its step and (rank 0's) recorder after it."""
    if t.solo:
        _setup_one(t)
    else:
        _setup_ranks(t)


def _setup_one(t: Trainer) -> None:
    cfg, ckpt = _open_run(t)
    weights = ck.read_weights(ckpt) if ckpt is not None else None
    gan, _ = _build(t, cfg, OneProcess())
    _start(t, gan, _restore(gan, weights, ckpt))


def _setup_ranks(t: Trainer) -> None:
    world = t.world = distributed.init(t.world, resolve_device(t.config.device))
    header: dict[str, Any] = {}
    ckpt: Path | None = None
    weights: Weights | tuple[None, None] = (None, None)
    if world.is_main:  # only rank 0 touches the run folder: it creates (or forks and locks) it and says what to train
        try:
            cfg, ckpt = _open_run(t)
            if ckpt is not None:  # read now, so a damaged checkpoint stops the others with the header
                weights = ck.read_weights(ckpt)
            header = {"config": cfg.to_dict(), "resume": ckpt is not None}
        except Exception as exc:  # the others wait for this header: tell them, so they stop instead of waiting
            distributed.broadcast_text(json.dumps({"error": str(exc)}), world)
            raise
    header = json.loads(distributed.broadcast_text(json.dumps(header) if world.is_main else None, world))
    if "error" in header:
        raise RuntimeError(f"rank 0 could not set up the run: {header['error']}")
    cfg = t.config = TrainConfig.from_dict(header["config"])
    # A rank that cannot train (its machine's budget, its data) says why in the agreement below, so every rank
    # stops with that reason.
    problem, gan, data, wall = "", None, None, 0.0
    try:
        if t.budget is None:  # a rank other than 0: this machine's budget for the config rank 0 sent
            t.budget = check_budget(t, cfg)
        gan, data = _build(t, cfg, Ranks(world))
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
    _start(t, gan, wall)


def _restore(gan: GanStep, weights: Weights | None, path: Path | str | None) -> float:
    """A resume's checkpoint applied to the step (its step count, weights, optimisers, random streams); the wall
    time it had trained (0 for a new run)."""
    if weights is None:
        return 0.0
    cfg = gan.config
    gan.step, wall = ck.apply_checkpoint(weights[0], weights[1], gan.state(), lr_g=cfg.lr_g, lr_d=cfg.lr_d,
                                         path=path)
    return wall


def _start(t: Trainer, gan: GanStep, wall: float) -> None:
    """The networks wrapped for the replicas, the trainer attached, the run recorded as running."""
    gan.wrap()
    t.attach(gan, wall)
    if t.recorder is not None:
        t.recorder.begin(gan.step, gan.schedule.total_steps)


def _build(t: Trainer, cfg: TrainConfig, replicas: OneProcess | Ranks) -> tuple[GanStep, FashionMNIST]:
    """Threads, the classifier an evaluation will need, the data, and the step on them."""
    set_threads(cfg.threads)
    if cfg.eval_every and t.world.is_main:  # fail now, with the classifier's message, not at the first evaluation
        from gan_core.classifier import load_classifier

        load_classifier()
    data = load_split("train", data_dir=cfg.data_dir or None, classes=cfg.classes or None,
                      max_images=cfg.max_images or None)
    images, labels = data.to_tensor(), torch.tensor(np.array(data.labels), dtype=torch.long)
    device = replicas.device(resolve_device(cfg.device))
    gan = GanStep(cfg, images, labels, device=device, replicas=replicas)
    if not isinstance(replicas, OneProcess):  # the global batch; each rank trains on batch / world size
        distributed.check_batch(gan.batch, t.world)
    return gan, data


def _open_run(t: Trainer) -> tuple[TrainConfig, Path | None]:
    """A new run folder, or the run to resume and the checkpoint to resume from; locked, and published at once."""
    if t.resume_path is not None:
        run, cfg, ckpt = _prepare_resume(t)
    else:
        run = RunDir.create(t.config, t.runs_root)
        t.run_lock = RunLock.acquire(run)  # a fresh folder: nobody else can hold it
        cfg, ckpt = run.read_config(), None  # carries the final, unique name
    t.config = cfg
    assert t.budget is not None
    t.recorder = RunRecorder(run, t.live, cfg, t.budget.checkpoint, world_size=t.world.size)
    # Published the moment the folder exists and is locked, so no page can rename or delete it while it starts.
    t.live.publish(run_name=run.name, run_dir=str(run.path), config=cfg)
    return cfg, ckpt


def _prepare_resume(t: Trainer) -> tuple[RunDir, TrainConfig, Path]:
    """The run to continue (forked if the checkpoint is older than its latest) with what a resume may change.

    Fixed on resume: everything a checkpoint's networks, optimisers and data order depend on (model, loss, batch,
    data, seed); a resume may change the fields marked resumable in gan_core.config.
    """
    assert t.resume_path is not None
    saved = run_of(t.resume_path).read_config()
    changes = resume_changes(saved, t.config)
    t.budget = check_budget(t, saved.replace(**changes))  # before the run is locked, forked or rewound
    run, ckpt, t.run_lock = resume_point(t.resume_path, t.runs_root)
    cfg = run.read_config().replace(**changes, name=run.name)
    run.write_config(cfg)
    return run, cfg, ckpt
