"""Recognising the failures the seed reports ran into, from the logged numbers alone.

Pure functions over the metric history so the Train page, the CLI and the
tests all see the same warnings: the losses, class coverage and the networks' gradient norms.
"""

from __future__ import annotations

import itertools
import math
import statistics
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
    return out + gradient_warnings(history, loss=loss)


def samples_still(grids: Sequence[np.ndarray], last: int = 3) -> bool:
    """True when the last few fixed-noise grids barely differ (samples stopped changing)."""
    if len(grids) < 2:
        return False
    tail = [g.astype(np.float32) for g in grids[-last:]]
    return all(float(np.abs(a - b).mean()) < GRID_STILL for a, b in itertools.pairwise(tail))


# Gradient norms (metrics.csv's grad_norm_g and grad_norm_d: the L2 norm of all of a network's parameter gradients in
# the update of a logged step). Runs trained before they were logged have no such column: the checks then say nothing.
GRAD_NORM_G, GRAD_NORM_D = "grad_norm_g", "grad_norm_d"
# What each metrics.csv column is called on a chart.
METRIC_LABELS = {
    "d_loss": "D loss",
    "g_loss": "G loss",
    "d_real": "D(x)",
    "d_fake": "D(G(z))",
    "fid": "FID",
    "coverage_classes": "classes covered",
    "coverage_kl": "coverage KL",
    "images_per_sec": "images/s",
    "time_s": "time (s)",
    "epoch": "epoch",
    GRAD_NORM_G: "‖∇G‖",
    GRAD_NORM_D: "‖∇D‖",
}
# Vanishing: G's norm below VANISH_RATIO of its own median over the first VANISH_REF_ROWS rows of the history given
# (the recorder gives the latest 400), or below VANISH_ABS, on every row of the last VANISH_STEPS steps (and at
# least VANISH_MIN_ROWS rows). 1e-4 is a 10,000-fold
# fall, far outside the wandering of a healthy run: on the default preset G's norm fell from 46 to 6-25 over its first
# 35 steps and stayed there (README, "Reading gradient norms"), an 8x fall; 10,000x is G told nothing any more. 1e-6 is
# tiny whatever the early level: the per-parameter gradient of a network of 10^5-10^6 parameters is then about
# 1e-9, below Adam's eps (1e-8), so even Adam's normalised steps shrink and G stops moving.
VANISH_RATIO = 1e-4
VANISH_ABS = 1e-6
VANISH_REF_ROWS = 20
VANISH_STEPS = 200      # as long as D must win (D_WINS_STEPS) before that warning: one blip is no trend
VANISH_MIN_ROWS = 5     # ... and at least this many rows, whatever log_every is
# Exploding: a norm above EXPLODE_RATIO times the median of the EXPLODE_REF_ROWS rows before it (at least
# EXPLODE_MIN_REF of them), or non-finite, in any row of the last EXPLODE_STEPS steps (so the warning stays up long
# enough to be read, then goes once the norms are back). On the default preset a row differed from the one before by
# at most 2.7x (G) and 6x (D): 100x is an update of another scale, the start of a divergence, not that wandering.
EXPLODE_RATIO = 100.0
EXPLODE_REF_ROWS = 20
EXPLODE_MIN_REF = 5
EXPLODE_STEPS = 200


def gradient_warnings(history: Sequence[dict[str, float]], *, loss: str = "bce") -> list[HealthWarning]:
    """A vanishing gradient of G and an exploding gradient of G or D, from the logged norms; none without them."""
    out: list[HealthWarning] = []
    if vanishing := _vanishing(_norms(history, GRAD_NORM_G)):
        out.append(HealthWarning("g_vanishing", vanishing + (_VANISH_FIX if loss == "bce" else _VANISH_FIX_LOSS)))
    for network, column in (("G", GRAD_NORM_G), ("D", GRAD_NORM_D)):
        if exploding := _exploding(_norms(history, column), network):
            out.append(HealthWarning(f"{network.lower()}_exploding", exploding + _EXPLODE_FIXES))
    return out


_VANISH_FIX = (" D is winning and G learns almost nothing from it. Try a lower D learning rate (lr_d), an R1 penalty "
               "(r1_gamma), spectral norm on D or label smoothing.")
_VANISH_FIX_LOSS = (" D is winning and G learns almost nothing from it. Try the non-saturating loss (loss=bce), a "
                    "lower D learning rate (lr_d), an R1 penalty (r1_gamma) or spectral norm on D.")
_EXPLODE_FIXES = (" The updates are blowing up and the run may diverge to NaN next. Try lower learning rates (lr_g, "
                  "lr_d), an R1 penalty (r1_gamma) or spectral norm on D, and resume from a checkpoint before the "
                  "jump; gradient clipping is not offered here.")


def _norms(history: Sequence[dict[str, float]], column: str) -> list[tuple[float, float]]:
    """(step, norm) of the rows that logged `column`."""
    return [(r["step"], r[column]) for r in history if column in r]


def _vanishing(norms: list[tuple[float, float]]) -> str:
    """Why G's gradient has vanished ("" when it has not)."""
    if not norms:
        return ""
    last = norms[-1][0]
    start = next(i for i, (s, _) in enumerate(norms) if s > last - VANISH_STEPS)
    start = min(start, len(norms) - VANISH_MIN_ROWS)
    if start < 0 or last < VANISH_STEPS:
        return ""
    ref = [v for _, v in norms[:min(VANISH_REF_ROWS, start)] if math.isfinite(v)]
    early = statistics.median(ref) if ref else math.nan
    floor = max(VANISH_ABS, VANISH_RATIO * early) if ref else VANISH_ABS
    tail = [v for _, v in norms[start:]]
    if not all(v < floor for v in tail):  # a NaN is not below anything: the exploding check speaks for it
        return ""
    steps = f"steps {norms[start][0]:,.0f}-{last:,.0f}"
    if floor > VANISH_ABS:
        return (f"G's gradient has vanished: its norm was {max(tail):.2g} or less over {steps}, under "
                f"{VANISH_RATIO:g} of its early level ({early:.3g}, the median of its first {len(ref)} rows).")
    return f"G's gradient has vanished: its norm was {max(tail):.2g} or less over {steps}, under {VANISH_ABS:g}."


def _exploding(norms: list[tuple[float, float]], network: str) -> str:
    """Why `network`'s gradient exploded in the last EXPLODE_STEPS steps ("" when it did not): the latest such row.

    A jump must also end above the norm's early level: one that comes back from vanishing to where it started is a
    recovery, not an explosion."""
    if not norms:
        return ""
    last = norms[-1][0]
    for i in range(len(norms) - 1, -1, -1):
        step, value = norms[i]
        if step <= last - EXPLODE_STEPS:
            break
        if not math.isfinite(value):
            return f"{network}'s gradient norm was {value} at step {step:,.0f}."
        ref = [v for _, v in norms[max(0, i - EXPLODE_REF_ROWS):i] if math.isfinite(v)]
        if len(ref) < EXPLODE_MIN_REF:
            continue
        level = statistics.median(ref)
        if not (level > 0 and value > EXPLODE_RATIO * level):
            continue
        early = [v for _, v in norms[:min(i, VANISH_REF_ROWS)] if math.isfinite(v)]
        if value > statistics.median(early):
            return (f"{network}'s gradient exploded: its norm jumped to {value:.3g} at step {step:,.0f}, "
                    f"{value / level:,.0f}x its median ({level:.3g}) over the {len(ref)} rows before.")
    return ""
