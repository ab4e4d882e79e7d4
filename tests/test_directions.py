"""Latent directions (PCA, SeFa, class) and the truncation trick, on the shipped generators."""

import numpy as np
import pytest
import torch

from gan_core.checkpoints import load_generator
from gan_core.data import class_index
from gan_core.directions import (
    Directions,
    class_shares_along,
    find_directions,
    move,
    strips,
    walk_gif,
)
from gan_core.metrics import truncation_sweep
from gan_core.sampling import generate, latents, truncated_latents
from tests.conftest import needs_data

COND = "weights/generators/dcgan-cond.safetensors"
UNCOND = "weights/generators/dcgan.safetensors"


@pytest.fixture(scope="module")
def cond():
    return load_generator(COND).generator


@pytest.fixture(scope="module")
def uncond():
    return load_generator(UNCOND).generator


def _unit(d: Directions) -> None:
    assert torch.allclose(d.vectors.norm(dim=1), torch.ones(len(d.vectors)), atol=1e-5)


def test_sefa_directions_are_unit_orthogonal_and_ordered(cond):
    d = find_directions(cond, "sefa", 8)
    assert d.vectors.shape == (8, cond.latent_dim) and len(d.names) == 8 and d.names[0].startswith("SeFa 1 (")
    _unit(d)
    assert torch.allclose(d.vectors @ d.vectors.T, torch.eye(8), atol=1e-5)
    assert list(d.explained) == sorted(d.explained, reverse=True) and 0 < sum(d.explained) <= 1


def test_pca_directions_are_unit_and_independent_but_not_promised_orthogonal(uncond):
    """PCA's components are orthogonal in activation space; mapped back to z they are unit and independent only."""
    state = torch.random.get_rng_state()
    d = find_directions(uncond, "pca", 6, n=600, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state), "finding directions must not touch the global RNG"
    _unit(d)
    assert torch.linalg.matrix_rank(d.vectors) == 6
    assert list(d.explained) == sorted(d.explained, reverse=True) and 0 < sum(d.explained) < 1
    assert d.names[0].startswith("PC 1 (") and "of variance" in d.names[0]
    assert find_directions(uncond, "pca", 6, n=600, seed=1) is d, "the same arguments come from the cache"


def test_cache_follows_weight_changes():
    g = load_generator(UNCOND).generator
    before = find_directions(g, "sefa", 3)
    with torch.no_grad():
        g.body[0].weight.add_(torch.randn(g.body[0].weight.shape, generator=torch.Generator().manual_seed(0)))
    after = find_directions(g, "sefa", 3)
    assert after is not before and not torch.allclose(after.vectors, before.vectors)


def test_class_direction_raises_the_target_share_on_the_unconditional_generator(uncond):
    """The shipped dcgan has an InfoGAN code that holds much of the class: the direction moves it too (code_shift)."""
    d = find_directions(uncond, "class", classes=("T-shirt/top", "Trouser"))
    assert d.names == ("Trouser − T-shirt/top",) and d.explained is None and d.code_shift.shape == (1, uncond.cfg.info_codes)
    _unit(d)
    trouser = class_index("Trouser")
    shares = [class_shares_along(strips(uncond, z, d, (-3, 0, 3)), 3)[0, :, trouser] for z in latents(8, 100, 5)]
    mean = np.array(shares).mean(0)
    assert mean[2] > mean[1] > mean[0] and mean[2] > 0.3, mean


def test_class_direction_raises_the_target_share_on_the_conditional_generator(cond):
    """A conditional G takes its class from the label: moving z only imitates the label switch, so the rise is small."""
    d = find_directions(cond, "class", classes=(0, 1))
    _unit(d)
    zs = latents(24, cond.latent_dim, 7)
    images = torch.cat([strips(cond, z, d, (-3, 0, 3), label=0) for z in zs])
    trouser = class_shares_along(images, 3)[:, :, 1].mean(0)
    assert trouser[2] > trouser[1] > trouser[0], trouser


def test_move_and_strips_start_from_the_base_image(cond):
    z = latents(1, cond.latent_dim, 3)[0]
    d = find_directions(cond, "sefa", 4)
    base = generate(cond, 1, z=z[None], label=2)
    assert torch.equal(move(cond, z, d, [0, 0], label=2), base)
    assert not torch.equal(move(cond, z, d, [2.0], label=2), base)
    s = strips(cond, z, d, (-1, 0, 1), label=2)
    # The centre column is the base image, to the float rounding of a batch of 12 against a batch of 1.
    assert s.shape == (12, 1, 28, 28) and torch.allclose(s[1::3], base.expand(4, -1, -1, -1), atol=1e-4)
    assert walk_gif(cond, z, d.vectors[0], frames=6, label=2)[:4] == b"GIF8"
    with pytest.raises(ValueError, match="5 amounts given for 4 directions"):
        move(cond, z, d, [1] * 5)


def test_bad_inputs_get_clear_messages(cond):
    with pytest.raises(ValueError, match="unknown direction method 'ica'"):
        find_directions(cond, "ica")
    with pytest.raises(ValueError, match=r"classes=\(from, to\)"):
        find_directions(cond, "class")
    with pytest.raises(ValueError, match="two different classes"):
        find_directions(cond, "class", classes=(3, 3))
    with pytest.raises(ValueError, match="k must be between 1 and the latent size 100"):
        find_directions(cond, "sefa", 0)
    for psi in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match=r"truncation ψ must be in \(0, 1\]"):
            truncated_latents(4, 100, psi, 0)


def test_truncation_one_is_plain_sampling_and_near_zero_collapses(cond):
    assert torch.equal(truncated_latents(16, 100, 1.0, 4), latents(16, 100, 4))
    assert torch.equal(generate(cond, 16, seed=4, label=5, truncation=1.0), generate(cond, 16, seed=4, label=5))
    collapsed = generate(cond, 16, seed=4, label=5, truncation=1e-4)
    spread = generate(cond, 16, seed=4, label=5)
    assert (collapsed - collapsed[:1]).abs().max() < 1e-2 < (spread - spread[:1]).abs().max()


@needs_data
def test_truncation_sweep_measures_like_evaluate(uncond):
    from gan_core.metrics import evaluate_generator

    rows = truncation_sweep(uncond, [0.5, 1.0], n=200, seed=2)
    assert [r["psi"] for r in rows] == [0.5, 1.0] and all(set(r) == {"psi", "fid", "precision", "recall"} for r in rows)
    plain = evaluate_generator(uncond, n=200, seed=2, memorization_n=0)
    assert rows[1]["fid"] == plain.fid and rows[1]["recall"] == plain.recall
    assert rows[0]["fid"] != rows[1]["fid"]
