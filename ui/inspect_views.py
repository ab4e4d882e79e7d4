"""Views inside a GAN shared by the Sample and Evaluate pages: what D sees, the spectra, G's layers (gan_core.inspect).

Each is computed on a click and kept in the session under the page's key prefix, for the weights it was made from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from gan_core.catalog import GeneratorEntry
from gan_core.checkpoints import LoadedGenerator
from gan_core.data import CLASS_NAMES
from gan_core.discriminate import real_test_set
from gan_core.images import upscale
from gan_core.inspect import (
    SMOOTH_COPIES,
    SPECTRUM_N,
    TOP_BAND,
    SpectrumComparison,
    WhatDSees,
    compare_spectra,
    fit_scale,
    layer_maps,
    layer_picture,
    overlay_grid,
    spectrum_pictures,
    upscale_rgb,
    what_d_sees,
)
from gan_core.models import Generator
from ui.explore import class_selectbox, dataset_or_message
from ui.pickers import LIVE
from ui.state import generator

SALIENCY_HELP = (
    "Each image with D's **saliency** overlaid (the size of the gradient of D's logit with respect to each pixel, "
    f"averaged over {SMOOTH_COPIES} slightly noisy copies): the bright red-to-yellow pixels are those whose change "
    "would move D's verdict most, where D looks to decide, and the very signal the generator learns from. Under "
    "each image, **D**: the probability D gives it of being real (0.5: undecided). Both sets share one colour scale.")
SPECTRUM_HELP = (
    "The mean power spectrum (log of |FFT|², each image's mean brightness removed), zero frequency in the centre, "
    "the highest frequencies at the edges and the corners (a one-pixel checkerboard is the corner). Real clothes put "
    "most power at low frequencies and fall off smoothly; a grid of bright dots or lines at the edges or halfway out "
    "is the checkerboard of transposed convolutions, and a darker rim than the real one is blur.")
LAYERS_HELP = (
    "Every layer's output for one latent, each channel a small picture on the layer's own scale (its minimum black, "
    "its maximum white), so weak channels look dark. A **dead** channel is zero everywhere (a ReLU that never "
    "fires: it passes neither signal nor gradient); a **constant** channel has one value everywhere and carries no "
    "shape. A few are normal; many mean wasted width (or, while training, a learning rate too high). LeakyReLU "
    "layers are never exactly zero.")


def what_d_sees_section(entry: GeneratorEntry, seed: int, key: str) -> None:
    """A checkpoint's D on generated and real test images side by side; other sources say where D lives."""
    st.subheader("What D sees")
    if entry.kind != "checkpoint":
        st.info(("The live copy is the generator only" if entry.kind == LIVE else
                 "A shipped or exported generator file holds no discriminator")
                + ": D's scores and saliency need a run's checkpoint (pick one above, or train a run).")
        return
    st.caption(SALIENCY_HELP)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    n = int(c1.slider("Images of each kind", 2, 16, 8, step=2, key=f"{key}_dsees_n"))
    request = (str(entry.path), n, seed)
    if c2.button("Show what D sees", key=f"{key}_dsees_run"):
        test = dataset_or_message("test", "to show D real images")
        if test is None:
            return
        with_d = generator(entry.path, with_discriminator=True)
        real, labels, _ = real_test_set(with_d, test=test)
        try:
            st.session_state[f"{key}_dsees"] = (request, what_d_sees(with_d, real, labels, n=min(n, len(real)),
                                                                     seed=seed))
        except ValueError as exc:
            st.error(str(exc))
    stored: tuple[tuple, WhatDSees] | None = st.session_state.get(f"{key}_dsees")
    if stored is None or stored[0][0] != str(entry.path):
        return
    if stored[0] != request:
        st.caption(":material/warning: The settings changed: press **Show what D sees** to look again.")
    sees = stored[1]
    cols = st.columns(2)
    for col, name, view in ((cols[0], "generated", sees.generated), (cols[1], "real test images", sees.real)):
        col.image(overlay_grid(view, vmax=sees.vmax, nrow=4), output_format="PNG",
                  caption=f"{len(view.scores)} {name} · mean P(real) {float(view.scores.mean()):.2f}")
    st.caption("A D that has won scores real images near 1 and generated near 0; at balance both sit near 0.5. "
               "Saliency on the garment's outline or on one odd spot says what gives a fake away; saliency spread "
               "over the background, that D looks at noise.")


def radial_figure(comparison: SpectrumComparison) -> go.Figure:
    """The radial log-power curves, generated against real, the axis Nyquist frequency marked."""
    radius = np.arange(len(comparison.real.radial))[1:] / 14  # in units of the axis Nyquist frequency
    fig = go.Figure()
    for spectrum, name, colour in ((comparison.generated, "generated", "#f58518"), (comparison.real, "real", "#4c78a8")):
        fig.add_scatter(x=radius, y=spectrum.radial[1:], mode="lines+markers", name=name, line={"color": colour})
    fig.add_vline(x=1.0, line_dash="dot", line_color="grey")
    fig.update_layout(xaxis_title="radius (× Nyquist: 1 on the axes, 1.41 at the corners)",
                      yaxis_title="log10 mean power", height=320, margin={"l": 10, "r": 10, "t": 20, "b": 10},
                      legend={"orientation": "h", "y": 1.1})
    return fig


def spectrum_section(loaded: LoadedGenerator, gen_key: str, seed: int, key: str) -> None:
    """Mean power spectra of generated and real test images, measured on a click and kept per generator, n and seed."""
    st.subheader("Spectra: generated vs real")
    st.caption(SPECTRUM_HELP)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    n = int(c1.select_slider("Images of each kind", (250, 500, 1_000, 2_000, 5_000), SPECTRUM_N, key=f"{key}_spec_n",
                             format_func=lambda v: f"{v:,}"))
    request = (gen_key, n, seed)
    kept: dict[tuple, SpectrumComparison] = st.session_state.setdefault(f"{key}_spectra", {})
    if c2.button("Compare spectra", key=f"{key}_spec_run") and request not in kept:
        test = dataset_or_message("test", "to compare spectra")
        if test is None:
            return
        real, labels, _ = real_test_set(loaded, test=test)
        try:
            with st.spinner(f"Generating {n:,} images…"):
                kept[request] = compare_spectra(loaded, real, labels, n=min(n, len(real)), seed=seed)
        except ValueError as exc:
            st.error(str(exc))
            return
    comparison = kept.get(request)
    if comparison is None:
        return
    gen, real = (upscale_rgb(p, 8) for p in spectrum_pictures(comparison))
    st.image([gen, real], caption=["generated", "real test images"], output_format="PNG", width=gen.shape[1])
    st.plotly_chart(radial_figure(comparison), key=f"{key}_spec_chart")
    ratio = comparison.band_ratio()
    st.metric(f"Generated / real power, top band (≥ {TOP_BAND:g} × Nyquist)", f"{ratio:.2f}")
    st.caption(f"{comparison.real.n:,} images of each kind, seed {seed}. Near 1: the finest detail is as strong as in "
               "real clothes; well above 1: high-frequency excess (checkerboard, noise); well below 1: blur.")


def _layers_request(g: Generator, key: str) -> tuple[int, int | None]:
    c1, c2 = st.columns(2)
    seed = int(c1.number_input("Latent seed", 0, 2**31 - 1, 0, key=f"{key}_layers_seed"))
    cls = None
    if g.num_classes:
        with c2:
            cls = class_selectbox("Class", f"{key}_layers_cls")
    return seed, cls


def inside_g(g: Generator, gen_key: str, key: str) -> None:
    """G's layers for one latent: a layer picker, its channels and their statistics (computed on a click)."""
    st.subheader("Inside G")
    st.caption(LAYERS_HELP)
    seed, cls = _layers_request(g, key)
    request = (gen_key, seed, cls)
    if st.button("Look inside G", key=f"{key}_layers_run"):
        st.session_state[f"{key}_layers"] = (request, layer_maps(g, seed=seed, label=cls))
    stored = st.session_state.get(f"{key}_layers")
    if stored is None or stored[0] != request:
        return
    layers = stored[1]
    st.dataframe(pd.DataFrame([layer.summary() for layer in layers]).round(3), hide_index=True,
                 key=f"{key}_layers_table")
    index = st.selectbox("Layer", range(len(layers)), format_func=lambda i: layers[i].name, key=f"{key}_layers_pick")
    layer = layers[index]
    picture = layer_picture(layer)
    c, h, w = layer.maps.shape
    what = "its units as pixels, row by row" if layer.dense else f"{c} channel{'s' * (c != 1)} of {h}×{w}"
    st.image(upscale(picture, fit_scale(picture)), output_format="PNG",
             caption=f"{layer.name}: {what}; z(seed {seed})" + (f", class {CLASS_NAMES[cls]}" if cls is not None else ""))
    if not layer.dense:
        st.dataframe(pd.DataFrame(layer.channel_stats()).round(3), hide_index=True, key=f"{key}_layers_channels")
