import io

import numpy as np
import pytest
from PIL import Image

from gan_core.config import TrainConfig
from gan_core.images import MAX_GIF_FRAMES, labelled_png, make_grid, png_width, thin_evenly
from gan_core.runs import RunDir


def test_thin_evenly_keeps_ends_and_bound():
    out = thin_evenly(list(range(1000)), 120)
    assert len(out) == 120 and out[0] == 0 and out[-1] == 999
    assert thin_evenly([1, 2, 3], 120) == [1, 2, 3]


def test_gif_of_a_long_run_reads_a_bounded_number_of_grids(tmp_path):
    run = RunDir.create(TrainConfig(name="long"), tmp_path)
    for step in range(300):
        run.save_grid(step, np.full((10, 10), step % 256, np.uint8))
    gif = Image.open(run.write_gif())
    assert gif.n_frames <= MAX_GIF_FRAMES


def test_make_grid_layout():
    grid = make_grid(np.zeros((10, 28, 28), np.uint8), nrow=5)
    assert grid.shape == (2 * 30 + 2, 5 * 30 + 2)


def test_a_saved_grid_gives_back_its_images():
    import numpy as np

    from gan_core.images import grid_cells, make_grid

    images = np.random.default_rng(0).integers(0, 256, (23, 28, 28), dtype=np.uint8)
    grid = make_grid(images, nrow=10)
    assert np.array_equal(grid_cells(grid, 23), images)
    assert grid_cells(grid).shape == (30, 28, 28), "without n: every place of the 3 rows of 10"


def test_png_width_reads_the_header_of_our_pngs_and_refuses_other_bytes():
    grid = make_grid(np.zeros((20, 1, 28, 28), dtype=np.float32), nrow=10)
    for png in (labelled_png(grid, scale=2), labelled_png(grid, scale=2, row_labels=["a", "b"])):
        assert png_width(png) == Image.open(io.BytesIO(png)).size[0]
    assert png_width(labelled_png(grid, scale=2, row_labels=["a", "b"])) > png_width(labelled_png(grid, scale=2))
    for bad in (b"", b"GIF89a" + bytes(30), labelled_png(grid)[:20]):
        with pytest.raises(ValueError, match="not PNG bytes"):
            png_width(bad)
