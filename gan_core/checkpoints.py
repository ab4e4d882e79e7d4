"""Weights on disk: safetensors files with JSON metadata, written atomically.

Two kinds of file share one format so that one loader serves both:
- a *checkpoint* holds G, D (and G's EMA copy), both Adam states, the RNG states
  and the step, so a resumed run continues exactly where it stopped;
- a *generator* file holds G only plus a model card (what `weights/` ships).
Nothing here unpickles: optimizer hyper-parameters travel as JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gan_core.config import ModelConfig
from gan_core.models import Discriminator, Generator, build_discriminator, build_generator

FORMAT_CHECKPOINT = "fashion-gan-studio/checkpoint/1"
FORMAT_GENERATOR = "fashion-gan-studio/generator/1"
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


class CheckpointError(ValueError):
    """A weights file is missing, corrupt, not ours, or does not fit its model."""


# ----------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(path: str | Path, data: bytes, *, _before_replace: Callable[[Path], None] | None = None) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`.

    A crash at any point leaves either the old file or the new one, never half of one.
    `_before_replace` lets tests simulate a crash between the write and the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; saved runs and weights are ordinary files
        if _before_replace is not None:
            _before_replace(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide, so never toggle it while threads write


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
        tensors = st_load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise CheckpointError(
            f"{name} is not a readable safetensors file ({exc}); it may be truncated or of another format. "
            "Pick a .safetensors file written by Fashion GAN Studio."
        ) from None
    meta = header.get("__metadata__") or {}
    if meta.get("format") not in (FORMAT_CHECKPOINT, FORMAT_GENERATOR):
        raise CheckpointError(
            f"{name} is a safetensors file but not one of Fashion GAN Studio's (no 'format' metadata "
            f"{FORMAT_CHECKPOINT!r} or {FORMAT_GENERATOR!r}); its tensors cannot be matched to a model."
        )
    return tensors, meta


def model_config_of(meta: dict[str, str], name: str = "file") -> ModelConfig:
    try:
        return ModelConfig.from_dict(json.loads(meta["model"]))
    except (KeyError, json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{name}: metadata lacks a valid model description ({exc})") from None


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


def checkpoint_bytes(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> bytes:
    meta = {"format": FORMAT_CHECKPOINT, **meta}
    return st_save(tensors, metadata=meta)


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
    if p.is_dir():
        ckpts = sorted((p / "checkpoints").glob("step_*.safetensors"))
        if not ckpts:
            raise CheckpointError(f"{p} has no checkpoints yet (looked in {p / 'checkpoints'})")
        return ckpts[-1]
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or run folder")
    return p


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
    try:
        g = build_generator(model)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    g_state = _unprefixed("G_ema", tensors) if use_ema else {}
    if not g_state:
        g_state = _unprefixed("G", tensors)
    _load_state(g, g_state, path, "generator")
    d = None
    if with_discriminator:
        d_state = _unprefixed("D", tensors)
        if not d_state:
            raise CheckpointError(f"{path} holds a generator only; a discriminator needs a training checkpoint")
        d = build_discriminator(model)
        _load_state(d, d_state, path, "discriminator")
        d.to(device).eval()
    card = json.loads(meta.get("card", "{}") or "{}")
    return LoadedGenerator(g.to(device).eval(), model, path, meta, d, card)


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: the {what} weights do not fit the described model ({first})") from None
