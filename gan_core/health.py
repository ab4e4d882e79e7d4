"""Recognising the failures the seed reports ran into, from the logged numbers alone.

Pure functions over the metric history so the Train page, the CLI and the
tests all see the same warnings.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gan_core.losses import LN2

D_WINS_LOSS = 0.05      # D loss below this ...
D_WINS_STEPS = 200      # ... for this many steps: the discriminator has won
STUCK_TOL = 0.01        # |loss - ln 2| within this ...
STUCK_STEPS = 300       # ... for this many steps, with samples not changing: stuck
GRID_STILL = 1.0        # mean absolute pixel change (0-255) between grids below which samples "stopped changing"
COLLAPSE_CLASSES = 4    # at most this many classes holding >= 5 % of samples: collapse


@dataclass(frozen=True)
class HealthWarning:
    code: str
    message: str


def diagnose(
    history: Sequence[dict[str, float]], grids: Sequence[np.ndarray] = (), *, loss: str = "bce",
    classes_trained: int = 10,
) -> list[HealthWarning]:
    """Warnings for the current state of a run; `history` rows are metrics.csv rows."""
    out: list[HealthWarning] = []
    if not history:
        return out
    last_step = history[-1]["step"]

    recent = [r for r in history if r["step"] > last_step - D_WINS_STEPS]
    if loss == "bce" and last_step >= D_WINS_STEPS and recent and all(r["d_loss"] < D_WINS_LOSS for r in recent):
        out.append(HealthWarning(
            "d_wins",
            f"Discriminator loss has been below {D_WINS_LOSS} for {D_WINS_STEPS}+ steps: D wins and G gets no "
            "useful gradient. Try a lower D learning rate, label smoothing, spectral norm or an R1 penalty.",
        ))

    recent = [r for r in history if r["step"] > last_step - STUCK_STEPS]
    stuck_losses = (
        loss == "bce" and last_step >= STUCK_STEPS and recent
        and all(abs(r["d_loss"] - LN2) < STUCK_TOL and abs(r["g_loss"] - LN2) < STUCK_TOL for r in recent)
    )
    if stuck_losses and samples_still(grids):
        out.append(HealthWarning(
            "stuck_ln2",
            "Both losses have sat at ln 2 = 0.693 for 300+ steps and the samples have stopped changing: D outputs "
            "0.5 for everything and neither network learns (report 001 saw this with a sigmoid output). "
            "Try d_output=logit, a different architecture or learning rate.",
        ))

    cov = [r for r in history if "coverage_classes" in r]
    if cov and classes_trained > COLLAPSE_CLASSES and cov[-1]["coverage_classes"] <= COLLAPSE_CLASSES:
        out.append(HealthWarning(
            "collapse",
            f"Mode collapse: only {int(cov[-1]['coverage_classes'])} classes hold ≥ 5 % of the samples "
            f"(KL from uniform {cov[-1].get('coverage_kl', float('nan')):.2f}). Roll back to an earlier "
            "checkpoint, or lower the learning rates.",
        ))
    return out


def samples_still(grids: Sequence[np.ndarray], last: int = 3) -> bool:
    """True when the last few fixed-noise grids barely differ (samples stopped changing)."""
    if len(grids) < 2:
        return False
    tail = [g.astype(np.float32) for g in grids[-last:]]
    return all(float(np.abs(a - b).mean()) < GRID_STILL for a, b in itertools.pairwise(tail))
