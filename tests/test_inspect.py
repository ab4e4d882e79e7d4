"""gan_core.inspect: what D sees (scores, saliency as the input gradient, D untouched), spectra of known patterns,
G's layers through hooks, and `python -m gan_core inspect` through a subprocess."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_core.checkpoints import load_generator
from gan_core.cli import main
from gan_core.config import TrainConfig
from gan_core.inspect import (
    LayerMaps,
    SpectrumComparison,
    compare_spectra,
    d_scores,
    d_view,
    discriminator_of,
    layer_maps,
    layer_picture,
    load_inspectable,
    overlay_grid,
    power_spectrum,
    saliency,
    spectrum_pictures,
    what_d_sees,
)
from gan_core.models import ModelConfig, build_discriminator, initialize
from gan_core.paths import WEIGHTS_DIR
from gan_core.sampling import generate
from gan_core.training import Trainer
from tests.conftest import needs_data

REPO = Path(__file__).resolve().parent.parent
MLP = WEIGHTS_DIR / "generators" / "mlp.safetensors"
DCGAN_COND = WEIGHTS_DIR / "generators" / "dcgan-cond.safetensors"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny run with a real checkpoint (G, D and the EMA of G), trained once for the module. Unconditional: a
    conditional D's class embedding built in a fresh process costs the CLI's subprocess seconds (torch's meta-device
    init imports its compiler); the conditional views are tested in-process below."""
    root = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(name="tiny-inspect", width=0.25, max_images=128, batch_size=32, epochs=1,
                      sample_every=0, log_every=1, grid_size=16, threads=1, seed=3)
    snap = Trainer(cfg, runs_root=root).run()
    assert snap.status == "finished", snap.message
    return root / "tiny-inspect"


def _d(**fields) -> torch.nn.Module:
    """An untrained D (its weights drawn from a fixed seed), in train mode as a run holds it."""
    d = build_discriminator(ModelConfig(**{"arch": "dcgan", "width": 0.25, **fields}))
    initialize(d, torch.Generator().manual_seed(0))
    return d.train()


def _images(n: int, seed: int = 1, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1


@pytest.mark.parametrize("d_output", ["logit", "sigmoid"])
def test_saliency_is_the_input_gradient_of_ds_logit(d_output):
    d = _d(num_classes=10, d_output=d_output).double()
    x, y = _images(2, dtype=torch.float64), torch.tensor([3, 7])
    sal = saliency(d, x, y)
    assert sal.shape == (2, 28, 28) and sal.dtype == torch.float64 and (sal >= 0).all()
    ref = copy.deepcopy(d).eval()

    def logit(img: torch.Tensor) -> float:
        out = ref(img, y)[1].detach()
        return float(torch.logit(out) if d_output == "sigmoid" else out)

    h = 1e-5
    for i, j in ((14, 14), (5, 20)):
        bump = torch.zeros_like(x)
        bump[1, 0, i, j] = h
        finite = (logit(x + bump) - logit(x - bump)) / (2 * h)
        assert float(sal[1, i, j]) == pytest.approx(abs(finite), rel=1e-5, abs=1e-9)
    scores = d_scores(d, x, y)
    expected = ref(x, y) if d_output == "sigmoid" else torch.sigmoid(ref(x, y))
    assert torch.allclose(scores, expected.detach()) and ((scores >= 0) & (scores <= 1)).all()


def test_a_view_leaves_d_as_it_was():
    d = _d(spectral_norm=True, num_classes=10)
    before = {k: v.clone() for k, v in d.state_dict().items()}
    rng = torch.get_rng_state()
    view = d_view(d, _images(4), torch.tensor([0, 1, 2, 3]), smooth=4, seed=5)
    assert view.saliency.shape == (4, 28, 28) and view.scores.shape == (4,)
    assert d.training, "D's train/eval mode is left as it was"
    assert all(p.requires_grad and p.grad is None for p in d.parameters())
    after = d.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before), \
        "weights, spectral norm's vectors and BatchNorm's statistics unchanged"
    assert torch.equal(torch.get_rng_state(), rng), "SmoothGrad's noise comes from its own seeded stream"
    again = d_view(d, _images(4), torch.tensor([0, 1, 2, 3]), smooth=4, seed=5)
    assert torch.equal(again.saliency, view.saliency) and torch.equal(again.scores, view.scores)
    plain = saliency(d, _images(4), torch.tensor([0, 1, 2, 3]))
    assert not torch.allclose(plain, view.saliency), "SmoothGrad averages noisy copies"


def test_bad_inputs_are_refused_with_what_to_do():
    d = _d(num_classes=10)
    with pytest.raises(ValueError, match="class-conditional: pass each image's class"):
        d_scores(d, _images(2))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        saliency(_d(), torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="3 labels given for 2 images"):
        saliency(d, _images(2), torch.tensor([1, 2, 3]))


def test_overlay_grid_draws_heat_over_the_images_and_a_score_under_each():
    d = _d()
    view = d_view(d, _images(4), smooth=0)
    rgb = overlay_grid(view, nrow=2, scale=2)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[1] == (2 * 30 + 2) * 2  # make_grid's 28-pixel cells and 2-pixel padding, upscaled twice
    assert rgb.shape[0] > (2 * 30 + 2) * 2, "a strip with the scores under each row"
    cold = overlay_grid(type(view)(view.images, view.scores, torch.zeros_like(view.saliency)), nrow=2, scale=2)
    assert (cold[..., 0] == cold[..., 2]).all(), "no saliency: the grey images alone"
    assert (rgb[..., 0].astype(int) - rgb[..., 2]).max() > 60, "saliency shows as red to yellow"


def test_the_spectrum_of_known_patterns():
    i, j = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    checker = np.where((i + j) % 2 == 0, 1.0, -1.0)[None].repeat(3, 0)
    spec = power_spectrum(checker)
    assert np.unravel_index(spec.power.argmax(), spec.power.shape) == (0, 0), "a checkerboard is the Nyquist corner"
    assert spec.radial.argmax() == len(spec.radial) - 1 == 20
    assert spec.power.sum() == pytest.approx(spec.power[0, 0]) and spec.n == 3
    stripes = np.cos(2 * np.pi * j / 4)[None]  # period 4 along a row: a quarter of the sampling frequency
    peaks = np.argwhere(power_spectrum(stripes).power > 1e-6)
    assert sorted(map(tuple, peaks)) == [(14, 7), (14, 21)]
    gen, real = spectrum_pictures(SpectrumComparison(spec, power_spectrum(stripes)))
    assert gen.shape == real.shape == (28, 28, 3) and gen.dtype == np.uint8
    assert gen[0, 0].tolist() == [255, 255, 255] and gen[14, 14].tolist() == [0, 0, 0], "the removed DC is off the scale"
    flat = power_spectrum(np.zeros((2, 1, 28, 28)))
    assert not flat.power.any(), "the mean brightness (DC) is removed"
    with pytest.raises(ValueError, match="images must be"):
        power_spectrum(np.zeros((2, 27, 27)))


@needs_data
def test_compare_spectra_of_a_shipped_generator():
    from gan_core.discriminate import real_test_set

    loaded = load_generator(DCGAN_COND)
    real, labels, _ = real_test_set(loaded)
    cmp = compare_spectra(loaded, real, labels, n=200, seed=1)
    assert cmp.generated.n == cmp.real.n == 200 and cmp.generated.power.shape == (28, 28)
    assert 0.1 < cmp.band_ratio() < 10 and cmp.band_ratio(0, np.inf) > 0
    same = compare_spectra(loaded, real, labels, n=200, seed=1)
    assert np.array_equal(same.generated.power, cmp.generated.power), "seeded"


@pytest.mark.parametrize("weights", [MLP, DCGAN_COND])
def test_layer_maps_hold_every_layer_of_g_through_hooks(weights):
    g = load_generator(weights).generator.train()
    layers = layer_maps(g, seed=4, label=None)
    assert len(layers) == len(g.body) and [layer.index for layer in layers] == list(range(len(g.body)))
    assert g.training, "G's mode is left as it was"
    assert all(not m._forward_hooks for m in g.body), "the hooks are removed"
    last = layers[-1]
    assert last.maps.shape == (1, 28, 28)
    image = generate(g, 1, 4, label=0 if g.num_classes else None)[0, 0].numpy()
    assert np.allclose(last.maps[0], image, atol=1e-6), "the last layer's map is the image itself"
    dense = next(layer for layer in layers if layer.dense)
    assert dense.index == 0 and layer_picture(dense).ndim == 2
    assert {"layer", "mean", "std", "min", "max", "zero share", "dead channels"} <= set(layers[1].summary())


def test_dead_and_constant_channels_are_counted():
    maps = np.stack([np.zeros((7, 7)), np.full((7, 7), 2.0), np.arange(49.0).reshape(7, 7)]).astype(np.float32)
    layer = LayerMaps(3, "ReLU", maps)
    assert layer.dead_channels == 1 and layer.constant_channels == 2
    assert layer.zero_share == pytest.approx((49 + 1) / 147)
    assert [row["zero share"] for row in layer.channel_stats()] == [1.0, 0.0, pytest.approx(1 / 49)]
    assert layer_picture(layer).shape == (2 * 8 + 1, 2 * 8 + 1)  # a 2x2 grid of 7-pixel cells, 1-pixel padding


@needs_data
def test_what_d_sees_on_a_checkpoint_and_with_classes(tiny_run):
    from gan_core.discriminate import real_test_set

    loaded = load_inspectable(tiny_run)
    assert loaded.discriminator is not None and loaded.step is not None
    real, labels, _ = real_test_set(loaded)
    sees = what_d_sees(loaded, real, labels, n=4, seed=2, smooth=2)
    for view in (sees.generated, sees.real):
        assert view.images.shape == (4, 1, 28, 28) and view.saliency.shape == (4, 28, 28) and view.labels is None
        assert ((view.scores >= 0) & (view.scores <= 1)).all()
    assert sees.vmax > 0
    # A conditional pair: each generated image is drawn in the class of the real image beside it, and D judges both
    # with that class.
    cond = load_generator(DCGAN_COND)
    cond.discriminator = _d(num_classes=10)
    sees = what_d_sees(cond, real, labels, n=6, seed=3, smooth=0)
    assert torch.equal(sees.generated.labels, sees.real.labels)
    assert torch.equal(sees.real.scores, d_scores(cond.discriminator, sees.real.images, sees.real.labels))
    with pytest.raises(ValueError, match="pass the real images' labels"):
        what_d_sees(cond, real, None, n=2)
    shipped = load_inspectable(MLP)
    assert shipped.discriminator is None
    with pytest.raises(ValueError, match="holds a generator only"):
        discriminator_of(shipped)


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gan_core", "inspect", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)


@needs_data
def test_cli_writes_every_view_for_a_checkpoint(tiny_run, tmp_path):
    out = tmp_path / "views"
    proc = _cli(str(tiny_run), "--out", str(out), "--n", "100", "--grid", "4", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    n_layers = len(load_generator(tiny_run).generator.body)
    assert {"d_saliency_generated.png", "d_saliency_real.png", "spectrum.png"} <= set(names)
    assert len([n for n in names if n.startswith("layers_")]) == n_layers
    assert "layers_0_linear.png" in names
    assert all(f"wrote {out / n}" in proc.stdout for n in names)


@needs_data
def test_cli_on_a_weights_file_says_d_needs_a_checkpoint(tmp_path, capsys):
    """In this process (the subprocess above already covers the entry point): a second interpreter costs seconds."""
    out = tmp_path / "views"
    assert main(["inspect", str(MLP), "--out", str(out), "--n", "50"]) == 0
    assert "D's views (d_saliency_*.png) need a run folder or one of its checkpoints" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert "spectrum.png" in names and not any(n.startswith("d_saliency") for n in names)


def test_cli_refuses_a_bad_source_or_out(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or run folder" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["inspect", str(MLP), "--out", str(blocker)]) == 2
    assert "is a file: give a folder" in capsys.readouterr().err
    assert main(["inspect", str(MLP), "--out", str(tmp_path / "o"), "--grid", "0"]) == 2
    assert "--grid must be between 1 and 64" in capsys.readouterr().err
    assert main(["inspect", str(MLP), "--out", str(tmp_path / "c"), "--class", "Sandal"]) == 2
    assert "unconditional: it cannot be asked for a class" in capsys.readouterr().err
    assert not (tmp_path / "c").exists(), "refused before anything is written"
