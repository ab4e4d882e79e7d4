"""Latent arithmetic: the same sum done on latent vectors and on pixels, side by side."""

from __future__ import annotations

import streamlit as st
import torch

from gan_core.arithmetic import OPERATIONS, PRESETS, LatentMean, arithmetic, class_mean_latent, seed_latent
from gan_core.classifier import ClassifierError
from gan_core.data import CLASS_NAMES
from gan_core.sampling import generate
from ui.explore import class_selectbox
from ui.images import image_row
from ui.pickers import pick_generator
from ui.state import generator

CUSTOM = "custom"
NAMES = "ABC"
KINDS = {"class": "Class mean", "seed": "Single seed"}
RESCALE = {"minmax": "min-max (stretch to black…white)", "clip": "clip to [−1, 1]"}


@st.cache_data(show_spinner="Finding samples of the class…", max_entries=64)
def _class_mean(path: str, mtime: float, cls: int, k: int, seed: int) -> LatentMean:
    del mtime  # part of the cache key only: a rewritten checkpoint is searched again
    return class_mean_latent(generator(path).generator, cls, k=k, seed=seed)


def _apply_preset() -> None:
    preset = PRESETS.get(st.session_state["arith_preset"])
    if preset is None:
        return
    st.session_state["arith_op"] = preset.operation
    for i, name in enumerate(preset.classes):
        st.session_state[f"arith_kind_{i}"] = "class"
        st.session_state[f"arith_cls_{i}"] = CLASS_NAMES.index(name)


def _signed(sign: int, i: int, text: str) -> str:
    """'A', '− B', '+ C': the first operand's plus sign is not written."""
    return f"{'−' if sign < 0 else '+'} {text}" if i or sign < 0 else text


def _to_custom() -> None:
    st.session_state["arith_preset"] = CUSTOM


st.title("Latent arithmetic")
st.caption("Add and subtract concepts: once on the latent vectors (then decode), once on the decoded images' pixels.")

entry, loaded = pick_generator("arith_gen")
g = loaded.generator
conditional = bool(g.num_classes)

if "arith_preset" not in st.session_state:
    st.session_state["arith_preset"] = next(iter(PRESETS))
    _apply_preset()

c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
c1.selectbox("Preset", [*PRESETS, CUSTOM], key="arith_preset", on_change=_apply_preset)
op = c2.segmented_control("Operation", list(OPERATIONS), key="arith_op", required=True, on_change=_to_custom)
seed = int(c3.number_input("Seed", 0, 2**31 - 1, 0, key="arith_seed",
                           help="draws the class-mean exemplars; a seed operand has its own seed"))
k = c4.slider("Exemplars k", 1, 10, 3, key="arith_k",
              help="exemplars averaged per class mean (the DCGAN paper used 3)")

signs = OPERATIONS[op]
cols = st.columns(len(signs))
specs: list[tuple[int, str, int | None, int | None]] = []  # (sign, kind, class, seed)
for i, (sign, col) in enumerate(zip(signs, cols, strict=True)):
    with col:
        st.markdown(f"**{_signed(sign, i, NAMES[i])}**")
        kind = st.radio(f"Operand {NAMES[i]}", list(KINDS), format_func=KINDS.get, key=f"arith_kind_{i}",
                        horizontal=True, label_visibility="collapsed", on_change=_to_custom)
        cls = None
        if kind == "class" or conditional:
            cls = class_selectbox("Class" if kind == "class" else "Class label (conditional generator)",
                                  f"arith_cls_{i}", default=i, on_change=_to_custom)
        op_seed = None
        if kind == "seed":
            op_seed = int(st.number_input("Seed of z", 0, 2**31 - 1, 100 + i, key=f"arith_opseed_{i}"))
        specs.append((sign, kind, cls, op_seed))

c1, c2 = st.columns(2)
rescale = c1.radio("Pixel result rescaling", list(RESCALE), format_func=RESCALE.get, key="arith_rescale", horizontal=True)
renormalize = c2.toggle(f"Keep latents at the typical length √{g.latent_dim} = {g.latent_dim ** 0.5:.0f}", True,
                        key="arith_renorm",
                        help="A mean of k latents is about 1/√k as long as a sampled one, a sum of three about √3 "
                             "times as long; off that shell a GAN decodes faint or blank images. On: every operand "
                             "and the result are rescaled to the typical length before decoding.")

# ------------------------------------------------------------------ operands -> latents
operands: list[tuple[int, torch.Tensor, int | None]] = []
codes: list[torch.Tensor | None] = []  # InfoGAN codes: a class mean's mean one-hot; None = read off z
means: dict[int, LatentMean] = {}
mtime = entry.path.stat().st_mtime if entry.path.exists() else 0.0
for i, (sign, kind, cls, op_seed) in enumerate(specs):
    if kind == "seed":
        operands.append((sign, seed_latent(g, op_seed), cls))
        codes.append(None)
        continue
    try:
        mean = _class_mean(str(entry.path), mtime, cls, k, seed)
    except ClassifierError as exc:
        st.error(f"Operand {NAMES[i]} ({CLASS_NAMES[cls]}): an unconditional generator's class means need the "
                 f"classifier to sort its samples, and {exc}\n\nMeanwhile, use *Single seed* operands or a "
                 "class-conditional generator.")
        st.stop()
    except ValueError as exc:  # the class was not found among the samples
        st.error(f"Operand {NAMES[i]} ({CLASS_NAMES[cls]}): {exc}")
        st.stop()
    means[i] = mean
    operands.append((sign, mean.z, cls if conditional else None))
    codes.append(mean.code)
    if not mean.complete:
        st.warning(f"Operand {NAMES[i]}: {mean.describe()}.")

result = arithmetic(g, operands, rescale=rescale, renormalize=renormalize, codes=codes)

# ------------------------------------------------------------------ side by side
def _operand_title(i: int) -> tuple[str, str]:
    """Heading and image caption of operand i."""
    sign, kind, cls, op_seed = specs[i]
    if kind == "class":
        return f"{_signed(sign, i, NAMES[i])}: {CLASS_NAMES[cls]}", f"G(z{NAMES[i]}), mean of {means[i].n_found}"
    label = f" as {CLASS_NAMES[cls]}" if conditional else ""
    return f"{_signed(sign, i, NAMES[i])}: seed {op_seed}", f"G(z{NAMES[i]}){label}"


expr = " ".join(_signed(s, i, NAMES[i]) for i, s in enumerate(signs))
z_expr = " ".join(_signed(s, i, f"z{NAMES[i]}") for i, s in enumerate(signs))
g_expr = " ".join(_signed(s, i, f"G(z{NAMES[i]})") for i, s in enumerate(signs))
st.subheader(f"{expr}, two ways")
cols = st.columns([1] * len(signs) + [1.3, 1.3])
for i, col in enumerate(cols[: len(signs)]):
    with col:
        heading, caption = _operand_title(i)
        st.markdown(f"**{heading}**")
        image_row(result.operand_images[i : i + 1], [caption], scale=5)
with cols[-2]:
    st.markdown("**= latent space**")
    image_row(result.latent_result, [f"G({z_expr})"], scale=5)
    notes = ["operands and sum rescaled to length √d before decoding" if renormalize else "raw vectors, not rescaled"]
    if conditional:
        notes.append(f"decoded with operand A's label, {CLASS_NAMES[result.result_label]}: a conditional generator "
                     "needs one; the class comes from the label, the style from z")
    if result.code_result is not None:
        weights = ", ".join(f"{w:+.2f}·c{j}" for j, w in enumerate(result.code_result.tolist()) if abs(w) > 1e-6)
        notes.append(f"the InfoGAN code was summed too: {weights or '0'} (zero codes omitted)")
    st.caption("; ".join(notes))
with cols[-1]:
    st.markdown("**= pixel space**")
    image_row(result.pixel_result, [g_expr], scale=5)
    st.caption(result.rescaling_note())

if means:
    with st.expander("Exemplars averaged into each class mean", expanded=False):
        for i, mean in means.items():
            st.markdown(f"**{NAMES[i]}** · {mean.describe()}")
            exemplars = generate(g, mean.n_found, z=mean.members, label=mean.cls if conditional else None)
            image_row(exemplars, [f"{CLASS_NAMES[mean.cls]} {j + 1}" for j in range(mean.n_found)], scale=3)

with st.expander("What the two results mean", expanded=True):
    st.markdown(
        f"""
- **Latent space** adds and subtracts the latent vectors, then decodes the sum once: `G({z_expr})`. The result is
  a *new* image the generator makes; if its latent space is organised by concepts, it shows a garment that mixes
  them, as in the DCGAN paper (Radford et al. 2015, Fig. 7), which averaged the latents of three exemplars per
  concept (a class mean here; k sets how many) before the arithmetic to make the result stable. A Gaussian latent
  lives near length √d; means and sums leave that shell, so by default every vector is put back on it before
  decoding (the toggle above turns this off, to see the faint images the raw vectors give).
- **Pixel space** decodes every operand and adds and subtracts the images: `{g_expr}`. Because the garments are
  not aligned pixel by pixel, this gives overlays and ghosts rather than a new garment; the sum leaves the image
  range, so it is {"min-max rescaled" if rescale == "minmax" else "clipped"} to be shown. With class means as
  operands this is also the "arithmetic on mean class images" idea: each operand is the decoded mean of its class.
- A class mean for an **unconditional** generator keeps the samples that the shipped classifier assigns to the
  class; a class the generator seldom makes is itself a sign of mode collapse. For a **conditional** generator the
  label carries the class, the latent carries the style, and the result is decoded with operand A's label.
- A generator trained with an **InfoGAN code** (e.g. the shipped `dcgan`) also reads a discrete switch off z: the
  argmax of its first entries, fed in as a one-hot. It is part of the latent, so it is added and subtracted too:
  a class mean's code is the mean of its exemplars' one-hots, the result's code the signed sum of the operands'.
"""
    )
