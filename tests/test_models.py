import pytest
import torch

from gan_core.config import TrainConfig
from gan_core.latent import info_code
from gan_core.models import ARCHITECTURES, build_discriminator, build_generator, summarize


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_and_range(arch, conditional):
    cfg = TrainConfig(arch=arch, conditional=conditional).model_config()
    g, d = build_generator(cfg), build_discriminator(cfg)
    y = torch.tensor([0, 3, 9, 5]) if conditional else None
    x = g(torch.randn(4, cfg.latent_dim), y)
    assert x.shape == (4, 1, 28, 28)
    assert float(x.detach().min()) >= -1 and float(x.detach().max()) <= 1
    out = d(x, y)
    assert out.shape == (4,)
    assert torch.isfinite(out).all()


def test_conditional_generator_needs_labels():
    g = build_generator(TrainConfig(conditional=True).model_config())
    with pytest.raises(ValueError, match="conditional"):
        g(torch.randn(2, 100))


def test_conditioning_changes_output():
    g = build_generator(TrainConfig(conditional=True).model_config()).eval()
    z = torch.randn(1, 100).repeat(2, 1)
    x = g(z, torch.tensor([0, 9]))
    assert not torch.allclose(x[0], x[1])


def test_width_multiplier_scales_parameters():
    small = summarize(build_generator(TrainConfig(width=0.5).model_config())).total
    large = summarize(build_generator(TrainConfig(width=2.0).model_config())).total
    assert large > 3 * small


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_d_width_grows_the_discriminator_alone(arch):
    same = TrainConfig(arch=arch).model_config()
    wide = TrainConfig(arch=arch, d_width=2.0).model_config()
    assert summarize(build_generator(wide)).total == summarize(build_generator(same)).total
    assert summarize(build_discriminator(wide)).total > 2 * summarize(build_discriminator(same)).total
    # 0 means "follow width": a file written before d_width existed rebuilds the same D.
    both = TrainConfig(arch=arch, width=2.0).model_config()
    assert summarize(build_discriminator(both)).total == summarize(build_discriminator(wide)).total


def test_compact_dcgan_matches_report_001_exactly():
    cfg = TrainConfig(arch="compact-dcgan", latent_dim=128).model_config()
    sg, sd = summarize(build_generator(cfg)), summarize(build_discriminator(cfg))
    assert (sg.total, sg.trainable, sg.non_trainable) == (1_340_929, 1_340_417, 512)
    assert (sd.total, sd.trainable, sd.non_trainable) == (75_137, 74_881, 256)
    assert sg.rows[0].output_shape == (6272,)
    assert sd.rows[-1].output_shape == (1,)


def test_ankle_boot_gan2_within_5_percent_of_report_002():
    cfg = TrainConfig(arch="ankle-boot-gan2").model_config()
    g2, d2 = summarize(build_generator(cfg)).total, summarize(build_discriminator(cfg)).total
    assert abs(g2 - 106_641) / 106_641 < 0.05
    assert abs(d2 - 29_089) / 29_089 < 0.05
    cfg1 = TrainConfig(arch="ankle-boot-gan1").model_config()
    g1, d1 = summarize(build_generator(cfg1)).total, summarize(build_discriminator(cfg1)).total
    assert abs(d2 / d1 - 0.256) < 0.05 * 0.256
    assert abs((g2 + d2) / (g1 + d1) - 0.410) < 0.05 * 0.410


def test_tf_tutorial_generator_size():
    sg = summarize(build_generator(TrainConfig(arch="tf-tutorial").model_config()))
    assert sg.total == 2_330_944  # Keras counts for the TensorFlow tutorial's generator


def test_summary_text_has_totals():
    text = summarize(build_generator(TrainConfig().model_config())).to_text()
    assert "Total params:" in text and "Non-trainable params:" in text and "ConvTranspose2d" in text


def test_sigmoid_output_and_spectral_norm():
    d = build_discriminator(TrainConfig(d_output="sigmoid", spectral_norm=True).model_config())
    out = d(torch.randn(3, 1, 28, 28))
    assert d.outputs_probabilities and float(out.detach().min()) >= 0 and float(out.detach().max()) <= 1
    assert any("parametrizations" in n for n, _ in d.named_parameters())


def test_info_code_is_read_off_z_and_switches_the_generator():
    cfg = TrainConfig(arch="dcgan-deep", info_codes=10).model_config()
    g, d = build_generator(cfg).eval(), build_discriminator(cfg)
    z = torch.randn(20_000, 100, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(info_code(z, 10), minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200, "the code must be uniform over the categories"
    # Moving only the argmax among the first 10 entries changes the image: the generator sees the code.
    a = torch.randn(1, 100)
    a[0, :10] = torch.linspace(-1, 1, 10)
    b = a.clone()
    b[0, :10] = a[0, :10].flip(0)
    c = a.clone()
    c[0, :9] = c[0, :9] - 0.5  # same argmax as a
    assert info_code(a, 10).item() == 9 and info_code(b, 10).item() == 0 and info_code(c, 10).item() == 9
    # a and b hold the same multiset of values in z[:10]: only the code and the order differ.
    assert g.body[0].in_features == 110, "z (100) plus a 10-way one-hot code"
    x = g(torch.cat([a, b]))
    assert not torch.allclose(x[0], x[1])
    score, code_logits = d.score_and_code(x)
    assert score.shape == (2,) and code_logits.shape == (2, 10)
    q_row = [r for r in summarize(d).rows if r.name == "q_head"]
    assert q_row and q_row[0].output_shape == (10,) and q_row[0].params == 6272 * 10 + 10
    assert summarize(d).total == sum(p.numel() for p in d.parameters())
    plain = build_discriminator(TrainConfig(arch="dcgan-deep").model_config())
    with pytest.raises(ValueError, match="no Q head"):
        plain.score_and_code(torch.zeros(1, 1, 28, 28))


def test_model_config_is_the_train_configs_model_fields_plus_num_classes():
    """Not a copy: ModelConfig's fields and defaults are TrainConfig's model fields (gan_core.config.ModelFields)."""
    import dataclasses

    from gan_core.config import ModelFields
    from gan_core.models import ModelConfig

    model_fields = [f.name for f in dataclasses.fields(ModelFields)]
    assert model_fields == ["arch", "latent_dim", "width", "d_width", "info_codes", "code_projection", "batch_norm",
                            "spectral_norm", "d_output", "dropout"]
    assert [f.name for f in dataclasses.fields(ModelConfig)] == [*model_fields, "num_classes"]
    train, model = TrainConfig(), ModelConfig()
    assert all(getattr(model, n) == getattr(train, n) for n in model_fields), "the same defaults"
    assert train.model_config() == model
    # What a weights file stores (and reads back), unchanged in form: the model fields and num_classes, flat.
    assert ModelConfig.from_dict({**model.to_dict(), "num_classes": 10, "unknown": 1}) == ModelConfig(num_classes=10)
