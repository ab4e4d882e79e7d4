"""The R1 term: what the default recipe adds to D's loss."""

import torch

from gan_core.losses import r1_penalty


def test_r1_is_half_gamma_times_the_mean_squared_input_gradient_and_trains_through_it():
    """For a linear D(x) = <w, x> the gradient w.r.t. each image is w, so R1 = gamma / 2 * |w|^2, and its own
    gradient w.r.t. w (the double backward D's update takes) is gamma * w."""
    w = torch.randn(1, 1, 28, 28, requires_grad=True)
    x = torch.randn(8, 1, 28, 28, requires_grad=True)
    penalty = r1_penalty((x * w).flatten(1).sum(1), x, gamma=0.1)
    assert torch.allclose(penalty, 0.05 * w.detach().pow(2).sum())
    penalty.backward()
    assert torch.allclose(w.grad, 0.1 * w.detach())
