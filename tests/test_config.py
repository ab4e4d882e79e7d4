import json

import pytest

from gan_core.config import ConfigError, TrainConfig
from gan_core.presets import PRESETS, preset_config


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("lr_g", -1.0, "lr_g must be a number > 0"),
        ("lr_d", 0, "lr_d must be a number > 0"),
        ("batch_size", 0, "batch_size must be between 1 and 4096"),
        ("batch_size", 5000, "batch_size must be between 1 and 4096"),
        ("batch_size", 3.5, "batch_size must be a whole number"),
        ("latent_dim", 0, "latent_dim must be between 1 and 1024"),
        ("arch", "resnet", "arch must be one of dcgan"),
        ("loss", "wgan", "loss must be one of bce, hinge, lsgan"),
        ("classes", ("hat",), "classes:"),
        ("beta1", 1.5, "beta1 must be between"),
        ("width", float("nan"), "width must be a finite number"),
        ("conditional", "yes", "conditional must be true or false"),
        ("name", "../evil", "name must be a plain folder name"),
        ("device", "tpu", "device must be one of auto"),
        ("d_width", 0.05, "d_width must be 0 (same as width) or between 0.125 and 8.0"),
        ("d_width", 9.0, "d_width must be between 0.0 and 8.0"),
        ("info_codes", 1, "info_codes must be 0 (off) or between 2 and latent_dim (100)"),
        ("info_codes", 101, "info_codes must be 0 (off) or between 2 and latent_dim (100)"),
    ],
)
def test_validation_names_field_and_range(field, value, words):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: value})
    assert words in str(err.value)


def test_hinge_needs_logit_output():
    with pytest.raises(ConfigError, match="hinge"):
        TrainConfig(loss="hinge", d_output="sigmoid")


def test_classes_are_canonicalised():
    cfg = TrainConfig(classes=("ankle boot", 7, "Ankle boot"))
    assert cfg.classes == ("Ankle boot", "Sneaker")
    assert TrainConfig(classes="Bag,Sandal").classes == ("Bag", "Sandal")


def test_json_round_trip_and_unknown_fields():
    cfg = TrainConfig(classes=("Bag",), conditional=True, lr_d=1e-4)
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ConfigError, match="unknown config field"):
        TrainConfig.from_dict({"learning_rate": 1})


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid(name):
    cfg = preset_config(name)
    assert cfg.preset == name


def test_preset_override_changes_only_that_field():
    base = preset_config("compact-dcgan")
    over = preset_config("compact-dcgan", lr_d=1e-5)
    changed = {k for k, v in base.to_dict().items() if over.to_dict()[k] != v}
    assert changed == {"lr_d"}


def test_every_field_has_help_and_a_form_label():
    import dataclasses

    from gan_core.config import FIELD_HELP, FIELD_LABELS

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert all(FIELD_HELP[n].strip() and FIELD_LABELS[n].strip() for n in names), "every field has help and a label"
    labels = [FIELD_LABELS[n] for n in names]
    assert len(set(labels)) == len(labels), "two fields share a form label"


def test_what_a_resume_may_change_is_read_off_the_fields():
    """The schedule, outputs, runtime and learning rates; never the model, loss, batch, data or seed."""
    from gan_core.config import RESUMABLE

    assert set(RESUMABLE) == {"epochs", "max_steps", "lr_g", "lr_d", "sample_every", "grid_every_s",
                              "checkpoint_every", "keep_checkpoints", "log_every", "eval_every", "eval_samples",
                              "threads", "device", "amp", "data_dir"}


def test_model_config_is_read_off_the_train_config_by_field_name():
    cfg = TrainConfig(arch="dcgan-deep", width=0.5, d_width=1.5, conditional=True, latent_dim=32, info_codes=4,
                      batch_norm=False, spectral_norm=True, dropout=0.1, d_output="sigmoid")
    m = cfg.model_config()
    assert (m.arch, m.width, m.d_width, m.num_classes, m.latent_dim, m.info_codes) == ("dcgan-deep", 0.5, 1.5, 10, 32, 4)
    assert (m.batch_norm, m.spectral_norm, m.dropout, m.d_output) == (False, True, 0.1, "sigmoid")
    assert TrainConfig().model_config().num_classes == 0
