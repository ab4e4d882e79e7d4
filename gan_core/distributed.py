"""Several processes, one run: torchrun's environment, the process group, and the few collectives training needs.

`torchrun --nproc-per-node N -m gan_core train ...` starts N copies of `python -m gan_core train`; each finds its
rank in the environment torchrun sets (`World.from_env`). The trainer decides once which world it is in: one process
trains with `gan_core.step.OneProcess` and never calls into this module; several use `Ranks` (how a step's work is
split) and `gan_core.launch`'s rank setup (the header, the checkpoint and the agreement below).

The choices, each with its reason (README "Scaling out" says the same to users):
- `batch_size` is the *global* batch: each of the N ranks trains on batch_size / N images of it (global batch =
  per-rank batch x world size). A run's steps, epochs and learning rates therefore mean the same for any N, and a
  checkpoint resumes with any N that divides the batch. To give each rank more work, raise --batch-size (and the
  learning rates with it; README).
- Data and noise: every rank draws the same seeded permutation of the epoch and the same latent batch for the whole
  global batch, and keeps its own slice (`shard`): the slices are disjoint and cover the batch, and together the
  ranks see exactly what one process would.
- BatchNorm: on CUDA, `SyncBatchNorm` normalises over the global batch, as one process does. On the CPU, where
  SyncBatchNorm does not run, each rank normalises its own slice and every rank uses rank 0's running statistics
  (DDP broadcasts buffers before each forward; `broadcast_buffers` once more before the EMA copies them), so every
  rank's EMA generator is the same, bit for bit.
- Rank 0 alone touches the run folder. The others get the final config and the checkpoint to resume from by
  broadcast, so a second machine needs no copy of the run.
- Agreement: before the first step every rank sends its `Facts` (data count and digest, schedule, config, step,
  or why it cannot train) in one all-gather; on any difference all ranks fail alike saying what differs, where a rank with
  another copy of the data would otherwise finish early and leave the others at a collective until the timeout.
- Evaluation, grids and checkpoints run on rank 0 while the others wait at the next step's all-reduce: seconds,
  against the process group's timeout of `TIMEOUT`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

TIMEOUT = timedelta(minutes=30)  # a rank may wait this long at a collective while rank 0 evaluates or checkpoints


@dataclass(frozen=True)
class World:
    """This process's place among the run's processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this machine
    backend: str = ""  # set once the process group is up: gloo (CPU) or nccl (CUDA)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run folder, prints and evaluates."""
        return self.rank == 0

    @classmethod
    def from_env(cls) -> World:
        """What torchrun set (WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE); one process when it did not."""
        try:
            size, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", "0"))
            local_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(size)))
        except ValueError as exc:
            raise ValueError(f"WORLD_SIZE, RANK, LOCAL_RANK and LOCAL_WORLD_SIZE must be whole numbers ({exc}); "
                             "they are torchrun's to set: launch with torchrun, or unset them") from None
        if size < 1 or not 0 <= rank < size:
            raise ValueError(f"RANK {rank} is not within WORLD_SIZE {size}: launch with torchrun, or unset them")
        return cls(rank=rank, size=size, local_rank=local, local_size=local_size)


def device_for(world: World, device: torch.device) -> torch.device:
    """One GPU per process on a CUDA node (the local rank's), else the device as chosen."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def init(world: World, device: torch.device) -> World:
    """Join the process group (nccl on CUDA, gloo elsewhere); a one-process world is returned untouched."""
    if not world.distributed or dist.is_initialized():
        return world if not world.distributed else replace(world, backend=dist.get_backend())
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=TIMEOUT)
    return replace(world, backend=backend)


def close(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def _comm_device(world: World) -> torch.device:
    """Where a collective's tensors must live: on this rank's GPU for nccl, on the CPU for gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if world.backend == "nccl" else torch.device("cpu")


# ----------------------------------------------------------------------------- data
def shard(batch: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's contiguous slice of a global batch (its first dimension must split evenly over the ranks)."""
    if not world.distributed:
        return batch
    per_rank = len(batch) // world.size
    return batch[world.rank * per_rank : (world.rank + 1) * per_rank]


def check_batch(batch: int, world: World) -> None:
    """A global batch that does not split evenly over the ranks is refused with what to change."""
    if batch % world.size:
        lower, upper = batch - batch % world.size, batch + world.size - batch % world.size
        raise ValueError(f"the batch of {batch} images does not split evenly over {world.size} processes "
                         f"(batch_size is the global batch, each process trains on batch_size / {world.size}): "
                         f"use --batch-size {lower or upper} or {upper}, or a process count that divides {batch}")


# ----------------------------------------------------------------------------- collectives
def agree(world: World, stats: dict[str, float], stop: bool) -> tuple[dict[str, float], bool]:
    """All ranks' mean of a step's statistics, and whether any rank was asked to stop, in one all-reduce.

    Every rank then takes the same decisions (log, fail on a non-finite loss, stop) at the same step, which is what
    keeps their collectives in step.
    """
    if not world.distributed:
        return stats, stop
    values = torch.tensor([*stats.values(), float(stop)], dtype=torch.float64, device=_comm_device(world))
    dist.all_reduce(values)
    values = values.cpu()
    mean = {k: float(v) / world.size for k, v in zip(stats, values[:-1].tolist(), strict=True)}
    return mean, bool(values[-1] > 0)


def data_fingerprint(images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> str:
    """A digest of the training images and labels as loaded (bytes, dtype and shape), hashed in place without a
    copy: about 0.06 s for Fashion-MNIST's 60,000 uint8 images, and taken only under torchrun."""
    h = hashlib.blake2b(digest_size=12)
    for a in (images, labels):
        arr = np.ascontiguousarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a))
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.reshape(-1).view(np.uint8))
    return h.hexdigest()


FACTS_BYTES = 16384  # what each rank sends to the agreement: a few KB of JSON, padded to one size for one all-gather


def _shown(value: Any, longest: int = 64) -> Any:
    """`value`, or its digest when its JSON is longer than `longest` characters (what travels and is shown)."""
    text = json.dumps(value, sort_keys=True)
    return value if len(text) <= longest else "digest " + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Facts:
    """What every rank must hold alike before the first step, as one rank sees it."""

    images: int  # training images loaded
    data: str  # `data_fingerprint` of them
    schedule: tuple[int, int, int]  # batch, steps per epoch, total steps (gan_core.schedule.Schedule)
    config: dict[str, Any]  # the config that trains, as JSON values
    step: int  # the step training starts from (a resume's checkpoint step, else 0)
    problem: str = ""  # why this rank cannot train (its budget, its data), "" if it can; then nothing else counts

    def encode(self) -> bytes:
        """JSON of at most FACTS_BYTES: a long config value as its digest, a long problem clipped."""
        config = {k: _shown(v) for k, v in sorted(self.config.items())}
        data = self._json(config)
        if len(data) > FACTS_BYTES:  # not with today's config (about 1 KB); its digest still tells configs apart
            data = self._json({"config": _shown(config, 0)})
        return data

    def _json(self, config: dict[str, Any]) -> bytes:
        return json.dumps({"images": self.images, "data": self.data, "schedule": list(self.schedule),
                           "config": config, "step": self.step, "problem": self.problem[:2000]}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Facts:
        raw = json.loads(data.rstrip(b"\0").decode())
        return cls(images=raw["images"], data=raw["data"], schedule=tuple(raw["schedule"]), config=raw["config"],
                   step=raw["step"], problem=raw["problem"])

    @classmethod
    def unable(cls, problem: str, config: dict[str, Any]) -> Facts:
        """A rank that cannot train (its budget refused the run, its data did not load), and why."""
        return cls(images=0, data="", schedule=(0, 0, 0), config=config, step=0, problem=problem)


_SAME_CODE = "install the same version of Fashion GAN Studio on every machine"
_SAME_DATA = ("give every process the same copy of Fashion-MNIST (the same files under --data-dir, or at the default "
              "data location, on every machine)")


def disagreements(every: list[Facts]) -> list[str]:
    """What the ranks' facts disagree on, each problem naming the ranks and what to do; [] when they agree.

    Each rank is compared with rank 0 (whose config and checkpoint every rank received); a fact that follows from
    another (the schedule from the data) is only reported when that other agrees.
    """
    ref, problems = every[0], []
    for rank, f in enumerate(every):
        if f.problem:
            problems.append(f"rank {rank} cannot train this run: {f.problem}")
        if rank == 0 or f.problem or ref.problem:  # nothing to compare with
            continue
        if f.images != ref.images:
            problems.append(f"rank {rank}'s training data differs from rank 0's ({f.images:,} images vs "
                            f"{ref.images:,}): {_SAME_DATA}")
        elif f.data != ref.data:
            problems.append(f"rank {rank}'s training data differs from rank 0's (the same {f.images:,} images, other "
                            f"contents): {_SAME_DATA}")
        elif f.schedule != ref.schedule:
            problems.append(f"rank {rank}'s schedule differs from rank 0's (batch, steps per epoch, total steps "
                            f"{list(f.schedule)} vs {list(ref.schedule)}): {_SAME_CODE}")
        fields = sorted(k for k in {*f.config, *ref.config} if f.config.get(k) != ref.config.get(k))
        if fields:
            shown = ", ".join(f"{k} ({f.config.get(k)!r} vs {ref.config.get(k)!r})" for k in fields[:4])
            more = f" and {len(fields) - 4} more" if len(fields) > 4 else ""
            problems.append(f"rank {rank}'s config differs from rank 0's in {shown}{more}: {_SAME_CODE}")
        if f.step != ref.step:
            problems.append(f"rank {rank} starts at step {f.step:,}, rank 0 at step {ref.step:,}: {_SAME_CODE}")
    return problems


def check_agreement(world: World, facts: Facts) -> None:
    """Every rank's `facts` against rank 0's, in one all-gather of FACTS_BYTES per rank; on a disagreement, the same
    RuntimeError on every rank, naming what differs, on which ranks and what to do, instead of a rank finishing
    early and leaving the others at a collective until the timeout. One process: returns at once."""
    if not world.distributed:
        return
    dev = _comm_device(world)
    mine = torch.zeros(FACTS_BYTES, dtype=torch.uint8)
    encoded = facts.encode()
    mine[: len(encoded)] = torch.frombuffer(bytearray(encoded), dtype=torch.uint8)
    gathered = [torch.zeros(FACTS_BYTES, dtype=torch.uint8, device=dev) for _ in range(world.size)]
    dist.all_gather(gathered, mine.to(dev))
    problems = disagreements([Facts.decode(g.cpu().numpy().tobytes()) for g in gathered])
    if problems:
        shown = problems[:6] + ([f"and {len(problems) - 6} more"] if len(problems) > 6 else [])
        raise RuntimeError("the processes of this run disagree, so none of them trains: " + "; ".join(shown))


def broadcast_text(text: str | None, world: World) -> str:
    """Rank 0's text on every rank (the others pass None)."""
    if not world.distributed:
        assert text is not None
        return text
    dev = _comm_device(world)
    data = torch.frombuffer(bytearray(text.encode()), dtype=torch.uint8) if world.is_main else None
    length = torch.tensor([len(data) if data is not None else 0], dtype=torch.int64, device=dev)
    dist.broadcast(length, src=0)
    buf = data.to(dev) if data is not None else torch.empty(int(length), dtype=torch.uint8, device=dev)
    dist.broadcast(buf, src=0)
    return text if text is not None else buf.cpu().numpy().tobytes().decode()


def broadcast_weights(tensors: dict[str, torch.Tensor] | None, meta: dict[str, str] | None, world: World
                      ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Rank 0's checkpoint (tensors and metadata, as read from the file) on every rank, without any pickling.

    The names, dtypes and shapes travel as JSON first, so every rank allocates the same tensors before they are
    filled.
    """
    if not world.distributed:
        assert tensors is not None and meta is not None
        return tensors, meta
    header = None
    if world.is_main:
        assert tensors is not None and meta is not None
        header = json.dumps({"meta": meta, "tensors": [[k, str(t.dtype).removeprefix("torch."), list(t.shape)]
                                                       for k, t in sorted(tensors.items())]})
    info = json.loads(broadcast_text(header, world))
    dev, out = _comm_device(world), {}
    for name, dtype, shape in info["tensors"]:
        t = (tensors[name].contiguous().to(dev) if world.is_main and tensors is not None
             else torch.empty(shape, dtype=getattr(torch, dtype), device=dev))
        dist.broadcast(t, src=0)
        out[name] = t.cpu()
    return out, info["meta"]


def broadcast_buffers(module: nn.Module, world: World) -> None:
    """Rank 0's buffers (BatchNorm's running statistics) into every rank's copy of `module`."""
    if not world.distributed:
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src=0)


# ----------------------------------------------------------------------------- networks
def sync_batchnorm(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """SyncBatchNorm on CUDA (statistics over the global batch); on the CPU each rank keeps its own (see above)."""
    if world.distributed and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


class Ranks:
    """How a step's work is split over torchrun's processes: `gan_core.step.Replicas` for several processes.

    Each rank trains its share of the global batch (`shard`), the networks are wrapped in DDP, and on the CPU
    rank 0's BatchNorm statistics are copied to every rank before the EMA reads them (see the module's notes).
    """

    def __init__(self, world: World) -> None:
        assert world.distributed, "one process trains with gan_core.step.OneProcess"
        self.world, self.size = world, world.size

    def device(self, device: torch.device) -> torch.device:
        return device_for(self.world, device)

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        return shard(batch, self.world)

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        return wrap(module, self.world, device)

    def sync_batchnorm(self, module: nn.Module, device: torch.device) -> nn.Module:
        return sync_batchnorm(module, self.world, device)

    def sync_buffers(self, module: nn.Module) -> None:
        first = next(module.buffers(), None)
        if first is not None and first.device.type != "cuda":  # SyncBatchNorm keeps CUDA ranks' statistics alike
            broadcast_buffers(module, self.world)

    def agree(self, stats: dict[str, float], stop: bool) -> tuple[dict[str, float], bool]:
        return agree(self.world, stats, stop)


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `module` (it all-reduces the gradients of each backward); itself for one process.

    Every parameter is used in each of the module's backward passes (the trainer wraps G, and D's whole update as
    one forward), so `find_unused_parameters` stays off and costs nothing.
    """
    if not world.distributed:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)
