"""The InfoGAN code-by-row grid and its per-row summary, on small untrained generators (no data needed)."""

import pytest
import torch

from gan_core.models import ModelConfig, build_generator
from gan_core.sampling import code_grid, generate, latents, row_majorities


def test_code_grid_rows_are_codes_and_columns_share_z():
    torch.manual_seed(0)
    g = build_generator(ModelConfig(width=0.25, info_codes=4)).eval()
    grid = code_grid(g, per_code=3, seed=5)
    assert grid.shape == (12, 1, 28, 28)
    z = latents(3, g.latent_dim, 5)
    for code in range(4):
        onehot = torch.zeros(3, 4)
        onehot[:, code] = 1
        assert torch.allclose(grid[code * 3 : code * 3 + 3], generate(g, 3, z=z, codes=onehot), atol=1e-6)
    assert not torch.allclose(grid[:3], grid[3:6], atol=1e-4), "another code must change the images"


def test_code_grid_needs_a_code():
    g = build_generator(ModelConfig(width=0.25)).eval()
    with pytest.raises(ValueError, match="InfoGAN code"):
        code_grid(g)


def test_row_majorities():
    pred = torch.tensor([3, 3, 1, 0, 0, 0, 9, 2, 2])
    assert row_majorities(pred, 3) == [(3, 2), (0, 3), (2, 2)]
