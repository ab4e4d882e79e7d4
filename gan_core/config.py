"""Training configuration: one dataclass shared by the app, the CLI and the tests.

Every field is checked when the object is built, so a bad value fails at the
form or the command line with a message naming the field and its allowed range,
never halfway through a run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

LOSSES = ("bce", "hinge", "lsgan")
D_OUTPUTS = ("logit", "sigmoid")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A configuration value is out of range or of the wrong type."""


@dataclass(frozen=True)
class ModelConfig:
    """What it takes to rebuild a generator and discriminator (stored with every weights file)."""

    arch: str = "dcgan"
    latent_dim: int = 100
    width: float = 1.0
    num_classes: int = 0  # 0: unconditional; 10: class-conditional
    d_width: float = 0.0  # 0: the discriminator follows `width` (files written before this field)
    info_codes: int = 0  # InfoGAN categories read off z's first entries (0: off)
    batch_norm: bool = True
    spectral_norm: bool = False
    d_output: str = "logit"
    dropout: float = 0.3

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Help text for each field, used by the CLI flags and the Train page tooltips.
FIELD_HELP: dict[str, str] = {
    "name": "run name (folder under runs/); empty: arch + timestamp",
    "preset": "name of the preset this config started from (informational)",
    "arch": "architecture from the model registry (see `python -m gan_core info`)",
    "width": "channel/width multiplier of both networks",
    "d_width": "channel/width multiplier of the discriminator alone (0: same as width)",
    "info_codes": "InfoGAN categorical code: the argmax of z's first K entries, which a Q head on D must recover "
                  "from the image (0: off; e.g. 10)",
    "info_weight": "weight of the InfoGAN code loss in both G's and D's objectives",
    "conditional": "class-conditional generator and projection discriminator",
    "latent_dim": "size of the noise vector z",
    "loss": "bce (non-saturating), hinge or lsgan (least squares)",
    "label_smoothing": "one-sided label smoothing: real target becomes 1 - s",
    "d_output": "logit (linear output, recommended) or sigmoid (probabilities into BCE)",
    "batch_norm": "use BatchNorm where the architecture has it",
    "spectral_norm": "spectral normalisation on the discriminator's layers",
    "dropout": "dropout rate in the discriminator",
    "batch_size": "images per step",
    "lr_g": "generator learning rate (Adam)",
    "lr_d": "discriminator learning rate (Adam)",
    "beta1": "Adam beta1",
    "beta2": "Adam beta2",
    "d_steps": "discriminator steps per generator step",
    "r1_gamma": "R1 gradient penalty weight on real images (0: off)",
    "ema": "exponential moving average of generator weights (0: off, e.g. 0.999)",
    "epochs": "passes over the training images",
    "max_steps": "stop after this many steps in total (0: no limit)",
    "classes": "train only on these classes (empty: all ten)",
    "max_images": "use at most this many training images (0: all)",
    "seed": "random seed (weights, noise, data order)",
    "sample_every": "steps between fixed-noise sample grids (0: once per epoch)",
    "grid_every_s": "seconds between live fixed-noise grids, besides the step cadence (0: step cadence only)",
    "grid_size": "images in the fixed-noise grid",
    "checkpoint_every": "epochs between checkpoints (0: only at the end or on stop)",
    "keep_checkpoints": "keep only this many newest checkpoints, deleting older ones (0: keep all)",
    "log_every": "steps between rows of metrics.csv",
    "eval_every": "steps between cheap evaluations (FID, class coverage; 0: off)",
    "eval_samples": "generated images per in-training evaluation",
    "threads": "CPU threads for PyTorch (0: PyTorch's default, one per physical core)",
    "device": "auto, cpu, cuda or mps",
    "data_dir": "folder with the Fashion-MNIST IDX files (empty: search the usual places)",
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Defaults are the `studio` recipe: a small DCGAN that trains at several
    hundred images/s on one CPU core.
    """

    name: str = ""
    preset: str = ""
    # model
    arch: str = "dcgan"
    width: float = 1.0
    d_width: float = 0.0
    conditional: bool = False
    info_codes: int = 0
    latent_dim: int = 100
    batch_norm: bool = True
    spectral_norm: bool = False
    dropout: float = 0.3
    d_output: str = "logit"
    # objective and optimiser
    loss: str = "bce"
    label_smoothing: float = 0.0
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1
    r1_gamma: float = 0.0
    info_weight: float = 1.0
    ema: float = 0.0
    # schedule and data
    epochs: int = 5
    max_steps: int = 0
    classes: tuple[str, ...] = field(default_factory=tuple)
    max_images: int = 0
    seed: int = 0
    # outputs
    sample_every: int = 200
    grid_every_s: float = 10.0
    grid_size: int = 64
    checkpoint_every: int = 1
    keep_checkpoints: int = 0
    log_every: int = 5
    eval_every: int = 0
    eval_samples: int = 2000
    # runtime
    threads: int = 0
    device: str = "auto"
    data_dir: str = ""

    def __post_init__(self) -> None:
        # Normalise a list of classes (from JSON or a form) into a tuple of canonical names.
        if isinstance(self.classes, str):
            raw = [c for c in self.classes.split(",") if c.strip()]
        else:
            raw = list(self.classes)
        object.__setattr__(self, "classes", _canonical_classes(raw))
        _validate(self)

    # ----------------------------------------------------------------- derived
    def model_config(self) -> ModelConfig:
        return ModelConfig(
            arch=self.arch,
            latent_dim=self.latent_dim,
            width=self.width,
            d_width=self.d_width,
            info_codes=self.info_codes,
            num_classes=10 if self.conditional else 0,
            batch_norm=self.batch_norm,
            spectral_norm=self.spectral_norm,
            d_output=self.d_output,
            dropout=self.dropout,
        )

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["classes"] = list(self.classes)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}"
            )
        return cls(**data)


def _canonical_classes(raw: list[Any]) -> tuple[str, ...]:
    from gan_core.data import CLASS_NAMES, class_index

    out: list[str] = []
    for item in raw:
        try:
            name = CLASS_NAMES[class_index(item.strip() if isinstance(item, str) else item)]
        except (ValueError, IndexError, TypeError) as exc:
            raise ConfigError(f"classes: {exc}") from None
        if name not in out:
            out.append(name)
    return tuple(out)


# (field, type, low, high); None means unbounded on that side.
_NUMERIC_RANGES: list[tuple[str, type, float | None, float | None]] = [
    ("width", float, 0.125, 8.0),
    ("d_width", float, 0.0, 8.0),
    ("info_codes", int, 0, 1024),
    ("info_weight", float, 0.0, 100.0),
    ("latent_dim", int, 1, 1024),
    ("dropout", float, 0.0, 0.9),
    ("label_smoothing", float, 0.0, 0.5),
    ("batch_size", int, 1, 4096),
    ("beta1", float, 0.0, 0.999),
    ("beta2", float, 0.0, 0.9999),
    ("d_steps", int, 1, 10),
    ("r1_gamma", float, 0.0, 1000.0),
    ("ema", float, 0.0, 0.99999),
    ("epochs", int, 1, 100_000),
    ("max_steps", int, 0, None),
    ("max_images", int, 0, 60_000),
    ("seed", int, 0, 2**31 - 1),
    ("sample_every", int, 0, None),
    ("grid_every_s", float, 0.0, 3600.0),
    ("grid_size", int, 1, 100),
    ("checkpoint_every", int, 0, None),
    ("keep_checkpoints", int, 0, None),
    ("log_every", int, 1, None),
    ("eval_every", int, 0, None),
    ("eval_samples", int, 100, 50_000),
    ("threads", int, 0, 256),
]


def _validate(cfg: TrainConfig) -> None:
    from gan_core.models import ARCHITECTURES

    for name, kind, low, high in _NUMERIC_RANGES:
        value = getattr(cfg, name)
        _check_number(name, value, kind, low, high)
    if 0 < cfg.d_width < 0.125:
        raise ConfigError(f"d_width must be 0 (same as width) or between 0.125 and 8.0 (got {cfg.d_width!r})")
    if cfg.info_codes == 1 or cfg.info_codes > cfg.latent_dim:
        raise ConfigError(f"info_codes must be 0 (off) or between 2 and latent_dim ({cfg.latent_dim}) "
                          f"(got {cfg.info_codes!r})")
    for name in ("lr_g", "lr_d"):
        value = getattr(cfg, name)
        _check_number(name, value, float, None, 1.0)
        if value <= 0:
            raise ConfigError(f"{name} must be a number > 0 and ≤ 1 (got {value!r}); typical: 2e-4")
    for name in ("conditional", "batch_norm", "spectral_norm"):
        if not isinstance(getattr(cfg, name), bool):
            raise ConfigError(f"{name} must be true or false (got {getattr(cfg, name)!r})")
    for name in ("name", "preset", "data_dir"):
        if not isinstance(getattr(cfg, name), str):
            raise ConfigError(f"{name} must be text (got {getattr(cfg, name)!r})")
    if cfg.arch not in ARCHITECTURES:
        raise ConfigError(f"arch must be one of {', '.join(ARCHITECTURES)} (got {cfg.arch!r})")
    _check_choice("loss", cfg.loss, LOSSES)
    _check_choice("d_output", cfg.d_output, D_OUTPUTS)
    _check_choice("device", cfg.device, DEVICES)
    if cfg.d_output == "sigmoid" and cfg.loss == "hinge":
        raise ConfigError("loss 'hinge' needs d_output 'logit' (a sigmoid output cannot go below 0)")
    if cfg.name and (cfg.name in (".", "..") or any(c in cfg.name for c in '/\\:*?"<>|')):
        raise ConfigError(f"name must be a plain folder name without / \\ : * ? \" < > | (got {cfg.name!r})")


def _check_number(name: str, value: Any, kind: type, low: float | None, high: float | None) -> None:
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        raise ConfigError(f"{name} must be {'a whole number' if kind is int else 'a number'} (got {value!r})")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number (got {value!r})")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            allowed = f"≥ {low}"
        elif low is None:
            allowed = f"≤ {high}"
        else:
            allowed = f"between {low} and {high}"
        raise ConfigError(f"{name} must be {allowed} (got {value!r})")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r})")
