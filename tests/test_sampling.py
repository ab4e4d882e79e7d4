"""The InfoGAN code-by-row grid and its per-row summary, and the sample modes, on small untrained generators (no data
needed)."""

import numpy as np
import pytest
import torch

from gan_core.images import make_grid, to_uint8
from gan_core.metrics.memorization import memorization_pairs
from gan_core.models import ModelConfig, build_generator
from gan_core.sampling import (
    SampleRequest,
    as_generator,
    class_grid,
    code_grid,
    generate,
    interpolate,
    latents,
    row_majorities,
    sample_images,
)


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


def test_sample_modes_draw_what_the_page_and_the_cli_ask_for():
    torch.manual_seed(0)
    g = build_generator(ModelConfig(width=0.25, num_classes=10, info_codes=2)).eval()
    grid = sample_images(g, SampleRequest("grid", n=30, seed=3))
    assert grid.nrow == 3 and torch.equal(grid.images, class_grid(g, per_class=3, seed=3))
    codes = sample_images(g, SampleRequest("codes", n=20, seed=3))
    assert codes.nrow == 10 and torch.equal(codes.images, code_grid(g, per_code=10, seed=3))
    one = sample_images(g, SampleRequest("one", n=5, seed=2, cls="Bag", psi=0.5))
    assert one.nrow is None and one.label == "Bag"
    assert torch.equal(one.images, generate(g, 5, seed=2, label="Bag", truncation=0.5))
    mixed = sample_images(g, SampleRequest("mixed", n=5, seed=2, cls="Bag"))
    assert torch.equal(mixed.images, generate(g, 5, seed=2)), "a mixed grid cycles the classes, whatever cls says"
    strip = sample_images(g, SampleRequest("interpolate", n=4, seed=1, seed_b=7, cls_b=3))
    assert strip.nrow == 4 and strip.label == 0, "a conditional strip starts from class 0 unless told"
    assert torch.equal(strip.images, interpolate(g, 1, 7, steps=4, label=0, label_b=3))
    with pytest.raises(ValueError, match="unknown sample mode 'rows'"):
        sample_images(g, SampleRequest("rows"))
    plain = build_generator(ModelConfig(width=0.25)).eval()
    with pytest.raises(ValueError, match="unconditional: it cannot be asked for a class"):
        sample_images(plain, SampleRequest("interpolate", n=4, cls=2))


def test_as_generator_takes_a_loaded_generator_or_the_module():
    g = build_generator(ModelConfig(width=0.25))

    class Loaded:
        generator = g

    assert as_generator(g) is g and as_generator(Loaded()) is g
    with pytest.raises(ValueError, match=r"expected a generator .* got Linear"):
        as_generator(torch.nn.Linear(2, 2))


def test_row_majorities():
    pred = torch.tensor([3, 3, 1, 0, 0, 0, 9, 2, 2])
    assert row_majorities(pred, 3) == [(3, 2), (0, 3), (2, 2)]


def test_memorization_pairs_find_a_copied_sample():
    torch.manual_seed(0)
    g = build_generator(ModelConfig(width=0.25)).eval()
    samples = to_uint8(generate(g, 3, seed=4))
    real = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    real[17] = samples[1]
    pairs = memorization_pairs(g, 3, 4, real)
    assert all(np.array_equal(p.sample, s) for p, s in zip(pairs, samples, strict=True))
    assert pairs[1].index == 17 and pairs[1].distance < 0.1 and np.array_equal(pairs[1].real, real[17])
    assert min(pairs[0].distance, pairs[2].distance) > 1, "random noise is far from every sample"


def test_a_grid_names_its_rows_beside_them_and_its_images_under_them():
    from gan_core.images import labelled_grid

    grid = make_grid(np.zeros((20, 28, 28), np.uint8), nrow=10)  # 2 rows of 10 black images, padding 40
    assert labelled_grid(grid, scale=2).size == (604, 124)
    rows = np.asarray(labelled_grid(grid, scale=2, row_labels=["Trouser", "Ankle boot"]))
    margin = rows.shape[1] - 604
    assert rows.shape[0] == 124 and margin > 30, "a margin to the left of the grid, rows unchanged"
    assert rows[:, :margin].max() > 150 and rows[:, margin:].max() == 40, "the names are in the margin only"
    assert rows[:62, :margin].max() > 150 and rows[62:, :margin].max() > 150, "one name beside each row"
    cells = np.asarray(labelled_grid(grid, scale=2, cell_labels=["Bag"] * 20))
    strip = (cells.shape[0] - 124) // 2
    assert cells.shape[1] == 604 and strip > 8, "a strip under each row"
    assert cells[60 : 60 + strip].max() > 150, "the labels are written in the strip under the first row"
    assert (cells[:60] <= 40).all(), "the images are untouched"


def test_a_conditional_runs_fixed_grid_is_named_by_row_or_by_image():
    import numpy as np

    from gan_core.config import TrainConfig
    from gan_core.images import make_grid
    from gan_core.step import fixed_grid_names

    grid = make_grid(np.zeros((100, 28, 28), np.uint8), nrow=10)
    rows, cells = fixed_grid_names(TrainConfig(conditional=True, grid_size=100), grid)
    assert rows[0] == "T-shirt/top" and rows[9] == "Ankle boot" and cells is None
    three = TrainConfig(conditional=True, grid_size=100, classes=("Bag", "Sneaker", "Dress"))
    rows, cells = fixed_grid_names(three, grid)  # 3 classes do not fill rows of 10 evenly: each image is named
    assert rows is None and cells[0] == "Bag" and set(cells) == {"Dress", "Sneaker", "Bag"}
    assert fixed_grid_names(TrainConfig(grid_size=100), grid) == (None, None), "an unconditional grid has no names"
