"""The training-configuration forms, generated from TrainConfig's field declarations (gan_core.config.FIELDS).

The New-run form renders `form_layout()`: every field declared with a place, so a new field shows up without an
edit here, and a field not on the form keeps the initial config's value (the preset's), never the dataclass default.
The widgets do not duplicate TrainConfig's ranges (so its messages are the one source of truth): a bad value shows
the ConfigError next to the form and the form returns None.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from gan_core.config import FIELD_LABELS, FIELDS, FORM_SECTIONS, ConfigError, FieldSpec, TrainConfig, form_layout
from gan_core.models import ARCHITECTURES

# A caption under a field's widget that depends on the value chosen (presentation only).
_CAPTIONS = {"arch": lambda value: ARCHITECTURES[value].description}


def field_widget(where: Any, spec: FieldSpec, value: Any, key: str, *, label: str = "", help: str = "",
                 preset: str = "") -> Any:
    """The widget `spec.widget` for one field in `where` (a column, or `st`), showing `value`; returns the value set.

    `label` and `help` replace the field's own (the resume form words a few differently); `preset` fills a
    placeholder's "{preset}".
    """
    label, help = label or spec.label, help or spec.help
    if spec.widget == "number":
        value = float(value) if spec.kind is float else int(value)
        return where.number_input(label, value=value, step=spec.step, format=spec.fmt, help=help, key=key)
    if spec.widget == "select":
        options = list(spec.options())
        return where.selectbox(label, options, index=options.index(value), key=key, help=help,
                               format_func=lambda c: spec.choice_labels.get(c, c))
    if spec.widget == "multiselect":
        return where.multiselect(label, list(spec.options()), default=list(value), key=key, help=help)
    if spec.widget == "text":
        return where.text_input(label, value=value, key=key, help=help,
                                placeholder=spec.placeholder.format(preset=preset) or None).strip()
    toggle = where.toggle if spec.widget == "toggle" else where.checkbox
    return toggle(label, value=value, key=key, help=help)


def padded_columns(where: Any, widths: list[int], columns: int) -> list[Any]:
    """Columns of these relative widths, padded with empty ones to `columns` in all, so rows line up."""
    return where.columns(widths + [1] * max(0, columns - sum(widths)))


def config_form(key: str, initial: TrainConfig) -> TrainConfig | None:
    """Widgets (keyed `{key}.{field}`) filled from `initial`; the validated config, or None after showing why not.

    Give a new `key` to reset every widget to a new `initial` (the Train page keys by preset).
    """
    values: dict[str, Any] = {}
    for name, rows in form_layout().items():
        section = FORM_SECTIONS[name]
        with st.expander(section.title) if section.title else st.container():
            for row in rows:
                cols = padded_columns(st, [spec.width for spec in row], section.columns)
                for col, spec in zip(cols, row, strict=False):  # padding columns stay empty
                    values[spec.name] = field_widget(col, spec, getattr(initial, spec.name), f"{key}.{spec.name}",
                                                     preset=initial.preset or initial.arch)
                    if caption := _CAPTIONS.get(spec.name):
                        col.caption(caption(values[spec.name]))
            if section.note:
                st.caption(section.note)
    try:
        return initial.replace(**values)  # a field not on the form (FIELDS' off_form) keeps the initial's value
    except ConfigError as exc:
        st.error(f"**{_label_of(str(exc))}** — {exc}. Nothing will start until this is fixed.", icon=":material/warning:")
        return None


def _label_of(message: str) -> str:
    """The form label of the field a ConfigError names (its messages start with the field name)."""
    m = re.match(r"(\w+)", message)
    field = m.group(1) if m else ""
    if field == "loss" and "d_output" in message:
        return f"{FIELD_LABELS['loss']} / {FIELD_LABELS['d_output']}"
    return FIELDS[field].label if field in FIELDS else "Configuration"
