"""GAN objectives.

The discriminator loss is the *mean* of its real and fake terms, so at the
equilibrium of the BCE game (D outputs 0.5 everywhere) both the D and the G loss
read ln 2 = 0.6931, the number the seed reports saw their losses stuck at.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LN2 = math.log(2.0)


def _bce(out: torch.Tensor, target: float, from_probs: bool) -> torch.Tensor:
    t = torch.full_like(out, target)
    if from_probs:
        return F.binary_cross_entropy(out, t)
    return F.binary_cross_entropy_with_logits(out, t)


def discriminator_loss(
    kind: str, real: torch.Tensor, fake: torch.Tensor, *, from_probs: bool = False, smoothing: float = 0.0
) -> torch.Tensor:
    """`real`/`fake` are D's outputs (logits, or probabilities when `from_probs`)."""
    real_target = 1.0 - smoothing
    if kind == "bce":
        return 0.5 * (_bce(real, real_target, from_probs) + _bce(fake, 0.0, from_probs))
    if kind == "hinge":
        return 0.5 * (F.relu(real_target - real).mean() + F.relu(1.0 + fake).mean())
    if kind == "lsgan":
        return 0.5 * (((real - real_target) ** 2).mean() + (fake**2).mean())
    raise ValueError(f"unknown loss {kind!r}; use bce, hinge or lsgan")


def generator_loss(kind: str, fake: torch.Tensor, *, from_probs: bool = False) -> torch.Tensor:
    if kind == "bce":  # non-saturating: maximise log D(G(z))
        return _bce(fake, 1.0, from_probs)
    if kind == "hinge":
        return -fake.mean()
    if kind == "lsgan":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    raise ValueError(f"unknown loss {kind!r}; use bce, hinge or lsgan")


def realness(out: torch.Tensor, *, from_probs: bool) -> float:
    """Mean probability D assigns to 'real' (the D(x) / D(G(z)) of pytorch/examples' dcgan)."""
    p = out if from_probs else torch.sigmoid(out)
    return float(p.mean())


def r1_penalty(real_out: torch.Tensor, real_images: torch.Tensor, gamma: float) -> torch.Tensor:
    """The R1 term of D's loss, gamma / 2 times the mean squared gradient norm of D's output w.r.t. real images
    (Mescheder et al. 2018). `real_images` must require grad; the graph is kept for the double backward."""
    (grad,) = torch.autograd.grad(real_out.sum(), real_images, create_graph=True)
    return 0.5 * gamma * grad.pow(2).flatten(1).sum(1).mean()
