"""Weights on disk: safetensors files with JSON metadata, written atomically.

Two kinds of file share one format so that one loader serves both:
- a *checkpoint* holds G, D (and G's EMA copy), both Adam states, the RNG states
  and the step, so a resumed run continues exactly where it stopped;
- a *generator* file holds G only plus a model card (what `weights/` ships).
Nothing here unpickles: optimizer hyper-parameters travel as JSON.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from gan_core.config import ConfigError, TrainConfig
from gan_core.models import Discriminator, Generator, ModelConfig, build_discriminator, build_generator
from gan_core.paths import atomic_write_bytes
from gan_core.runs import checkpoint_of
from gan_core.tensorfile import parse_safetensors

FORMAT_CHECKPOINT = "fashion-gan-studio/checkpoint/1"
FORMAT_GENERATOR = "fashion-gan-studio/generator/1"
NO_DISCRIMINATOR = (
    "{path} holds a generator only. The discriminator lives in training checkpoints: pass a run folder "
    "(runs/<name>) or one of its checkpoints/step_*.safetensors files instead of a shipped/exported generator file."
)
MAX_WEIGHTS_BYTES = 2 * 2**30   # the largest config the form admits writes checkpoints well below this
MAX_PARAMETERS = 200_000_000    # per network; tf-tutorial at width 8, the largest allowed, has about 70 M
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


class CheckpointError(ValueError):
    """A weights file is missing, corrupt, not ours, or does not fit its model."""


# ----------------------------------------------------------------------------- tensors <-> dicts
def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}/{k}": v.detach().cpu().contiguous().clone() for k, v in state.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "/"
    return {k[len(p) :]: v for k, v in tensors.items() if k.startswith(p)}


def optimizer_to_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"{prefix}/{idx}/{key}"] = t.detach().cpu().contiguous().clone()
    return tensors, json.dumps(sd["param_groups"])


def optimizer_from_tensors(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], groups: str) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _unprefixed(prefix, tensors).items():
        idx, name = key.split("/", 1)
        state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": json.loads(groups)})


# ----------------------------------------------------------------------------- reading
def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of one of our safetensors files, or a CheckpointError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{path} is {size / 2**30:.1f} GiB, more than any Fashion GAN Studio weights file "
                              f"({MAX_WEIGHTS_BYTES / 2**30:.0f} GiB at most): it is not one of ours, so it is not read")
    data = path.read_bytes()
    return parse_weights(data, str(path))


def parse_weights(data: bytes, name: str = "upload") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if data[:4] in _PICKLE_MAGIC or data[:2] in _PICKLE_MAGIC:
        raise CheckpointError(
            f"{name} is a PyTorch pickle (.pt/.pth), not a safetensors file. Fashion GAN Studio never "
            "unpickles files because that can run arbitrary code: save the weights with safetensors, "
            "or pick a .safetensors file written by this app or `python -m gan_core`."
        )
    try:
        tensors, meta = parse_safetensors(data)
    except ValueError as exc:
        raise CheckpointError(
            f"{name} is not a readable safetensors file ({exc}); it may be truncated or of another format. "
            "Pick a .safetensors file written by Fashion GAN Studio."
        ) from None
    if meta.get("format") not in (FORMAT_CHECKPOINT, FORMAT_GENERATOR):
        raise CheckpointError(
            f"{name} is a safetensors file but not one of Fashion GAN Studio's (no 'format' metadata "
            f"{FORMAT_CHECKPOINT!r} or {FORMAT_GENERATOR!r}); its tensors cannot be matched to a model."
        )
    check_metadata(meta, name)
    return tensors, meta


# What each metadata field of our files must hold: checked once, when a file is parsed, so that everything reading
# a LoadedGenerator (pages, pickers, the CLI, cards, export) can only ever meet a CheckpointError.
MAX_METADATA_CHARS = 1 << 20   # a field of our files is a few KB (a card with its metrics); nothing is this large
_WHOLE = re.compile(r"[0-9]{1,12}")
_JSON_FIELDS = {"model": dict, "card": dict, "config": dict, "opt_g_groups": list, "opt_d_groups": list}


def check_metadata(meta: dict[str, str], name: str = "file") -> None:
    """CheckpointError naming the file and the field when a metadata value is not what our files write."""
    for key, value in meta.items():
        if not isinstance(value, str):
            raise CheckpointError(f"{name}: metadata {key!r} is {type(value).__name__}, not text")
        if len(value) > MAX_METADATA_CHARS:
            raise CheckpointError(f"{name}: metadata {key!r} is {len(value):,} characters, more than any file of this "
                                  f"app writes ({MAX_METADATA_CHARS:,}): it is not one of ours")
    for key in ("step", "world_size"):
        if key in meta and not _WHOLE.fullmatch(meta[key]):
            raise CheckpointError(f"{name}: metadata {key!r} is {meta[key][:40]!r}, where it must be a whole number")
    if meta.get("world_size") == "0":
        raise CheckpointError(f"{name}: metadata 'world_size' is 0, where it must be at least 1")
    if "wall_time_s" in meta:
        try:
            seconds = float(meta["wall_time_s"])
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds >= 0):
            raise CheckpointError(f"{name}: metadata 'wall_time_s' is {meta['wall_time_s'][:40]!r}, where it must be "
                                  "a number of seconds >= 0")
    for key, kind in _JSON_FIELDS.items():
        if key not in meta or (key == "card" and meta[key] == ""):
            continue
        try:
            value = json.loads(meta[key])
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5,000-digit number, nesting too deep
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:80]
            raise CheckpointError(f"{name}: metadata {key!r} is not valid JSON ({reason})") from None
        if not isinstance(value, kind):
            raise CheckpointError(f"{name}: metadata {key!r} holds {type(value).__name__}, where it must be a JSON "
                                  f"{'object' if kind is dict else 'list'}")


def model_config_of(meta: dict[str, str], name: str = "file") -> ModelConfig:
    """The file's model description, checked against TrainConfig's own ranges before anything is built from it."""
    try:
        data = json.loads(meta["model"])
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        model = ModelConfig.from_dict(data)
    except (KeyError, ValueError, RecursionError, TypeError) as exc:
        raise CheckpointError(f"{name}: metadata lacks a valid model description ({str(exc)[:120]})") from None
    if isinstance(model.num_classes, bool) or model.num_classes not in (0, 10):
        raise CheckpointError(f"{name}: its model says num_classes {model.num_classes!r}; a generator here is "
                              "unconditional (0) or conditional on the ten classes (10)")
    try:  # the same checks (types, ranges, architecture names) a training config gets
        # A D conditioned on the code was trained on the code's clusters (its rule checks it).
        TrainConfig(**{k: v for k, v in model.to_dict().items() if k != "num_classes"}, conditional=model.conditional,
                    info_clusters=model.code_projection is True)
    except (ConfigError, TypeError, ValueError) as exc:  # TypeError: e.g. "arch": ["x"], unhashable
        raise CheckpointError(f"{name}: its model description is invalid: {str(exc)[:200]}") from None
    return model


# ----------------------------------------------------------------------------- writing
def generator_bytes(generator: Generator, card: dict[str, Any] | None = None) -> bytes:
    """A generator-only file's contents (the shipped format), with an optional model card."""
    meta = {
        "format": FORMAT_GENERATOR,
        "model": json.dumps(generator.cfg.to_dict()),
        "card": json.dumps(card or {}),
    }
    return st_save(_prefixed("G", generator.state_dict()), metadata=meta)


def save_generator(path: str | Path, generator: Generator, card: dict[str, Any] | None = None) -> None:
    atomic_write_bytes(path, generator_bytes(generator, card))


def export_card(loaded: LoadedGenerator, name: str, command: str = "") -> dict[str, Any]:
    """Where an exported generator came from: its checkpoint, step, training time and config."""
    return {
        "name": name,
        "source_checkpoint": str(loaded.path),
        "step": loaded.step,
        "wall_time_s": float(loaded.meta.get("wall_time_s", 0.0)),
        "train_config": loaded.train_config,
        "command": command,
        "exported": time.strftime("%Y-%m-%d"),
    }


# ----------------------------------------------------------------------------- training checkpoints
@dataclass
class TrainingState:
    """What a training checkpoint holds besides its metadata: a resumed run continues exactly from it."""

    G: Generator
    D: Discriminator
    G_ema: Generator | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    noise: torch.Generator                # the latents' stream
    rng: torch.Generator                  # the run's own stream: initial weights, then D's dropout on the CPU
    device_rng: torch.Generator | None = None  # D's dropout on a CUDA or MPS device


def save_checkpoint(path: str | Path, state: TrainingState, *, config_json: str, step: int, wall_time_s: float,
                    world_size: int = 1) -> None:
    """Write a training checkpoint atomically: G, D, G's EMA copy, both Adam states, the RNG states, the step.

    `world_size` (the processes that trained it) is informational: a checkpoint resumes with any number of them.
    """
    tensors = {**_prefixed("G", state.G.state_dict()), **_prefixed("D", state.D.state_dict())}
    if state.G_ema is not None:
        tensors.update(_prefixed("G_ema", state.G_ema.state_dict()))
    t_g, groups_g = optimizer_to_tensors("opt_g", state.opt_g)
    t_d, groups_d = optimizer_to_tensors("opt_d", state.opt_d)
    tensors.update(t_g)
    tensors.update(t_d)
    tensors["rng/run"] = state.rng.get_state()
    tensors["rng/noise"] = state.noise.get_state()
    if state.device_rng is not None:
        tensors["rng/device"] = state.device_rng.get_state()
    meta = {
        "format": FORMAT_CHECKPOINT,
        "model": json.dumps(state.G.cfg.to_dict()),
        "config": config_json,
        "step": str(step),
        "wall_time_s": f"{wall_time_s:.3f}",
        "world_size": str(world_size),
        "opt_g_groups": groups_g,
        "opt_d_groups": groups_d,
    }
    atomic_write_bytes(path, st_save(tensors, metadata=meta))


def load_checkpoint(path: str | Path, state: TrainingState, *, lr_g: float, lr_d: float) -> tuple[int, float]:
    """Load a training checkpoint into `state`, its random streams included; returns (step, training seconds so far).

    The saved param groups carry the old learning rates; `lr_g` and `lr_d` (maybe lowered on resume) win.
    """
    tensors, meta = read_weights(path)
    return apply_checkpoint(tensors, meta, state, lr_g=lr_g, lr_d=lr_d, path=path)


def apply_checkpoint(tensors: dict[str, torch.Tensor], meta: dict[str, str], state: TrainingState, *, lr_g: float,
                     lr_d: float, path: str | Path) -> tuple[int, float]:
    """`load_checkpoint` for a file already read (by this process, or by rank 0 and broadcast)."""
    if "opt_g_groups" not in meta:
        raise CheckpointError(f"{path} is a generator-only file; resuming needs a training checkpoint")
    try:
        state.G.load_state_dict(_unprefixed("G", tensors))
        state.D.load_state_dict(_unprefixed("D", tensors))
        if state.G_ema is not None:
            state.G_ema.load_state_dict(_unprefixed("G_ema", tensors) or _unprefixed("G", tensors))
        optimizer_from_tensors(state.opt_g, "opt_g", tensors, meta["opt_g_groups"])
        optimizer_from_tensors(state.opt_d, "opt_d", tensors, meta["opt_d_groups"])
        for opt, lr in ((state.opt_g, lr_g), (state.opt_d, lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path} does not fit this run's model: {str(exc).splitlines()[0]}") from None
    # Checkpoints written before the run had its own stream saved torch's global state as "rng/torch": in a
    # process that trained nothing else it is the very stream "rng/run" continues, so they resume exactly too.
    streams = [(state.noise, "rng/noise"), (state.rng, "rng/run" if "rng/run" in tensors else "rng/torch")]
    if state.device_rng is not None and "rng/device" in tensors:
        streams.append((state.device_rng, "rng/device"))
    for stream, key in streams:
        try:
            stream.set_state(tensors[key])
        except (KeyError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"{path} has no usable random state {key!r} ({str(exc).splitlines()[0]}): it is "
                                  "damaged or not a training checkpoint of this app") from None
    return int(meta["step"]), float(meta.get("wall_time_s", 0.0))


# ----------------------------------------------------------------------------- one loader
@dataclass
class LoadedGenerator:
    generator: Generator
    model: ModelConfig
    path: Path
    meta: dict[str, str]
    discriminator: Discriminator | None = None
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def step(self) -> int | None:
        return int(self.meta["step"]) if "step" in self.meta else None

    @property
    def train_config(self) -> dict[str, Any] | None:
        return json.loads(self.meta["config"]) if "config" in self.meta else None


def resolve_weights_path(path: str | Path) -> Path:
    """A run folder means its latest checkpoint; a file means itself."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or run folder")
    try:
        return checkpoint_of(p)
    except ValueError as exc:  # a run folder without a checkpoint yet
        raise CheckpointError(str(exc)) from None


def load_generator(
    path: str | Path, *, device: str | torch.device = "cpu", with_discriminator: bool = False, use_ema: bool = True
) -> LoadedGenerator:
    """Load G (EMA weights when the file has them) from a run folder, checkpoint or generator file."""
    p = resolve_weights_path(path)
    tensors, meta = read_weights(p)
    return generator_from_tensors(tensors, meta, p, device=device, with_discriminator=with_discriminator,
                                  use_ema=use_ema)


def generator_from_tensors(
    tensors: dict[str, torch.Tensor], meta: dict[str, str], path: Path, *, device: str | torch.device = "cpu",
    with_discriminator: bool = False, use_ema: bool = True,
) -> LoadedGenerator:
    model = model_config_of(meta, str(path))
    g_state = _unprefixed("G_ema", tensors) if use_ema else {}
    if not g_state:
        g_state = _unprefixed("G", tensors)
    g = _build_checked(build_generator, model, g_state, path, "generator")
    d = None
    if with_discriminator:
        d_state = _unprefixed("D", tensors)
        if not d_state:
            raise CheckpointError(NO_DISCRIMINATOR.format(path=path))
        d = _build_checked(build_discriminator, model, d_state, path, "discriminator")
        d.to(device).eval()
    card = json.loads(meta.get("card", "{}") or "{}")
    return LoadedGenerator(g.to(device).eval(), model, path, meta, d, card)


def _build_checked(build: Callable[[ModelConfig], torch.nn.Module], model: ModelConfig,
                   state: dict[str, torch.Tensor], path: Path, what: str) -> Any:
    """Build the network only after its shapes, taken on the meta device (no memory), match the file's tensors.

    A file whose metadata asks for an absurd model (billions of parameters) or relabels another architecture is
    refused here, before a byte of the model is allocated.
    """
    try:
        with torch.device("meta"):
            reference = build(model).state_dict()
        shapes = {k: tuple(v.shape) for k, v in reference.items()}
        dtypes = {k: v.dtype for k, v in reference.items()}
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: the {what} it describes cannot be built ({str(exc).splitlines()[0]})") from None
    n_params = sum(math.prod(s) for s in shapes.values())
    if n_params > MAX_PARAMETERS:
        raise CheckpointError(f"{path}: its model description asks for a {what} of {n_params:,} parameters (at most "
                              f"{MAX_PARAMETERS:,} here): the file is not a Fashion GAN Studio {what}")
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found == shapes:
        wrong_type = sorted(k for k, v in state.items() if v.dtype != dtypes[k])
        if wrong_type:
            k = wrong_type[0]
            raise CheckpointError(f"{path}: the {what} tensor {k} is {state[k].dtype}, where the model has "
                                  f"{dtypes[k]} ({len(wrong_type)} tensor(s) of the wrong type): the file is damaged "
                                  "or not one of this app's")
    if found != shapes:
        missing, extra = sorted(set(shapes) - set(found)), sorted(set(found) - set(shapes))
        wrong = sorted(k for k in set(shapes) & set(found) if shapes[k] != found[k])
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing[:3])}" if missing else "",
            f"unexpected {', '.join(extra[:3])}" if extra else "",
            f"{wrong[0]} is {found[wrong[0]]} where the model has {shapes[wrong[0]]}" if wrong else "") if part)
        raise CheckpointError(f"{path}: the {what} weights do not fit the described model "
                              f"({model.arch}, width {model.width:g}): {detail}")
    module = build(model)
    _load_state(module, state, path, what)
    return module


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: the {what} weights do not fit the described model ({first})") from None
