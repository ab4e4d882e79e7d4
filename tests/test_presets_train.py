"""Every preset builds, generates images and trains a few real steps; CLI flags override a preset field by field."""

import math

import pytest
import torch

from gan_core.cli import build_parser
from gan_core.cli.train import config_from_args
from gan_core.models import build_discriminator, build_generator
from gan_core.presets import PRESETS, preset_config
from gan_core.runs import RunDir
from gan_core.training import Trainer
from tests.conftest import needs_data


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_generator_maps_noise_to_images(name):
    model = preset_config(name).model_config()
    torch.manual_seed(0)
    g, d = build_generator(model).eval(), build_discriminator(model).eval()
    with torch.no_grad():
        labels = torch.tensor([0, 4, 9]) if model.conditional else None
        x = g(torch.randn(3, model.latent_dim), labels)
        scores = d(x, labels)
    assert x.shape == (3, 1, 28, 28)
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert x.std() > 0, "the generator ignores its noise"
    assert scores.shape == (3,) and torch.isfinite(scores).all()


@needs_data
@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_trains_five_steps_on_real_data(name, tmp_path):
    # 64 images, or enough for the clusters a preset anchors its code to: one per cluster (studio-fast-info: 80), or,
    # where each class is clustered apart, the first 100 training images, which hold at least 4 of every class
    # (studio-fast-sub: 4 sub-classes per class).
    fields = PRESETS[name].fields
    k = fields.get("info_codes", 0) if fields.get("info_clusters") else 0
    images = max(64, 100 if k and fields.get("conditional") else k)
    cfg = preset_config(name, max_images=images, batch_size=16, max_steps=5, threads=1, log_every=1,
                        grid_size=16)
    snap = Trainer(cfg.replace(name=f"p-{name}"), runs_root=tmp_path).run()
    assert snap.status == "finished", snap.message
    assert snap.step == 5
    rows = RunDir(tmp_path / f"p-{name}").read_metrics()
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    assert snap.config is not None and snap.config.arch == PRESETS[name].fields["arch"]


def test_cli_flag_changes_only_that_field_of_the_preset():
    args = build_parser().parse_args(["train", "--preset", "compact-dcgan", "--lr-d", "1e-5"])
    cfg = config_from_args(args)
    base = preset_config("compact-dcgan")
    changed = {k for k, v in base.to_dict().items() if cfg.to_dict()[k] != v}
    assert changed == {"lr_d"}
    assert cfg.lr_d == 1e-5 and cfg.arch == "compact-dcgan" and cfg.latent_dim == 128
