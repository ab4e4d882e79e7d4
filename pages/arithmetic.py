"""Latent arithmetic: the same sum done on latent vectors and on pixels, side by side."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from gan_core.arithmetic import (
    NAMES,
    OPERATIONS,
    PRESETS,
    ArithmeticResult,
    LatentMean,
    Operand,
    arithmetic,
    class_mean_latent,
    exemplar_images,
    expression,
    signed,
)
from gan_core.classifier import ClassifierError
from gan_core.data import CLASS_NAMES
from gan_core.metrics.checks import ImageCheck, image_checks
from gan_core.models import Generator
from ui.explore import class_selectbox
from ui.images import image_row
from ui.keys import ARITH_GEN, ARITH_KIND, ARITH_OP, ARITH_PRESET, ARITH_REAL
from ui.pickers import pick_generator
from ui.projections import pick_garment
from ui.state import generator, mtime

CUSTOM = "custom"
KINDS = {"class": "Class mean", "seed": "Single seed", "real": "Real garment"}
RESCALE = {"minmax": "min-max (stretch to black…white)", "clip": "clip to [−1, 1]"}


@st.cache_data(show_spinner="Finding samples of the class…", max_entries=64)
def _class_mean(path: str, mtime: float, cls: int, k: int, seed: int) -> LatentMean:
    del mtime  # part of the cache key only: a rewritten checkpoint is searched again
    return class_mean_latent(generator(path).generator, cls, k=k, seed=seed)


@st.cache_data(show_spinner="Measuring the results…", max_entries=64)
def _checks(images: np.ndarray) -> list[ImageCheck] | str:
    """The Evaluate page's measures for each image, or why they cannot be taken (no classifier or no data)."""
    try:
        return image_checks(torch.from_numpy(images))
    except (ClassifierError, OSError, ValueError) as exc:
        return f"The results cannot be measured: {exc}"


def _apply_preset() -> None:
    preset = PRESETS.get(st.session_state[ARITH_PRESET])
    if preset is None:
        return
    st.session_state[ARITH_OP] = preset.operation
    for i, name in enumerate(preset.classes):
        st.session_state[ARITH_KIND.format(i)] = "class"
        st.session_state[f"arith_cls_{i}"] = CLASS_NAMES.index(name)


def _to_custom() -> None:
    st.session_state[ARITH_PRESET] = CUSTOM


def sum_settings() -> tuple[tuple[int, ...], int, int]:
    """Preset, operation, seed and k: the signs of the sum, and the seed and size of its class means."""
    if ARITH_PRESET not in st.session_state:
        st.session_state[ARITH_PRESET] = next(iter(PRESETS))
        _apply_preset()
    if st.session_state.get(ARITH_OP) not in OPERATIONS:  # a page that set the operands left the operation out
        st.session_state[ARITH_OP] = next(iter(OPERATIONS))
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    c1.selectbox("Preset", [*PRESETS, CUSTOM], key=ARITH_PRESET, on_change=_apply_preset)
    op = c2.segmented_control("Operation", list(OPERATIONS), key=ARITH_OP, required=True, on_change=_to_custom)
    seed = int(c3.number_input("Seed", 0, 2**31 - 1, 0, key="arith_seed",
                               help="draws the class-mean exemplars; a seed operand has its own seed"))
    k = c4.slider("Exemplars k", 1, 10, 3, key="arith_k",
                  help="exemplars averaged per class mean (the DCGAN paper used 3)")
    preset = PRESETS.get(st.session_state[ARITH_PRESET])
    if preset is not None and preset.expect:
        st.caption(f"A good result: {preset.expect}.")
    return OPERATIONS[op], seed, k


def operand(g: Generator, path: str, i: int, sign: int, seed: int, k: int) -> Operand | str:
    """Operand i's widgets, and the operand they choose (or the message saying why it cannot be made)."""
    st.markdown(f"**{signed(sign, i, NAMES[i])}**")
    kind = st.radio(f"Operand {NAMES[i]}", list(KINDS), format_func=KINDS.get, key=ARITH_KIND.format(i),
                    horizontal=True, label_visibility="collapsed", on_change=_to_custom)
    if kind == "real":
        garment = pick_garment(f"Real garment {NAMES[i]}", ARITH_REAL.format(i), path)
        if garment is None:
            return (f"Operand {NAMES[i]} is a real garment, and none was projected with this generator yet: project one "
                    "on the Real garments page (from the Dataset or a photo), or pick another kind of operand.")
        return Operand.of_real(garment.z, garment.target, garment.source, label=garment.label, sign=sign, position=i)
    cls = None
    if kind == "class" or g.num_classes:
        cls = class_selectbox("Class" if kind == "class" else "Class label (conditional generator)",
                              f"arith_cls_{i}", default=i, on_change=_to_custom)
    if kind == "seed":
        op_seed = int(st.number_input("Seed of z", 0, 2**31 - 1, 100 + i, key=f"arith_opseed_{i}"))
        return Operand.of_seed(g, op_seed, sign=sign, position=i, label=cls)
    try:
        mean = _class_mean(path, mtime(path), cls, k, seed)
    except ClassifierError as exc:
        return (f"Operand {NAMES[i]} ({CLASS_NAMES[cls]}): an unconditional generator's class means need the "
                f"classifier to sort its samples, and {exc}\n\nMeanwhile, use *Single seed* operands or a "
                "class-conditional generator.")
    except ValueError as exc:  # the class was not found among the samples
        return f"Operand {NAMES[i]} ({CLASS_NAMES[cls]}): {exc}"
    return Operand.of_mean(g, mean, sign=sign, position=i)


def decoding_settings(g: Generator) -> tuple[str, bool, bool]:
    """How the pixel sum is brought back to the image range, whether latents are kept at the typical length, and
    whether a conditional generator's labels are summed with the latents."""
    c1, c2 = st.columns(2)
    rescale = c1.radio("Pixel result rescaling", list(RESCALE), format_func=RESCALE.get, key="arith_rescale",
                       horizontal=True)
    renormalize = c2.toggle(f"Keep latents at the typical length √{g.latent_dim} = {g.latent_dim ** 0.5:.0f}", True,
                            key="arith_renorm",
                            help="A mean of k latents is about 1/√k as long as a sampled one, a sum of three about √3 "
                                 "times as long; off that shell a GAN decodes faint or blank images. On: every operand "
                                 "and the result are rescaled to the typical length before decoding.")
    sum_labels = True
    if g.num_classes:
        sum_labels = c2.toggle("Sum the class labels too", True, key="arith_sum_labels",
                               help="A conditional generator takes its class as a one-hot beside z. On: the result is "
                                    "decoded with the signed sum of the operands' one-hots, so the classes are added "
                                    "and subtracted with the styles. Off: with operand A's class alone, so the sum "
                                    "only moves the style within that class.")
    return rescale, renormalize, sum_labels


def usable(picked: list[Operand | str]) -> list[Operand]:
    """The operands, with a warning for each incomplete class mean; the first one that could not be made stops the page."""
    for op in picked:
        if isinstance(op, str):
            st.error(op)
            st.stop()
        if op.mean is not None and not op.mean.complete:
            st.warning(f"Operand {op.name}: {op.mean.describe()}.")
    return picked


def latent_formula(result: ArithmeticResult, signs: tuple[int, ...]) -> str:
    """What the latent result decodes: G(zA − zB), and for a conditional G G(zA − zB, yA − yB) or G(zA − zB, yA)."""
    if result.label_result is None:
        labels = ""
    else:
        labels = f", {expression(signs, 'y{}')}" if result.labels_summed else ", yA"
    return f"G({result.latent_terms()}{labels})"


def latent_result(result: ArithmeticResult, signs: tuple[int, ...]) -> None:
    st.markdown("**= latent space**")
    image_row(result.latent_result, [latent_formula(result, signs)], scale=5)
    notes = ["operands and sum rescaled to length √d before decoding" if result.renormalized else
             "raw vectors, not rescaled"]
    if result.label_result is not None and result.labels_summed:
        notes.append(f"the class labels y were summed too: {result.label_terms()} (a conditional generator's label "
                     "is part of its latent)")
    elif result.label_result is not None:
        notes.append(f"decoded with operand A's label alone, {CLASS_NAMES[int(result.label_result.argmax())]}: the "
                     "class comes from the label, the style from the sum of the z's")
    if result.code_result is not None:
        notes.append(f"the InfoGAN code was summed too: {result.code_terms()} (zero codes omitted)")
    st.caption("; ".join(notes))


def measured(result: ArithmeticResult) -> list[ImageCheck] | None:
    """The latent and the pixel result measured as the Evaluate page measures samples (None, with a note, if it cannot)."""
    checks = _checks(torch.cat([result.latent_result, result.pixel_result]).numpy())
    if isinstance(checks, str):
        st.caption(checks)
        return None
    return checks


def verdict(checks: list[ImageCheck] | None) -> None:
    """Which result is more garment-like, by the measures under each."""
    if checks is None:
        return
    latent, pixel = checks
    if latent.score == pixel.score:
        st.caption("Both results score alike on these measures.")
        return
    better, name = (latent, "latent-space") if latent.score > pixel.score else (pixel, "pixel-space")
    st.caption(f"More garment-like: the **{name}** result ({better.describe()}). Measured as on the Evaluate page: "
               "the classifier's class and confidence; the distance to the nearest training image divided by that "
               "image's own nearest-neighbour distance (about 1 for real images, near 0 for a copy); and whether its "
               "features fall on the real manifold, as precision counts a sample.")


def side_by_side(result: ArithmeticResult, signs: tuple[int, ...]) -> None:
    """Every operand's image, then the latent-space and the pixel-space result, each with its measures."""
    st.subheader(f"{expression(signs)}, two ways")
    cols = st.columns([1] * len(signs) + [1.3, 1.3])
    for op, col in zip(result.operands, cols, strict=False):
        with col:
            st.markdown(f"**{op.heading()}**")
            image_row((op.image if op.real is None else op.real)[None], [op.caption()], scale=5)
            if op.real is not None:  # the real garment's reconstruction, smaller: the latent it enters the sum as
                image_row(op.image[None], [f"G(ẑ{op.name}), its projection"], scale=3)
    checks = measured(result)
    with cols[-2]:
        latent_result(result, signs)
        if checks is not None:
            st.caption(checks[0].describe())
    with cols[-1]:
        st.markdown("**= pixel space**")
        image_row(result.pixel_result, [result.pixel_formula()], scale=5)
        st.caption(result.rescaling_note())
        if checks is not None:
            st.caption(checks[1].describe())
    verdict(checks)


def exemplars(g: Generator, operands: tuple[Operand, ...]) -> None:
    means = [op for op in operands if op.mean is not None]
    if not means:
        return
    with st.expander("Exemplars averaged into each class mean", expanded=False):
        for op in means:
            st.markdown(f"**{op.name}** · {op.mean.describe()}")
            image_row(exemplar_images(g, op.mean), [f"{CLASS_NAMES[op.mean.cls]} {j + 1}" for j in range(op.mean.n_found)],
                      scale=3)


def explanation(result: ArithmeticResult, signs: tuple[int, ...]) -> None:
    g_expr, rescale = result.pixel_formula(), result.rescaling
    with st.expander("What the two results mean", expanded=True):
        st.markdown(
            f"""
- **Latent space** adds and subtracts the latent vectors, then decodes the sum once:
  `{latent_formula(result, signs)}`. The result is a *new* image the generator makes; if its latent space is
  organised by concepts, it shows a garment that mixes them, as in the DCGAN paper (Radford et al. 2015, Fig. 7),
  which averaged the latents of three exemplars per concept (a class mean here; k sets how many) before the
  arithmetic to make the result stable. A Gaussian latent lives near length √d; means and sums leave that shell, so
  by default every vector is put back on it before decoding (the toggle above turns this off, to see the faint
  images the raw vectors give).
- **Pixel space** decodes every operand and adds and subtracts the images: `{g_expr}`. Because the garments are
  not aligned pixel by pixel, this gives overlays and ghosts rather than a new garment; the sum leaves the image
  range, so it is {"min-max rescaled" if rescale == "minmax" else "clipped"} to be shown. With class means as
  operands this is also the "arithmetic on mean class images" idea: each operand is the decoded mean of its class.
- A class mean for an **unconditional** generator keeps the samples that the shipped classifier assigns to the
  class; a class the generator seldom makes is itself a sign of mode collapse. For a **conditional** generator the
  label carries the class and z the style; the label, a one-hot beside z, is part of the latent, so the result is
  decoded with the signed sum of the operands' one-hots (Sandal + Sneaker switches both classes on). Turn off
  *Sum the class labels too* to decode it with operand A's class alone: the sum then moves only the style.
- A generator trained with an **InfoGAN code** (e.g. the shipped `dcgan`) also reads a discrete switch off z: the
  argmax of its first entries, fed in as a one-hot. It is part of the latent, so it is added and subtracted too:
  a class mean's code is the mean of its exemplars' one-hots, the result's code the signed sum of the operands'.
- A **real garment** (projected on the Real garments page) enters the latent sum as its projected latent ẑ, the
  latent whose image G(ẑ) is closest to it, and the pixel sum as the real image x itself: the pixel result is then
  the arithmetic of real photos, the latent result what the generator makes of the same sum of concepts.
"""
        )


# ------------------------------------------------------------------ page
st.title("Latent arithmetic")
st.caption("Add and subtract concepts: once on the latent vectors (then decode), once on the decoded images' pixels.")

entry, loaded = pick_generator(ARITH_GEN)
g = loaded.generator
signs, seed, k = sum_settings()
picked = []
for i, (sign, col) in enumerate(zip(signs, st.columns(len(signs)), strict=True)):
    with col:
        picked.append(operand(g, str(loaded.path), i, sign, seed, k))
rescale, renormalize, sum_labels = decoding_settings(g)
result = arithmetic(g, usable(picked), rescale=rescale, renormalize=renormalize, sum_labels=sum_labels)
side_by_side(result, signs)
exemplars(g, result.operands)
explanation(result, signs)
