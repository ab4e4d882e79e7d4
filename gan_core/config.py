"""Training configuration: one dataclass shared by the app, the CLI and the tests.

Each field is declared once, with everything its consumers need (`FieldSpec`): help, label, range, widget, step,
choices, its place on the New-run form and whether a resume may change it. Validation, the CLI flags
(gan_core/cli/train.py), the New-run form (ui/config_form.py) and the resume form (pages/train.py) are generated from
those declarations, so none of them can forget a field. Every field is checked when the object is built, so a bad
value fails at the form or the command line with a message naming the field and its allowed range, never halfway
through a run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from gan_core.fields import WIDGETS, ConfigError, FieldSpec, Resume
from gan_core.fields import declare as _f
from gan_core.models import ModelConfig, ModelFields
from gan_core.runtime import PRECISIONS

LOSSES = ("bce", "hinge", "lsgan")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_NAME = 200  # characters of a run name (a folder name: most file systems allow 255 bytes)


@dataclass(frozen=True)
class FormSection:
    title: str    # "": shown open at the top of the form; else the title of the expander that folds it away
    columns: int  # a shorter row is padded with empty columns to this many, so columns line up across rows
    note: str = ""  # a caption under the section


FORM_SECTIONS: dict[str, FormSection] = {
    "essentials": FormSection("", 4),
    "model": FormSection("Model details: D width, D output, normalisation, dropout", 5),
    "optimiser": FormSection("Optimiser and stabilisers: Adam betas, learning-rate anneal, label smoothing, EMA, R1, "
                             "InfoGAN code", 3),
    "schedule": FormSection("Schedule, outputs and runtime: steps, seed, grids, TensorBoard, checkpoints, evaluation, "
                            "threads", 4,
                            note="Threads: 0 uses every core, the fastest choice on an otherwise idle machine; 1 is "
                                 "faster while other programs keep the cores busy."),
}


def _class_names() -> tuple[str, ...]:
    from gan_core.data import CLASS_NAMES

    return tuple(CLASS_NAMES)


_RATE = Resume(help="lower both for the last epochs to anneal a run (e.g. a quarter); the optimiser's state is kept, "
                    "only its step size changes")


# ----------------------------------------------------------------------------- the fields
@dataclass(frozen=True)
class TrainConfig(ModelFields):
    """Everything that defines a training run; each field says once what it means and what it may be.

    The model's fields come first, from ModelFields. Defaults are the `studio` recipe: a small DCGAN that trains at
    several hundred images/s on one CPU core. What a resume may change is the schedule, the outputs, the runtime, and
    the learning rates (lowering them for the last epochs is how a run is annealed); the model, the loss and the data
    stay as the checkpoint has them.
    """

    name: str = _f("", "run name (folder under runs/); empty: arch + timestamp", "Run name", at=("essentials", 2, 2),
                   placeholder="automatic: {preset}-<date>-<time>")
    preset: str = _f("", "name of the preset this config started from (informational)", "Preset",
                     off_form="the Preset picker above the form chooses it; the form keeps the initial config's")
    conditional: bool = _f(False, "class-conditional generator and projection discriminator", "Class-conditional",
                           at=("essentials", 3, 0), widget="toggle")
    # objective and optimiser
    loss: str = _f("bce", "bce (non-saturating), hinge or lsgan (least squares)", "Loss", at=("essentials", 0, 3),
                   choices=LOSSES, choice_labels={"bce": "bce (non-saturating)", "lsgan": "lsgan (least squares)"})
    label_smoothing: float = _f(0.0, "one-sided label smoothing: real target becomes 1 - s", "Label smoothing",
                                low=0.0, high=0.5, at=("optimiser", 1, 0), step=0.05)
    batch_size: int = _f(64, "images per step", "Batch size", low=1, high=4096, at=("essentials", 1, 1))
    lr_g: float = _f(2e-4, "generator learning rate (Adam)", "Learning rate G", gt=0.0, high=1.0, hint="typical: 2e-4",
                     at=("essentials", 1, 2), step=1e-5, fmt="%.2e", resume=dataclasses.replace(_RATE, first=3))
    lr_d: float = _f(2e-4, "discriminator learning rate (Adam)", "Learning rate D", gt=0.0, high=1.0,
                     hint="typical: 2e-4", at=("essentials", 1, 3), step=1e-5, fmt="%.2e",
                     resume=dataclasses.replace(_RATE, first=4))
    beta1: float = _f(0.5, "Adam beta1", "Adam β1", low=0.0, high=0.999, at=("optimiser", 0, 0), step=0.05)
    beta2: float = _f(0.999, "Adam beta2", "Adam β2", low=0.0, high=0.9999, at=("optimiser", 0, 1), step=0.001)
    d_steps: int = _f(1, "discriminator steps per generator step", "D steps per G step", low=1, high=10,
                      at=("optimiser", 0, 2))
    lr_anneal_steps: int = _f(0, "steps over which both learning rates fall, along a half cosine, to lr × lr_final; "
                                 "after them the rates stay there (0: constant rates). Counted from the run's first "
                                 "step, whatever its epochs, so resuming a run further keeps the rates it ended at",
                              "Anneal learning rates over (steps, 0: off)", low=0, at=("optimiser", 3, 0), step=500,
                              resume=True)
    lr_final: float = _f(0.1, "the share of both learning rates left at the end of the anneal (lr_anneal_steps)",
                         "Learning rates after the anneal (× lr)", gt=0.0, high=1.0, at=("optimiser", 3, 1), step=0.05,
                         resume=True)
    r1_gamma: float = _f(0.0, "R1 gradient penalty weight on real images (0: off)", "R1 penalty γ",
                         low=0.0, high=1000.0, at=("optimiser", 1, 2), step=0.1)
    r1_every: int = _f(1, "apply R1 every this many steps, weighted by γ × this (lazy regularisation, as StyleGAN2 "
                          "does; 1: every step)", "R1 every (steps)", low=1, high=64, at=("optimiser", 1, 3))
    info_weight: float = _f(1.0, "weight of the InfoGAN code loss in both G's and D's objectives",
                            "InfoGAN code weight", low=0.0, high=100.0, at=("optimiser", 2, 1), step=0.1)
    info_clusters: bool = _f(False, "anchor the InfoGAN code to the data: the Q head also learns each real image's "
                                    "cluster (balanced k-means of the training pixels, one cluster per code value; "
                                    "unconditionally without labels, in a conditional run within each class), so code "
                                    "k comes to draw what cluster k holds", "Code from data clusters",
                             at=("optimiser", 2, 2), widget="toggle")
    ema: float = _f(0.0, "exponential moving average of generator weights (0: off, e.g. 0.999)", "EMA of G",
                    low=0.0, high=0.99999, at=("optimiser", 1, 1), step=0.001)
    # schedule and data
    epochs: int = _f(5, "passes over the training images", "Epochs", low=1, high=100_000, at=("essentials", 1, 0),
                     resume=Resume(first=1, label="Epochs in total", help="raise it to train a finished run further "
                                                                          "(the schedule may change on resume, the "
                                                                          "model may not)"))
    max_steps: int = _f(0, "stop after this many steps in total (0: no limit)", "Max steps (0: no limit)",
                        low=0, at=("schedule", 0, 0), step=100, resume=Resume(first=2))
    classes: tuple[str, ...] = _f((), "train only on these classes (empty: all ten)", "Train on classes (empty: all ten)",
                                  at=("essentials", 2, 0), width=2, choices=_class_names)
    max_images: int = _f(0, "use at most this many training images (0: all)", "Max training images (0: all 60,000)",
                         low=0, high=60_000, at=("essentials", 2, 1), step=100)
    seed: int = _f(0, "random seed (weights, noise, data order)", "Seed", low=0, high=2**31 - 1, at=("schedule", 0, 1))
    # outputs
    sample_every: int = _f(200, "steps between fixed-noise sample grids (0: once per epoch)",
                           "Sample grid every (steps)", low=0, at=("schedule", 0, 2), step=50, resume=True)
    grid_every_s: float = _f(10.0, "seconds between live fixed-noise grids, besides the step cadence (0: step "
                                   "cadence only)", "Live grid every (seconds, 0: off)", low=0.0, high=3600.0,
                             at=("schedule", 1, 4), step=5.0, resume=True)
    grid_size: int = _f(64, "images in the fixed-noise grid", "Images in the sample grid", low=1, high=100,
                        at=("schedule", 0, 3))
    checkpoint_every: int = _f(1, "epochs between checkpoints (0: only at the end or on stop)",
                               "Checkpoint every (epochs)", low=0, at=("schedule", 1, 0), resume=True)
    keep_checkpoints: int = _f(0, "keep only this many newest checkpoints, deleting older ones (0: keep all)",
                               "Keep newest checkpoints (0: all)", low=0, at=("schedule", 2, 0), resume=True)
    log_every: int = _f(5, "steps between rows of metrics.csv", "Log metrics every (steps)", low=1,
                        at=("schedule", 1, 1), resume=True)
    eval_every: int = _f(0, "steps between cheap evaluations (FID, class coverage; 0: off)",
                         "Evaluate FID / coverage every (steps, 0: off)", low=0, at=("schedule", 1, 2), step=100,
                         resume=True)
    eval_samples: int = _f(2000, "generated images per in-training evaluation", "Images per evaluation",
                           low=100, high=50_000, at=("schedule", 1, 3), step=100, resume=True)
    tensorboard: bool = _f(False, "write TensorBoard event files (every metrics row's numbers, every grid) to "
                                  "runs/<name>/tensorboard/ while training; view with `tensorboard --logdir runs` "
                                  "(needs the tensorboard package)", "Write TensorBoard event files",
                           at=("schedule", 0, 4), widget="toggle", resume=True)
    # runtime
    threads: int = _f(0, "CPU threads for PyTorch (0: PyTorch's default, one per physical core)", "CPU threads",
                      low=0, high=256, at=("schedule", 2, 1), resume=True)
    device: str = _f("auto", "auto, cpu, cuda or mps", "Device", at=("schedule", 2, 2), choices=DEVICES, resume=True)
    precision: str = _f("auto", "auto: bf16 autocast (mixed precision) where this machine's bf16 is native (a CPU "
                                "with AMX or AVX512-BF16, a CUDA GPU that supports it), fp32 elsewhere; bf16 or fp32 "
                                "force one", "Precision", at=("schedule", 2, 3), choices=PRECISIONS,
                        choice_labels={"auto": "auto (bf16 where native)"}, resume=True)
    data_dir: str = _f("", "folder with the Fashion-MNIST IDX files (empty: search the usual places)",
                       "Fashion-MNIST folder", at=("schedule", 2, 4), width=2, placeholder="search the usual places",
                       resume=True)

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
        """The networks' part of this config: the ModelFields as they are, and `conditional` as 10 classes."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(ModelFields)}
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
        if "amp" in data and "precision" not in data:  # saved before 2026-12-06: amp true/false, fp32 unless asked
            amp = data["amp"]
            if not isinstance(amp, bool):
                raise ConfigError(f"amp must be true or false (got {amp!r})")
            data = {k: v for k, v in data.items() if k != "amp"} | {"precision": "bf16" if amp else "fp32"}
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


# ----------------------------------------------------------------------------- read off the declarations
_KINDS: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str, "tuple[str, ...]": tuple}
_DEFAULT_WIDGETS: dict[type, str] = {int: "number", float: "number", bool: "checkbox", str: "text", tuple: "multiselect"}


def _spec(f: dataclasses.Field) -> FieldSpec:
    kind = _KINDS[str(f.type)]
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
    facts = dict(f.metadata)
    widget = facts.pop("widget") or ("select" if kind is str and facts.get("choices") else _DEFAULT_WIDGETS[kind])
    if widget == "number":
        facts.setdefault("step", 1 if kind is int else None)
        facts.setdefault("fmt", "%g" if kind is float else None)
    return FieldSpec(name=f.name, kind=kind, default=default, widget=widget, **facts)


FIELDS: dict[str, FieldSpec] = {f.name: _spec(f) for f in dataclasses.fields(TrainConfig)}
FIELD_HELP: dict[str, str] = {n: s.help for n, s in FIELDS.items()}
FIELD_LABELS: dict[str, str] = {n: s.label for n, s in FIELDS.items()}
RESUMABLE: tuple[str, ...] = tuple(n for n, s in FIELDS.items() if s.resumable)


def form_layout() -> dict[str, list[list[FieldSpec]]]:
    """The New-run form, section by section (in FORM_SECTIONS' order), row by row, column by column."""
    layout: dict[str, dict[int, list[FieldSpec]]] = {section: {} for section in FORM_SECTIONS}
    for spec in sorted((s for s in FIELDS.values() if s.place), key=lambda s: s.place):  # type: ignore[arg-type, return-value]
        assert spec.place is not None
        layout[spec.place.section].setdefault(spec.place.row, []).append(spec)
    return {section: [rows[r] for r in sorted(rows)] for section, rows in layout.items()}


def resume_fields() -> tuple[list[FieldSpec], list[FieldSpec]]:
    """The fields a resume may change: those the resume form shows at once (in their `first` order), and the rest
    (in the New-run form's order)."""
    resumable = [s for s in FIELDS.values() if s.resume is not None]
    first = sorted((s for s in resumable if s.resume and s.resume.first), key=lambda s: s.resume.first)  # type: ignore[union-attr]
    order = [s.name for section in form_layout().values() for row in section for s in row]
    rest = sorted((s for s in resumable if s not in first), key=lambda s: order.index(s.name))
    return first, rest


def _check_declarations() -> None:
    """A field declared without a widget, a place on the form (or why not) or a step fails every import."""
    places = [s.place for s in FIELDS.values() if s.place]
    if len(set(places)) != len(places):
        raise TypeError(f"two TrainConfig fields share a place on the form: {sorted(places)}")
    for s in FIELDS.values():
        problem = ("widget" if s.widget not in WIDGETS else
                   "place on the form, or off_form (why not)" if (s.place is None) == (not s.off_form) else
                   "known form section" if s.place and s.place.section not in FORM_SECTIONS else
                   "step" if s.widget == "number" and not s.step else
                   "choices" if s.widget in ("select", "multiselect") and s.choices is None else "")
        if problem:
            raise TypeError(f"TrainConfig.{s.name} is declared without a {problem} (gan_core/config.py)")


_check_declarations()


def resume_changes(saved: TrainConfig, requested: TrainConfig) -> dict[str, Any]:
    """What a resume asked for differs from the saved run in, among the fields a resume may change (`RESUMABLE`).

    The one place resume overrides are merged: `saved.replace(**resume_changes(saved, requested))` is what trains.
    """
    return {k: getattr(requested, k) for k in RESUMABLE if getattr(requested, k) != getattr(saved, k)}


def fixed_on_resume(names: list[str] | set[str]) -> list[str]:
    """Of these field names, those a resume may not change (the checkpoint fixes them), sorted."""
    return sorted(set(names) - set(RESUMABLE))


# ----------------------------------------------------------------------------- validation
def _validate(cfg: TrainConfig) -> None:
    """Each field against its own declaration, then the rules that tie fields together."""
    for spec in FIELDS.values():
        spec.check(getattr(cfg, spec.name))
    if 0 < cfg.d_width < 0.125:
        raise ConfigError(f"d_width must be 0 (same as width) or between 0.125 and 8.0 (got {cfg.d_width!r})")
    if cfg.info_codes == 1 or cfg.info_codes > cfg.latent_dim:
        raise ConfigError(f"info_codes must be 0 (off) or between 2 and latent_dim ({cfg.latent_dim}) "
                          f"(got {cfg.info_codes!r})")
    if cfg.info_clusters and cfg.info_codes < 2:
        raise ConfigError("info_clusters anchors an InfoGAN code to clusters of the training images: it needs "
                          f"info_codes of 2 or more (got {cfg.info_codes})")
    if cfg.code_projection and not cfg.info_clusters:
        raise ConfigError("code_projection scores each real image against its data cluster, so it needs info_clusters "
                          "on (got info_clusters off): turn info_clusters on, or code_projection off")
    groups = (len(cfg.classes) or 10) if cfg.conditional else 1  # a conditional run clusters each class apart
    if cfg.info_clusters and 0 < cfg.max_images < cfg.info_codes * groups:
        raise ConfigError(f"info_clusters makes one cluster per code value{' in each class' if cfg.conditional else ''}, "
                          f"so it needs at least {cfg.info_codes * groups} training images (got max_images "
                          f"{cfg.max_images}): raise max_images or lower info_codes")
    if cfg.d_output == "sigmoid" and cfg.loss == "hinge":
        raise ConfigError("loss 'hinge' needs d_output 'logit' (a sigmoid output cannot go below 0)")
    if cfg.name and (cfg.name in (".", "..") or cfg.name.startswith(".") or len(cfg.name) > MAX_NAME
                     or any(c in cfg.name for c in '/\\:*?"<>|') or not cfg.name.isprintable()):
        # Not hidden (a fork is made in a hidden folder), and no control characters: a newline or a terminal escape
        # in a name would reach `runs` listings and logs as it is.
        raise ConfigError(f"name must be a plain folder name of at most {MAX_NAME} characters, not starting with a "
                          "dot, without / \\ : * ? \" < > | or control characters such as a newline or a tab "
                          f"(got {cfg.name!r})")


