"""Weights files from elsewhere with metadata or tensors of the wrong type: always a CheckpointError naming the field.

The pickers, the CLI, cards and export read a LoadedGenerator's step, card and config; every one of those fields is
checked once, when the file is parsed, so none of them can meet a TypeError, a JSONDecodeError or a bare ValueError.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from gan_core.checkpoints import CheckpointError, load_generator, read_weights
from gan_core.paths import WEIGHTS_DIR
from tests.conftest import in_process

SHIPPED = WEIGHTS_DIR / "generators" / "dcgan-cond.safetensors"


def _hostile(tmp_path: Path, meta_changes: dict[str, str] | None = None,
             tensor_changes: dict[str, torch.Tensor] | None = None) -> Path:
    tensors, meta = read_weights(SHIPPED)
    meta = {**meta, **(meta_changes or {})}
    tensors = {**tensors, **(tensor_changes or {})}
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(save(tensors, metadata=meta))
    return path


def _model(**changes) -> str:
    _, meta = read_weights(SHIPPED)
    return json.dumps({**json.loads(meta["model"]), **changes})


@pytest.mark.parametrize(("meta", "message"), [
    ({"model": _model(arch=["x"])}, "model description is invalid"),
    ({"model": _model(num_classes=True)}, "num_classes"),
    ({"model": "[" * 50_000 + "]" * 50_000}, r"'model' is not valid JSON \(nested too deeply\)"),
    ({"card": "{not json"}, "'card' is not valid JSON"),
    ({"card": "[1, 2]"}, "'card' holds list"),
    ({"card": json.dumps({"notes": "x" * (1 << 20)})}, "'card' is 1,048,"),
    ({"step": "abc"}, "'step' is 'abc', where it must be a whole number"),
    ({"step": "-3"}, "'step'"),
    ({"config": "nope"}, "'config' is not valid JSON"),
    ({"config": "7"}, "'config' holds int"),
    ({"wall_time_s": "inf"}, "'wall_time_s' is 'inf'"),
    ({"wall_time_s": "soon"}, "'wall_time_s'"),
    ({"world_size": "0"}, "'world_size' is 0"),
    ({"opt_g_groups": '{"lr": 1}'}, "'opt_g_groups' holds dict"),
])
def test_hostile_metadata_is_a_checkpoint_error_naming_the_field(tmp_path, meta, message):
    path = _hostile(tmp_path, meta)
    with pytest.raises(CheckpointError, match=message) as info:
        load_generator(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("dtype", [torch.int64, torch.float16, torch.bool])
def test_weights_of_the_wrong_type_are_refused_before_they_are_loaded(tmp_path, dtype):
    tensors, _ = read_weights(SHIPPED)
    key = next(k for k in tensors if k.startswith("G/") and k.endswith("weight"))
    path = _hostile(tmp_path, tensor_changes={key: tensors[key].to(dtype)})
    with pytest.raises(CheckpointError, match=f"is {dtype}, where the model has torch.float32"):
        load_generator(path)


def test_the_shipped_generators_pass_the_checks():
    for path in sorted((WEIGHTS_DIR / "generators").glob("*.safetensors")):
        loaded = load_generator(path)
        assert isinstance(loaded.card, dict) and loaded.card, path.name


def test_export_refuses_an_out_that_the_card_would_overwrite_and_sample_a_huge_scale(tmp_path, capsys):
    out = tmp_path / "g.json"
    done = in_process(capsys, "export", str(SHIPPED), "--out", str(out))
    assert done.returncode == 2 and "--out must name a .safetensors file" in done.stderr, done.stderr
    assert not out.exists()
    done = in_process(capsys, "sample", str(SHIPPED), "--scale", "100000", "--out", str(tmp_path / "s.png"))
    assert done.returncode == 2 and "--scale must be a whole number from 1 to 16" in done.stderr, done.stderr
    assert not (tmp_path / "s.png").exists()
    done = in_process(capsys, "project", str(SHIPPED), "--test-index", "0", "--scale", "17", "--out",
                      str(tmp_path / "z.safetensors"))
    assert done.returncode == 2 and "--scale must be a whole number from 1 to 16" in done.stderr, done.stderr
