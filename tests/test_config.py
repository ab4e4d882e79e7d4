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

    from gan_core.config import FIELD_HELP
    from ui.config_form import LABELS

    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"preset"}
    assert names <= set(FIELD_HELP), names - set(FIELD_HELP)
    assert names <= set(LABELS), names - set(LABELS)
