"""Real garments projected into a generator's latent space, kept for this browser session.

The Real garments page projects an image and remembers the result here; Latent arithmetic and Directions pick from
what was projected with the generator they show (a latent belongs to the generator it was found in). Nothing is
written to disk: a person saves a projection with its download button.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from gan_core.data import CLASS_NAMES
from gan_core.images import to_uint8
from ui.keys import ARITH_GEN, ARITH_KIND, ARITH_OP, ARITH_PRESET, ARITH_REAL, DIR_GEN, DIR_REAL, DIR_START

STORE = "real_garments"  # session key: {id: Garment}, oldest first
MAX_KEPT = 24            # a session keeps its latest projections only (each holds two 28x28 images and a latent)



@dataclass(frozen=True, eq=False)
class Garment:
    """One projected real image: where it came from, the generator it was projected with, and the result."""

    id: str
    source: str               # "test[12] · Coat", "coat.jpg"
    generator: str            # the picked generator's path: the key that ties the latent to its generator
    z: torch.Tensor           # (latent_dim,)
    label: int | None         # the class a conditional generator decodes it with
    target: torch.Tensor      # (1, 28, 28) in [-1, 1]: the real image (converted, for an upload)
    reconstruction: torch.Tensor  # (1, 28, 28) in [-1, 1]
    error: float              # pixel L2, pixels in [0, 1]
    summary: str              # Projection.describe of this image

    def title(self) -> str:
        return f"{self.source} (L2 {self.error:.2f})"

    def images(self) -> np.ndarray:
        """(2, 28, 28) uint8: the real image and its reconstruction."""
        return to_uint8(torch.stack([self.target, self.reconstruction]))

    def class_note(self) -> str:
        return "" if self.label is None else f"decoded as {CLASS_NAMES[self.label]}"


def remember(garment: Garment) -> None:
    kept: dict[str, Garment] = st.session_state.setdefault(STORE, {})
    kept.pop(garment.id, None)
    kept[garment.id] = garment
    while len(kept) > MAX_KEPT:
        kept.pop(next(iter(kept)))


def garments_for(generator: str) -> list[Garment]:
    """The garments projected with this generator, newest first."""
    return [g for g in reversed(st.session_state.get(STORE, {}).values()) if g.generator == generator]


def find(garment_id: str | None) -> Garment | None:
    return st.session_state.get(STORE, {}).get(garment_id) if garment_id else None


def pick_garment(label: str, key: str, generator: str) -> Garment | None:
    """A select of the garments projected with this generator; None, after saying where to project one, if none."""
    found = garments_for(generator)
    if not found:
        st.info("No real garment projected with this generator yet: project one on the **Real garments** page (in the "
                "sidebar), from a Dataset image or a photo.")
        return None
    ids = [g.id for g in found]
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]
    chosen = st.selectbox(label, ids, format_func=lambda i: find(i).title(), key=key)
    return find(chosen)


def use_in_arithmetic(garment: Garment, position: int, entry: object) -> None:
    """Make the garment operand `position` (0, 1, 2: A, B, C) of Latent arithmetic, with its generator picked."""
    st.session_state[ARITH_GEN] = entry
    st.session_state[ARITH_KIND.format(position)] = "real"
    st.session_state[ARITH_REAL.format(position)] = garment.id
    st.session_state[ARITH_PRESET] = "custom"
    st.session_state.setdefault(ARITH_OP, "A − B + C")  # room for three real garments


def use_in_directions(garment: Garment, entry: object) -> None:
    """Make the garment the start on Directions, with its generator picked."""
    st.session_state[DIR_GEN] = entry
    st.session_state[DIR_START] = "real"
    st.session_state[DIR_REAL] = garment.id
