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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gan_core.models import ModelConfig

LOSSES = ("bce", "hinge", "lsgan")
D_OUTPUTS = ("logit", "sigmoid")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A configuration value is out of range or of the wrong type."""


def _f(default: Any, help: str, label: str, *, low: float | None = None, high: float | None = None,
       resumable: bool = False) -> Any:
    """A TrainConfig field with its facts: CLI/tooltip help, form label, allowed range, whether a resume may change it.

    A `low` or `high` bound makes validation check the number's type and range (None: open on that side).
    """
    meta = {"help": help, "label": label, "resumable": resumable}
    if low is not None or high is not None:
        meta["range"] = (low, high)
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; each field says once what it means and what it may be.

    Defaults are the `studio` recipe: a small DCGAN that trains at several hundred images/s on one CPU core.
    What a resume may change is the schedule, the outputs, the runtime, and the learning rates (lowering them for
    the last epochs is how a run is annealed); the model, the loss and the data stay as the checkpoint has them.
    """

    name: str = _f("", "run name (folder under runs/); empty: arch + timestamp", "Run name")
    preset: str = _f("", "name of the preset this config started from (informational)", "Preset")
    # model
    arch: str = _f("dcgan", "architecture from the model registry (see `python -m gan_core info`)", "Architecture")
    width: float = _f(1.0, "channel/width multiplier of both networks", "Width multiplier", low=0.125, high=8.0)
    d_width: float = _f(0.0, "channel/width multiplier of the discriminator alone (0: same as width)",
                        "D width (0: same)", low=0.0, high=8.0)
    conditional: bool = _f(False, "class-conditional generator and projection discriminator", "Class-conditional")
    info_codes: int = _f(0, "InfoGAN categorical code: the argmax of z's first K entries, which a Q head on D must "
                            "recover from the image (0: off; e.g. 10)", "InfoGAN code categories (0: off)",
                         low=0, high=1024)
    latent_dim: int = _f(100, "size of the noise vector z", "Latent size (z)", low=1, high=1024)
    batch_norm: bool = _f(True, "use BatchNorm where the architecture has it", "Batch norm")
    spectral_norm: bool = _f(False, "spectral normalisation on the discriminator's layers", "Spectral norm on D")
    dropout: float = _f(0.3, "dropout rate in the discriminator", "D dropout", low=0.0, high=0.9)
    d_output: str = _f("logit", "logit (linear output, recommended) or sigmoid (probabilities into BCE)", "D output")
    # objective and optimiser
    loss: str = _f("bce", "bce (non-saturating), hinge or lsgan (least squares)", "Loss")
    label_smoothing: float = _f(0.0, "one-sided label smoothing: real target becomes 1 - s", "Label smoothing",
                                low=0.0, high=0.5)
    batch_size: int = _f(64, "images per step", "Batch size", low=1, high=4096)
    lr_g: float = _f(2e-4, "generator learning rate (Adam)", "Learning rate G", resumable=True)
    lr_d: float = _f(2e-4, "discriminator learning rate (Adam)", "Learning rate D", resumable=True)
    beta1: float = _f(0.5, "Adam beta1", "Adam β1", low=0.0, high=0.999)
    beta2: float = _f(0.999, "Adam beta2", "Adam β2", low=0.0, high=0.9999)
    d_steps: int = _f(1, "discriminator steps per generator step", "D steps per G step", low=1, high=10)
    r1_gamma: float = _f(0.0, "R1 gradient penalty weight on real images (0: off)", "R1 penalty γ",
                         low=0.0, high=1000.0)
    info_weight: float = _f(1.0, "weight of the InfoGAN code loss in both G's and D's objectives",
                            "InfoGAN code weight", low=0.0, high=100.0)
    ema: float = _f(0.0, "exponential moving average of generator weights (0: off, e.g. 0.999)", "EMA of G",
                    low=0.0, high=0.99999)
    # schedule and data
    epochs: int = _f(5, "passes over the training images", "Epochs", low=1, high=100_000, resumable=True)
    max_steps: int = _f(0, "stop after this many steps in total (0: no limit)", "Max steps (0: no limit)",
                        low=0, resumable=True)
    classes: tuple[str, ...] = _f((), "train only on these classes (empty: all ten)", "Train on classes (empty: all ten)")
    max_images: int = _f(0, "use at most this many training images (0: all)", "Max training images (0: all 60,000)",
                         low=0, high=60_000)
    seed: int = _f(0, "random seed (weights, noise, data order)", "Seed", low=0, high=2**31 - 1)
    # outputs
    sample_every: int = _f(200, "steps between fixed-noise sample grids (0: once per epoch)",
                           "Sample grid every (steps)", low=0, resumable=True)
    grid_every_s: float = _f(10.0, "seconds between live fixed-noise grids, besides the step cadence (0: step "
                                   "cadence only)", "Live grid every (seconds, 0: off)", low=0.0, high=3600.0,
                             resumable=True)
    grid_size: int = _f(64, "images in the fixed-noise grid", "Images in the sample grid", low=1, high=100)
    checkpoint_every: int = _f(1, "epochs between checkpoints (0: only at the end or on stop)",
                               "Checkpoint every (epochs)", low=0, resumable=True)
    keep_checkpoints: int = _f(0, "keep only this many newest checkpoints, deleting older ones (0: keep all)",
                               "Keep newest checkpoints (0: all)", low=0, resumable=True)
    log_every: int = _f(5, "steps between rows of metrics.csv", "Log metrics every (steps)", low=1, resumable=True)
    eval_every: int = _f(0, "steps between cheap evaluations (FID, class coverage; 0: off)",
                         "Evaluate FID / coverage every (steps, 0: off)", low=0, resumable=True)
    eval_samples: int = _f(2000, "generated images per in-training evaluation", "Images per evaluation",
                           low=100, high=50_000, resumable=True)
    # runtime
    threads: int = _f(0, "CPU threads for PyTorch (0: PyTorch's default, one per physical core)", "CPU threads",
                      low=0, high=256, resumable=True)
    device: str = _f("auto", "auto, cpu, cuda or mps", "Device", resumable=True)
    amp: bool = _f(False, "bf16 autocast (mixed precision) for the forward passes: for GPUs; on a CPU only if asked",
                   "Mixed precision (bf16)", resumable=True)
    data_dir: str = _f("", "folder with the Fashion-MNIST IDX files (empty: search the usual places)",
                       "Fashion-MNIST folder", resumable=True)

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
        """The networks' part of this config: every ModelConfig field by name, and `conditional` as 10 classes."""
        from gan_core.models import ModelConfig

        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(ModelConfig) if f.name != "num_classes"}
        return ModelConfig(**shared, num_classes=10 if self.conditional else 0)

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


# Read off the fields' metadata: what the CLI, the form, validation and resume use.
MAX_NAME = 200  # characters of a run name (a folder name: most file systems allow 255 bytes)
FIELD_HELP: dict[str, str] = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}
FIELD_LABELS: dict[str, str] = {f.name: f.metadata["label"] for f in dataclasses.fields(TrainConfig)}
RESUMABLE: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["resumable"])
_RANGES: list[tuple[str, type, float | None, float | None]] = [
    (f.name, int if f.type == "int" else float, *f.metadata["range"])
    for f in dataclasses.fields(TrainConfig) if "range" in f.metadata
]


def resume_changes(saved: TrainConfig, requested: TrainConfig) -> dict[str, Any]:
    """What a resume asked for differs from the saved run in, among the fields a resume may change (`RESUMABLE`).

    The one place resume overrides are merged: `saved.replace(**resume_changes(saved, requested))` is what trains.
    """
    return {k: getattr(requested, k) for k in RESUMABLE if getattr(requested, k) != getattr(saved, k)}


def _validate(cfg: TrainConfig) -> None:
    from gan_core.models import ARCHITECTURES

    for name, kind, low, high in _RANGES:
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
    for name in ("conditional", "batch_norm", "spectral_norm", "amp"):
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
    if cfg.name and (cfg.name in (".", "..") or cfg.name.startswith(".") or len(cfg.name) > MAX_NAME
                     or any(c in cfg.name for c in '/\\:*?"<>|') or not cfg.name.isprintable()):
        # Not hidden (a fork is made in a hidden folder), and no control characters: a newline or a terminal escape
        # in a name would reach `runs` listings and logs as it is.
        raise ConfigError(f"name must be a plain folder name of at most {MAX_NAME} characters, not starting with a "
                          "dot, without / \\ : * ? \" < > | or control characters such as a newline or a tab "
                          f"(got {cfg.name!r})")


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
