"""One training step, seen before and after: what a paused run's "Step" shows.

`before(gan)` is taken just before the step, `report(gan, before, stats)` just after it. Neither changes the run:
D and G are read in eval mode (no dropout mask drawn, no BatchNorm statistic or spectral-norm vector updated),
without touching a parameter's gradient, so a stepped run equals an uninterrupted one bit for bit (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gan_core.images import make_grid
from gan_core.inspect import d_scores
from gan_core.losses import generator_loss
from gan_core.models import Generator
from gan_core.step import GanStep, grid_row


@dataclass(frozen=True)
class Before:
    step: int
    images: torch.Tensor      # the fixed-noise grid's images, (n, 1, 28, 28) in [-1, 1]
    d_scores: np.ndarray      # D's probability of "real" for each of them


@dataclass(frozen=True)
class StepReport:
    """A single step's before and after, on the run's fixed-noise grid."""

    step_before: int
    step_after: int
    stats: dict[str, float]        # the step's losses and D(x), D(G(z)) (and its gradient norms when measured)
    grid_before: np.ndarray        # uint8 grids, laid out as the run's live grid
    grid_after: np.ndarray
    difference: np.ndarray         # |after - before| per pixel, stretched so the largest change is white
    largest_change: float          # that largest change, in pixel units of [0, 1]
    d_before: np.ndarray           # D's probability of "real" per grid image, with D before and after the step
    d_after: np.ndarray
    g_gradient: np.ndarray         # |dL_G/dx| per pixel of the grid images drawn before the step, with D after it
    g_gradient_norms: np.ndarray   # its L2 norm per image: how hard this step pushed G at each image


@torch.no_grad()
def _draw(gan: GanStep) -> torch.Tensor:
    g: Generator = gan.sampler
    was = g.training
    g.eval()
    try:
        return g(gan.fixed_z, gan.fixed_y).float().cpu()
    finally:
        g.train(was)


def _g_gradient(gan: GanStep, images: torch.Tensor) -> torch.Tensor:
    """|dL_G/dx| for each image: the gradient G's loss sends back to the pixels G drew, through D as it is now (the
    D that G's update of this step was trained against). Only the input's gradient is computed."""
    D = gan.D
    was = D.training
    D.eval()
    try:
        x = images.to(gan.device).requires_grad_(True)
        out = D(x, gan.fixed_y)
        # The loss is a mean over the batch: times n, each image's gradient is its own loss's.
        loss = generator_loss(gan.config.loss, out, from_probs=D.outputs_probabilities) * len(out)
        (grad,) = torch.autograd.grad(loss, x)
    finally:
        D.train(was)
    return grad.detach().abs().float().cpu()


def before(gan: GanStep) -> Before:
    images = _draw(gan)
    return Before(step=gan.step, images=images, d_scores=d_scores(gan.D, images, gan.fixed_y).numpy())


def report(gan: GanStep, was: Before, stats: dict[str, float]) -> StepReport:
    after = _draw(gan)
    nrow = grid_row(gan.config)
    change = (after - was.images).abs() / 2  # in pixel units of [0, 1]
    largest = float(change.max())
    grad = _g_gradient(gan, was.images)
    return StepReport(
        step_before=was.step, step_after=gan.step, stats=dict(stats),
        grid_before=make_grid(was.images, nrow=nrow), grid_after=make_grid(after, nrow=nrow),
        difference=make_grid(_stretch(change), nrow=nrow), largest_change=largest,
        d_before=was.d_scores, d_after=d_scores(gan.D, after, gan.fixed_y).numpy(),
        g_gradient=make_grid(_stretch(grad), nrow=nrow),
        g_gradient_norms=grad.flatten(1).norm(dim=1).numpy())


def _stretch(x: torch.Tensor) -> torch.Tensor:
    """Non-negative maps scaled so their largest value is white, as images in [-1, 1] for the grid code."""
    top = float(x.max())
    return (x / top if top > 0 else x) * 2 - 1

