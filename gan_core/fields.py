"""How a configuration field is declared: its facts (`FieldSpec`) beside the dataclass field (`declare`).

The bottom of the configuration: gan_core.models declares the networks' fields with it and gan_core.config the
rest, and neither imports the other's way round. Validation of one value (`FieldSpec.check`) lives here too, so a
field's range is checked where it is declared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

WIDGETS = ("number", "select", "toggle", "checkbox", "text", "multiselect")


class ConfigError(ValueError):
    """A configuration value is out of range or of the wrong type."""


# ----------------------------------------------------------------------------- what a field declares
class Place(NamedTuple):
    """Where a field sits on the New-run form: a section of `FORM_SECTIONS`, a row in it, a column in the row."""

    section: str
    row: int
    col: int


@dataclass(frozen=True)
class Resume:
    """A resume may change the field; how the resume form (Train page, Checkpoints tab) shows it."""

    first: int = 0    # its place among the fields shown at once (1, 2, ...); 0: in the form's "more" expander
    label: str = ""   # the resume form's label when it differs from the field's
    help: str = ""    # the resume form's help when it differs from the field's


@dataclass(frozen=True)
class FieldSpec:
    """Everything about one TrainConfig field, declared beside it with `_f`; read through `FIELDS`."""

    name: str
    kind: type                 # int, float, bool, str or tuple (a list of names)
    default: Any
    help: str                  # the CLI's --help and the form's tooltip
    label: str                 # the form's label
    widget: str                # one of WIDGETS
    place: Place | None        # on the New-run form; None: not on it, and `off_form` says why
    off_form: str = ""
    low: float | None = None   # inclusive bounds (None: open on that side)
    high: float | None = None
    gt: float | None = None    # an exclusive lower bound, for values that must be above it (a learning rate)
    hint: str = ""             # added to a range error, e.g. a typical value
    step: float | int | None = None  # number widgets: the +/- step
    fmt: str | None = None     # number widgets: printf-style display format
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None  # a callable: read when first needed
    choice_labels: dict[str, str] = field(default_factory=dict)  # how the form shows a choice, when not by its value
    placeholder: str = ""      # text widgets; "{preset}" is the initial config's preset (or architecture)
    width: int = 1             # relative width of its column on the form
    resume: Resume | None = None  # None: fixed for the life of a run (the checkpoint's networks, data order, ...)

    @property
    def resumable(self) -> bool:
        return self.resume is not None

    def options(self) -> tuple[str, ...]:
        """The allowed values of a choice field (select, multiselect); () for any other."""
        choices = self.choices() if callable(self.choices) else self.choices
        return tuple(choices or ())

    def check(self, value: Any) -> None:
        """Raise ConfigError, naming the field and what it may be, unless `value` fits this field alone."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.name} must be true or false (got {value!r})")
        elif self.kind is str:
            if not isinstance(value, str):
                raise ConfigError(f"{self.name} must be text (got {value!r})")
            if self.choices is not None and value not in self.options():
                raise ConfigError(f"{self.name} must be one of {', '.join(self.options())} (got {value!r})")
        elif self.kind in (int, float):
            _check_number(self, value)


def declare(default: Any, help: str, label: str, *, at: tuple[str, int, int] | None = None, widget: str = "",
       resume: Resume | bool | None = None, **facts: Any) -> Any:
    """A config field and its facts (see FieldSpec): `at` is (section, row, column) on the form, `resume=True`
    (or a `Resume`) lets a resume change it; `widget` defaults from the type (see `_spec`)."""
    meta = {"help": help, "label": label, "place": Place(*at) if at else None, "widget": widget,
            "resume": Resume() if resume is True else resume or None, **facts}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def _check_number(spec: FieldSpec, value: Any) -> None:
    name, low, high = spec.name, spec.low, spec.high
    ok_types = (int,) if spec.kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        raise ConfigError(f"{name} must be {'a whole number' if spec.kind is int else 'a number'} (got {value!r})")
    if spec.kind is float and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number (got {value!r})")
    hint = f"; {spec.hint}" if spec.hint else ""
    if spec.gt is not None and (value <= spec.gt or (high is not None and value > high)):
        upper = f" and ≤ {high:g}" if high is not None else ""
        raise ConfigError(f"{name} must be a number > {spec.gt:g}{upper} (got {value!r}){hint}")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            allowed = f"≥ {low}"
        elif low is None:
            allowed = f"≤ {high}"
        else:
            allowed = f"between {low} and {high}"
        raise ConfigError(f"{name} must be {allowed} (got {value!r}){hint}")
