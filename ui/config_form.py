"""The training-configuration form: every TrainConfig field a person would change, validated by TrainConfig itself.

The widgets do not duplicate TrainConfig's ranges (so its messages are the one source
of truth): a bad value shows the ConfigError next to the form and the form returns None.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from gan_core.config import D_OUTPUTS, DEVICES, FIELD_HELP, FIELD_LABELS, LOSSES, ConfigError, TrainConfig
from gan_core.data import CLASS_NAMES
from gan_core.models import ARCHITECTURES

_LOSS_NAMES = {"bce": "bce (non-saturating)", "hinge": "hinge", "lsgan": "lsgan (least squares)"}


def config_form(key: str, initial: TrainConfig) -> TrainConfig | None:
    """Widgets (keyed `{key}.{field}`) filled from `initial`; the validated config, or None after showing why not.

    Give a new `key` to reset every widget to a new `initial` (the Train page keys by preset).
    """
    v: dict[str, Any] = {"preset": initial.preset}

    def k(name: str) -> str:
        return f"{key}.{name}"

    def num(col: Any, name: str, *, step: float | int, fmt: str | None = None) -> Any:
        value = getattr(initial, name)
        value = float(value) if isinstance(step, float) else int(value)
        return col.number_input(FIELD_LABELS[name], value=value, step=step, format=fmt, help=FIELD_HELP[name], key=k(name))

    # ---------------------------------------------------------------- the essentials
    c1, c2, c3, c4 = st.columns(4)
    archs = list(ARCHITECTURES)
    v["arch"] = c1.selectbox(FIELD_LABELS["arch"], archs, index=archs.index(initial.arch), key=k("arch"),
                             help=FIELD_HELP["arch"])
    c1.caption(ARCHITECTURES[v["arch"]].description)
    v["width"] = num(c2, "width", step=0.125, fmt="%g")
    v["latent_dim"] = num(c3, "latent_dim", step=1)
    v["loss"] = c4.selectbox(FIELD_LABELS["loss"], LOSSES, index=LOSSES.index(initial.loss), format_func=_LOSS_NAMES.get,
                             key=k("loss"), help=FIELD_HELP["loss"])
    c1, c2, c3, c4 = st.columns(4)
    v["epochs"] = num(c1, "epochs", step=1)
    v["batch_size"] = num(c2, "batch_size", step=1)
    v["lr_g"] = num(c3, "lr_g", step=1e-5, fmt="%.2e")
    v["lr_d"] = num(c4, "lr_d", step=1e-5, fmt="%.2e")
    c1, c2, c3 = st.columns([2, 1, 1])
    v["classes"] = c1.multiselect(FIELD_LABELS["classes"], CLASS_NAMES, default=list(initial.classes), key=k("classes"),
                                  help=FIELD_HELP["classes"])
    v["max_images"] = num(c2, "max_images", step=100)
    v["name"] = c3.text_input(FIELD_LABELS["name"], value=initial.name, key=k("name"), help=FIELD_HELP["name"],
                              placeholder=f"automatic: {initial.preset or initial.arch}-<date>-<time>").strip()
    v["conditional"] = st.toggle(FIELD_LABELS["conditional"], value=initial.conditional, key=k("conditional"),
                                 help=FIELD_HELP["conditional"])

    # ---------------------------------------------------------------- the rest, folded away
    with st.expander("Model details: D width, D output, normalisation, dropout"):
        c0, c1, c2, c3, c4 = st.columns(5)
        v["d_width"] = num(c0, "d_width", step=0.125, fmt="%g")
        v["d_output"] = c1.selectbox(FIELD_LABELS["d_output"], D_OUTPUTS, index=D_OUTPUTS.index(initial.d_output),
                                     key=k("d_output"), help=FIELD_HELP["d_output"])
        v["batch_norm"] = c2.checkbox(FIELD_LABELS["batch_norm"], value=initial.batch_norm, key=k("batch_norm"),
                                      help=FIELD_HELP["batch_norm"])
        v["spectral_norm"] = c3.checkbox(FIELD_LABELS["spectral_norm"], value=initial.spectral_norm, key=k("spectral_norm"),
                                         help=FIELD_HELP["spectral_norm"])
        v["dropout"] = num(c4, "dropout", step=0.05, fmt="%g")
    with st.expander("Optimiser and stabilisers: Adam betas, label smoothing, EMA, R1, InfoGAN code"):
        c1, c2, c3 = st.columns(3)
        v["beta1"] = num(c1, "beta1", step=0.05, fmt="%g")
        v["beta2"] = num(c2, "beta2", step=0.001, fmt="%g")
        v["d_steps"] = num(c3, "d_steps", step=1)
        c1, c2, c3 = st.columns(3)
        v["label_smoothing"] = num(c1, "label_smoothing", step=0.05, fmt="%g")
        v["ema"] = num(c2, "ema", step=0.001, fmt="%g")
        v["r1_gamma"] = num(c3, "r1_gamma", step=0.1, fmt="%g")
        c1, c2, _ = st.columns(3)
        v["info_codes"] = num(c1, "info_codes", step=1)
        v["info_weight"] = num(c2, "info_weight", step=0.1, fmt="%g")
    with st.expander("Schedule, outputs and runtime: steps, seed, grids, checkpoints, evaluation, threads"):
        c1, c2, c3, c4 = st.columns(4)
        v["max_steps"] = num(c1, "max_steps", step=100)
        v["seed"] = num(c2, "seed", step=1)
        v["sample_every"] = num(c3, "sample_every", step=50)
        v["grid_size"] = num(c4, "grid_size", step=1)
        c1, c2, c3, c4, c5 = st.columns(5)
        v["grid_every_s"] = num(c5, "grid_every_s", step=5.0, fmt="%g")
        v["checkpoint_every"] = num(c1, "checkpoint_every", step=1)
        v["log_every"] = num(c2, "log_every", step=1)
        v["eval_every"] = num(c3, "eval_every", step=100)
        v["eval_samples"] = num(c4, "eval_samples", step=100)
        c0, c1, c2, c3 = st.columns([1, 1, 1, 2])
        v["keep_checkpoints"] = num(c0, "keep_checkpoints", step=1)
        v["threads"] = num(c1, "threads", step=1)
        v["device"] = c2.selectbox(FIELD_LABELS["device"], DEVICES, index=DEVICES.index(initial.device), key=k("device"),
                                   help=FIELD_HELP["device"])
        v["amp"] = c2.checkbox(FIELD_LABELS["amp"], value=initial.amp, key=k("amp"), help=FIELD_HELP["amp"])
        v["data_dir"] = c3.text_input(FIELD_LABELS["data_dir"], value=initial.data_dir, key=k("data_dir"),
                                      help=FIELD_HELP["data_dir"], placeholder="search the usual places").strip()
        st.caption("Threads: 0 uses every core, the fastest choice on an otherwise idle machine; 1 is faster while "
                   "other programs keep the cores busy.")

    try:
        return TrainConfig(**v)
    except ConfigError as exc:
        st.error(f"**{_label_of(str(exc))}** — {exc}. Nothing will start until this is fixed.", icon=":material/warning:")
        return None


def _label_of(message: str) -> str:
    """The form label of the field a ConfigError names (its messages start with the field name)."""
    m = re.match(r"(\w+)", message)
    field = m.group(1) if m else ""
    if field == "loss" and "d_output" in message:
        return f"{FIELD_LABELS['loss']} / {FIELD_LABELS['d_output']}"
    return FIELD_LABELS.get(field, "Configuration")
