"""Directions: steer one generated garment with sliders along directions found in z, and read what each one changes."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from gan_core.arithmetic import ClassNotFoundError, LatentMean, class_mean_latent, seed_latent, typical_length
from gan_core.classifier import ClassifierError
from gan_core.data import CLASS_NAMES
from gan_core.directions import METHODS, Directions, class_shares_along, find_directions, move, strips, walk_gif
from gan_core.format import percent
from gan_core.images import to_uint8
from gan_core.models import Generator
from ui.explore import class_selectbox
from ui.images import grid_png, image_row, show_grid, show_image
from ui.keys import DIR_GEN, DIR_REAL, DIR_START
from ui.pickers import pick_generator
from ui.projections import pick_garment
from ui.state import mtime

SIGMAS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
SIGMA_NAMES = [f"{s:+.0f}" if s else "0" for s in SIGMAS]  # drawn under each image: in σ, said in the heading
METHOD_NAMES = {"pca": "PCA", "sefa": "SeFa", "class": "Two classes"}
METHOD_HELP = ("PCA: the principal directions of G's early features over many samples, mapped back to z (GANSpace). "
               "SeFa: the eigenvectors of WᵀW of the layer that reads z, in closed form from the weights. "
               "Two classes: from one class's mean latent to another's.")
START_KINDS = {"seed": "A seed", "class": "A class mean", "real": "A real garment"}
MEAN_K = 8  # exemplars averaged into a class-mean start


@st.cache_resource(show_spinner="Finding directions…", max_entries=16)
def _directions(_g: Generator, path: str, mtime: float, method: str, k: int, classes: tuple[int, int] | None
                ) -> Directions:
    """Once per generator file (path and mtime are the key) and settings: a slider move then only decodes one z."""
    del path, mtime
    return find_directions(_g, method, k, classes=classes)


@st.cache_resource(show_spinner="Finding samples of the class…", max_entries=32)
def _class_mean(_g: Generator, path: str, mtime: float, cls: int) -> LatentMean:
    del path, mtime
    return class_mean_latent(_g, cls, k=MEAN_K)


@st.cache_data(show_spinner="Drawing the strips…", max_entries=16)
def _strips(_g: Generator, _d: Directions, _z: torch.Tensor, key: tuple, label: int | None
            ) -> tuple[np.ndarray, np.ndarray | str]:
    """(the −3σ…+3σ images of every direction, the classifier's class shares along each, or why there are none)."""
    del key  # generator, directions and start, as hashable values
    images = strips(_g, _z, _d, SIGMAS, label=label)
    try:
        shares: np.ndarray | str = np.asarray(class_shares_along(images, len(SIGMAS)))
    except ClassifierError as exc:
        shares = str(exc)
    return images.numpy(), shares


@st.cache_data(show_spinner="Making the GIF…", max_entries=16)
def _walk(_g: Generator, _d: Directions, i: int, _z: torch.Tensor, key: tuple, label: int | None) -> bytes:
    """The GIF along direction i; a class direction of a generator with an InfoGAN code moves the code too."""
    del key
    shift = _d.code_shift[i] if _d.code_shift is not None else None
    return walk_gif(_g, _z, _d.vectors[i], label=label, code_shift=shift)


def _fail(exc: Exception) -> None:
    st.error(str(exc))
    st.stop()


def pick_directions(g: Generator, path: str) -> Directions:
    """Method, k (or the two classes) and the cached directions."""
    c1, c2, c3 = st.columns([2, 1, 2])
    method = c1.segmented_control("Method", METHODS, format_func=METHOD_NAMES.get, default="pca", required=True,
                                  key="dir_method", help=METHOD_HELP)
    classes = None
    if method == "class":
        with c2:
            a = class_selectbox("From class", "dir_from", 0)
        with c3:
            b = class_selectbox("To class", "dir_to", 3)
        if a == b:
            st.warning("Pick two different classes: the direction goes from one class's mean latent to the other's.")
            st.stop()
        classes, k = (a, b), 1
        if g.num_classes:
            st.caption("This generator takes its class from the label, so z carries none: the direction is the move in z "
                       "that best imitates switching the label, and it changes the class only a little. The label "
                       "(under Start from) switches it fully.")
    else:
        k = c2.slider("Directions k", 1, 8, 4, key="dir_k", help="how many directions, strongest first")
    try:
        return _directions(g, path, mtime(path), method, k, classes)
    except (ClassNotFoundError, ClassifierError, ValueError) as exc:
        _fail(exc)
        raise  # unreachable: st.stop


def pick_start(g: Generator, path: str) -> tuple[torch.Tensor, int | None, tuple, str]:
    """The base z, the class a conditional G decodes it with, a hashable key for it, and what it is."""
    c1, c2, c3 = st.columns([2, 2, 2])
    kind = c1.radio("Start from", list(START_KINDS), format_func=START_KINDS.get, horizontal=True, key=DIR_START)
    if kind == "seed":
        seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="dir_seed"))
        label = None
        if g.num_classes:
            with c3:
                label = class_selectbox("Class (label)", "dir_label", help="the class this conditional G decodes with")
        return seed_latent(g, seed), label, ("seed", seed, label), f"seed {seed}"
    if kind == "real":
        with c2:
            garment = pick_garment("Real garment", DIR_REAL, path)
        if garment is None:
            st.stop()
        with c3:
            image_row(garment.images(), ["real", "G(ẑ)"], scale=3)
        return (garment.z, garment.label, ("real", garment.id),
                f"the real garment {garment.source}, projected (L2 {garment.error:.2f})")
    with c2:
        cls = class_selectbox("Class", "dir_start_cls", 0)
    try:
        mean = _class_mean(g, path, mtime(path), cls)
    except (ClassNotFoundError, ClassifierError) as exc:
        _fail(exc)
        raise
    # A mean of k latents is about 1/√k as long as a sample's: rescaled to a sample's length so it decodes clearly.
    return (typical_length(mean.z), cls if g.num_classes else None, ("class", cls),
            f"the mean latent of {mean.n_found} {CLASS_NAMES[cls]} samples, rescaled to a sample's length")


def _reset(n: int) -> None:
    for i in range(n):
        st.session_state[f"dir_amount_{i}"] = 0.0


@st.fragment
def steer(g: Generator, d: Directions, z: torch.Tensor, label: int | None, what: str) -> None:
    """One slider per direction and the moved image: only this part reruns as a slider moves."""
    c1, c2 = st.columns([3, 2])
    with c1:
        amounts = [st.slider(name, -3.0, 3.0, 0.0, step=0.25, key=f"dir_amount_{i}", format="%+.2f σ")
                   for i, name in enumerate(d.names)]
        st.button("Reset the sliders", key="dir_reset", on_click=_reset, args=(len(d.names),))
    moved = move(g, z, d, amounts, label=label)
    shift = ", ".join(f"{a:+.2f}σ along {i + 1}" for i, a in enumerate(amounts) if a) or "no move"
    with c2:
        show_image(to_uint8(moved)[0], scale=10, caption=f"From {what} · {shift}")


def change_line(shares: np.ndarray) -> str:
    """'T-shirt/top 80 % → Dress 65 %': the classifier's top class and its share at −3σ and at +3σ."""
    lo, hi = int(shares[0].argmax()), int(shares[-1].argmax())
    text = f"{CLASS_NAMES[lo]} {percent(shares[0, lo], 0)} → {CLASS_NAMES[hi]} {percent(shares[-1, hi], 0)}"
    return text + (" (the class stays)" if lo == hi else "")


def shares_figure(shares: np.ndarray, name: str) -> go.Figure:
    """The share of each class the classifier sees along one direction (classes that never pass 10 % left out)."""
    fig = go.Figure([go.Scatter(x=list(SIGMAS), y=shares[:, c], mode="lines+markers", name=CLASS_NAMES[c])
                     for c in range(shares.shape[1]) if shares[:, c].max() >= 0.1])
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title={"text": name, "x": 0.0},
                      xaxis_title="σ along the direction", yaxis={"title": "share", "range": [0, 1], "tickformat": ".0%"},
                      legend={"orientation": "h", "y": -0.3})
    return fig


def strips_section(d: Directions, images: np.ndarray, shares: np.ndarray | str) -> None:
    """Each direction's −3σ…+3σ strip, named, with what the classifier says changes along it; the PNG of all."""
    st.subheader("Each direction from −3σ to +3σ")
    st.caption("Each strip moves the start along one direction by −3, −2, … +3 σ (the numbers under the images).")
    per = len(SIGMAS)
    for i, name in enumerate(d.names):
        show_grid(images[i * per : (i + 1) * per], nrow=per, scale=3, row_labels=[name],
                  cell_labels=SIGMA_NAMES)
        if not isinstance(shares, str):
            st.caption(f"What the classifier says from −3σ to +3σ: {change_line(shares[i])}")
    if isinstance(shares, str):
        st.caption(f"What the classifier sees along each direction could not be read: {shares}")
    png = grid_png(images, nrow=per, scale=3, row_labels=list(d.names),
                   cell_labels=SIGMA_NAMES * len(d.names))
    st.download_button("Download the strips (PNG)", png, file_name=f"directions-{d.method}.png", mime="image/png",
                       key="dir_download_strips", on_click="ignore")


def walk_section(g: Generator, d: Directions, z: torch.Tensor, key: tuple, label: int | None,
                 shares: np.ndarray | str) -> None:
    """An animated walk along one chosen direction, its download, and the class shares along it."""
    st.subheader("A walk along one direction")
    i = st.selectbox("Direction", range(len(d.names)), format_func=lambda j: d.names[j], key="dir_walk")
    c1, c2 = st.columns([1, 2])
    gif = _walk(g, d, i, z, key, label)
    with c1:
        st.image(gif, caption=f"{d.names[i]}: −3σ → +3σ")
        st.download_button("Download the walk (GIF)", gif, file_name=f"walk-{d.method}-{i + 1}.gif", mime="image/gif",
                           key="dir_download_gif", on_click="ignore")
    if not isinstance(shares, str):
        c2.plotly_chart(shares_figure(shares[i], d.names[i]), key="dir_shares_chart")


# ------------------------------------------------------------------ page
st.title("Directions")
st.caption("Move one generated or real garment along directions in its latent space, one slider each, and see what each "
           "direction changes: the strips from −3σ to +3σ, and what the classifier calls the images along them.")

entry, loaded = pick_generator(DIR_GEN)
g, path = loaded.generator, str(loaded.path)
directions = pick_directions(g, path)
z, label, start_key, what = pick_start(g, path)
steer(g, directions, z, label, what)
key = (path, mtime(path), directions.method, directions.names, start_key)
images, shares = _strips(g, directions, z, key, label)
strips_section(directions, images, shares)
walk_section(g, directions, z, key, label, shares)
