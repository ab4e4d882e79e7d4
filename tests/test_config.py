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


def test_a_run_saved_with_the_old_amp_flag_keeps_its_precision():
    """Before `precision`, config.json said `amp`: true trained in bf16, false in fp32, and a resume keeps that."""
    assert TrainConfig.from_dict({"amp": True}).precision == "bf16"
    assert TrainConfig.from_dict({"amp": False}).precision == "fp32"
    assert TrainConfig().precision == "auto"
    with pytest.raises(ConfigError, match="amp must be true or false"):
        TrainConfig.from_dict({"amp": "yes"})
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp16")


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid(name):
    cfg = preset_config(name)
    assert cfg.preset == name


def test_preset_override_changes_only_that_field():
    base = preset_config("compact-dcgan")
    over = preset_config("compact-dcgan", lr_d=1e-5)
    changed = {k for k, v in base.to_dict().items() if over.to_dict()[k] != v}
    assert changed == {"lr_d"}


# What config.json holds, flat, one key per field: every run folder and shipped weights card on disk has these.
SAVED_FIELDS = {
    "name", "preset", "arch", "width", "d_width", "conditional", "info_codes", "latent_dim", "batch_norm",
    "spectral_norm", "dropout", "d_output", "loss", "label_smoothing", "batch_size", "lr_g", "lr_d", "beta1", "beta2",
    "d_steps", "lr_anneal_steps", "lr_final", "r1_gamma", "r1_every", "info_weight", "info_clusters", "code_projection",
    "ema", "epochs", "max_steps", "classes",
    "max_images", "seed", "sample_every",
    "grid_every_s", "grid_size", "checkpoint_every", "keep_checkpoints", "log_every", "eval_every", "eval_samples",
    "tensorboard", "threads", "device", "precision", "data_dir",
}
# Fields deliberately not on the New-run form, and why.
NOT_ON_FORM = {"preset": "the Preset picker above the form chooses it"}


def test_config_json_stays_flat_with_every_field():
    data = json.loads(TrainConfig(conditional=True, classes=("Bag",)).to_json())
    assert set(data) == SAVED_FIELDS
    assert not any(isinstance(v, dict) for v in data.values()), "config.json is flat"
    assert TrainConfig.from_dict(data).model_config().num_classes == 10


def test_every_field_declares_help_label_and_a_widget_that_fits_its_type():
    from gan_core.config import FIELDS, WIDGETS

    assert set(FIELDS) == SAVED_FIELDS
    fits = {"number": (int, float), "select": (str,), "text": (str,), "toggle": (bool,), "checkbox": (bool,),
            "multiselect": (tuple,)}
    assert set(fits) == set(WIDGETS)
    for name, spec in FIELDS.items():
        assert spec.help.strip() and spec.label.strip(), name
        assert spec.kind in fits[spec.widget], f"{name}: a {spec.widget} widget for a {spec.kind.__name__} field"
        if spec.widget == "number":
            assert spec.step and isinstance(spec.step, spec.kind), f"{name}: a number needs a step of its own type"
        if spec.widget in ("select", "multiselect"):
            assert spec.options(), name
        if spec.widget == "select":
            assert spec.default in spec.options(), name
    labels = [spec.label for spec in FIELDS.values()]
    assert len(set(labels)) == len(labels), "two fields share a form label"


def test_the_form_layout_places_every_field_once_except_those_kept_off_it():
    from gan_core.config import FIELDS, FORM_SECTIONS, form_layout

    layout = form_layout()
    assert list(layout) == list(FORM_SECTIONS)
    placed = [spec.name for rows in layout.values() for row in rows for spec in row]
    assert len(placed) == len(set(placed)), "a field placed twice"
    assert set(placed) == SAVED_FIELDS - set(NOT_ON_FORM)
    assert {n: FIELDS[n].off_form for n in NOT_ON_FORM} and all(FIELDS[n].off_form for n in NOT_ON_FORM)
    assert [s.name for s in layout["essentials"][0]] == ["arch", "width", "latent_dim", "loss"], "the first row"


def _form_script() -> None:
    import streamlit as st

    from gan_core.presets import preset_config
    from ui.config_form import config_form

    initial = preset_config(st.session_state.get("preset_name", "ankle-boot"))
    st.session_state["out"] = config_form("f", initial)
    st.session_state["initial"] = initial


def _widget_keys(at) -> dict[str, str]:
    """{widget key: widget type} of every input widget on the page."""
    kinds = {"number_input": "number", "selectbox": "select", "multiselect": "multiselect", "text_input": "text",
             "toggle": "toggle", "checkbox": "checkbox"}
    return {w.key: kind for attr, kind in kinds.items() for w in getattr(at, attr)}


@pytest.mark.parametrize("preset", ["ankle-boot", "studio-fast-deep"])
def test_the_form_renders_every_field_and_returns_the_preset_unchanged(preset):
    """A field the form forgot would come back as the dataclass default instead of the preset's value."""
    from streamlit.testing.v1 import AppTest

    from gan_core.config import FIELDS

    at = AppTest.from_function(_form_script, default_timeout=60)
    at.session_state["preset_name"] = preset
    at.run()
    assert not at.exception, at.exception
    keys = _widget_keys(at)
    assert keys == {f"f.{n}": FIELDS[n].widget for n in SAVED_FIELDS - set(NOT_ON_FORM)}
    assert at.session_state["out"] == at.session_state["initial"] == preset_config(preset)
    assert at.number_input(key="f.lr_g").label == "Learning rate G" and at.number_input(key="f.lr_g").step == 1e-5
    at.number_input(key="f.info_weight").set_value(2.5).run()
    assert at.session_state["out"] == preset_config(preset, info_weight=2.5)


def test_the_form_shows_a_bad_value_with_its_label_and_returns_none():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_form_script, default_timeout=60).run()
    at.number_input(key="f.d_steps").set_value(11).run()
    assert at.session_state["out"] is None
    assert "**D steps per G step** — d_steps must be between 1 and 10 (got 11)" in at.error[0].value


def test_the_cli_has_a_flag_for_every_field_and_every_field_flows_through_it():
    from gan_core.cli import build_parser
    from gan_core.cli.train import config_from_args

    want = preset_config("ankle-boot", name="x", conditional=True, d_output="sigmoid", batch_norm=False, precision="bf16",
                     classes=("Bag", "Sandal"), lr_d=3e-5, grid_every_s=2.5, threads=1, device="cpu", data_dir="d")
    argv = ["info", "--preset", "studio"]
    for name, value in want.to_dict().items():
        flag = "--" + name.replace("_", "-")
        if name == "preset":
            continue
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, ",".join(value) if isinstance(value, list) else str(value)]
    got = config_from_args(build_parser().parse_args(argv))
    assert got == want.replace(preset="studio"), "every field set from its flag, none left at the preset's"


@pytest.mark.parametrize("field", ["arch", "loss", "d_output", "device"])
def test_a_bad_choice_gets_the_same_message_from_the_config_and_the_cli(field, capsys):
    from gan_core.cli import main
    from gan_core.config import FIELDS

    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: "nope"})
    assert str(err.value) == f"{field} must be one of {', '.join(FIELDS[field].options())} (got 'nope')"
    assert main(["info", "--" + field.replace("_", "-"), "nope"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {err.value}"


def test_a_resume_refuses_a_flag_that_would_change_what_the_checkpoint_fixes(tmp_path, capsys):
    from gan_core.cli import main
    from gan_core.runs import RunDir

    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.write_config(TrainConfig(width=0.25, name="r"))
    assert main(["train", "--resume", str(run.path), "--width", "0.5", "--loss", "hinge"]) == 2
    err = capsys.readouterr().err
    assert "a resume cannot change --loss hinge (the run has bce), --width 0.5 (the run has 0.25)" in err
    assert "a resume may change --epochs" in err and "Start a new run" in err


def test_a_resume_keeps_the_saved_run_and_takes_what_a_resume_may_change(tmp_path):
    from gan_core.cli import build_parser
    from gan_core.cli.train import resume_config
    from gan_core.runs import RunDir

    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    saved = TrainConfig(width=0.25, name="r", preset="studio", epochs=3)
    run.write_config(saved)
    # The command that started the run, with --resume added, continues it: repeating a fixed value is no change.
    args = build_parser().parse_args(["train", "--resume", str(run.path), "--width", "0.25", "--preset", "studio",
                                      "--epochs", "9", "--lr-g", "5e-5"])
    assert resume_config(args) == saved.replace(epochs=9, lr_g=5e-5)


def test_what_a_resume_may_change_is_read_off_the_fields():
    """The schedule, outputs, runtime and learning rates; never the model, loss, batch, data or seed."""
    from gan_core.config import RESUMABLE, resume_fields

    assert set(RESUMABLE) == {"epochs", "max_steps", "lr_g", "lr_d", "lr_anneal_steps", "lr_final", "sample_every",
                              "grid_every_s",
                              "checkpoint_every", "keep_checkpoints", "log_every", "eval_every", "eval_samples",
                              "tensorboard", "threads", "device", "precision", "data_dir"}
    first, rest = resume_fields()
    assert [s.name for s in first] == ["epochs", "max_steps", "lr_g", "lr_d"], "the resume form's main fields"
    assert sorted(s.name for s in first + rest) == sorted(RESUMABLE), "the resume form offers each once"


def test_model_config_is_read_off_the_train_config_by_field_name():
    cfg = TrainConfig(arch="dcgan-deep", width=0.5, d_width=1.5, conditional=True, latent_dim=32, info_codes=4,
                      batch_norm=False, spectral_norm=True, dropout=0.1, d_output="sigmoid")
    m = cfg.model_config()
    assert (m.arch, m.width, m.d_width, m.num_classes, m.latent_dim, m.info_codes) == ("dcgan-deep", 0.5, 1.5, 10, 32, 4)
    assert (m.batch_norm, m.spectral_norm, m.dropout, m.d_output) == (False, True, 0.1, "sigmoid")
    assert TrainConfig().model_config().num_classes == 0
