import pickle

import pytest
import torch

from gan_core import checkpoints as ck
from gan_core.config import TrainConfig
from gan_core.models import build_generator
from gan_core.paths import atomic_write_bytes


def _generator_file(tmp_path, name="g.safetensors"):
    g = build_generator(TrainConfig(width=0.25).model_config())
    path = tmp_path / name
    ck.save_generator(path, g, {"note": "test"})
    return g, path


def test_generator_round_trip(tmp_path):
    g, path = _generator_file(tmp_path)
    loaded = ck.load_generator(path)
    assert loaded.card == {"note": "test"}
    for k, v in g.state_dict().items():
        assert torch.equal(v, loaded.generator.state_dict()[k])


def test_crash_between_write_and_rename_keeps_previous_file(tmp_path):
    _, path = _generator_file(tmp_path)
    before = path.read_bytes()

    def crash(_tmp):
        raise OSError("simulated power cut")

    with pytest.raises(OSError, match="simulated"):
        atomic_write_bytes(path, b"half a new file", _before_replace=crash)
    assert path.read_bytes() == before
    ck.load_generator(path)  # still loadable
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "temporary file left behind"


def test_truncated_file_is_a_clear_error(tmp_path):
    _, path = _generator_file(tmp_path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ck.CheckpointError, match="not a readable safetensors file"):
        ck.load_generator(path)


def test_pickle_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ck.CheckpointError, match="never unpickles"):
        ck.load_generator(path)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ck.CheckpointError, match="pickle"):
        ck.load_generator(raw)


def test_foreign_safetensors_file_is_explained(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ck.CheckpointError, match="not one of Fashion GAN Studio's"):
        ck.load_generator(path)


def test_weights_that_do_not_fit_the_model(tmp_path):
    _, path = _generator_file(tmp_path)
    tensors, meta = ck.read_weights(path)
    meta = dict(meta, model=TrainConfig(width=1.0).model_config().to_dict().__repr__().replace("'", '"')
                .replace("True", "true").replace("False", "false"))
    bad = tmp_path / "bad.safetensors"
    from safetensors.torch import save_file

    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(ck.CheckpointError, match="do not fit"):
        ck.load_generator(bad)


def test_missing_file_and_empty_run_dir(tmp_path):
    with pytest.raises(ck.CheckpointError, match="no such file"):
        ck.load_generator(tmp_path / "nothing.safetensors")
    (tmp_path / "run").mkdir()
    with pytest.raises(ck.CheckpointError, match="no checkpoints yet"):
        ck.load_generator(tmp_path / "run")


def test_optimizer_state_round_trip():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.9))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, groups = ck.optimizer_to_tensors("o", opt)
    opt2 = torch.optim.Adam(model.parameters(), lr=1.0)
    ck.optimizer_from_tensors(opt2, "o", tensors, groups)
    assert opt2.param_groups[0]["lr"] == 1e-3 and tuple(opt2.param_groups[0]["betas"]) == (0.5, 0.9)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[i][k], s2[i][k]) for i in s1 for k in s1[i])


# ----------------------------------------------------------------------------- hostile weights files
def _relabelled(tmp_path, name: str, **model_changes):
    """A real generator file whose metadata describes another model (the file is only 1 KB to 300 KB)."""
    import json

    from safetensors.torch import save_file

    _, path = _generator_file(tmp_path)
    tensors, meta = ck.read_weights(path)
    model = {**json.loads(meta["model"]), **model_changes}
    bad = tmp_path / name
    save_file(tensors, str(bad), metadata={**meta, "model": json.dumps(model)})
    return bad


@pytest.mark.parametrize(("changes", "message"), [
    ({"arch": "tf-tutorial", "width": 100}, r"model description is invalid: width must be between 0\.125 and 8\.0"),
    ({"width": "wide"}, "model description is invalid: width must be a number"),
    ({"latent_dim": -5}, "model description is invalid: latent_dim must be between 1 and 1024"),
    ({"arch": "no-such-net"}, "model description is invalid: arch must be one of"),
    ({"num_classes": 3}, "num_classes 3"),
    ({"arch": "mlp"}, r"do not fit the described model \(mlp, width 0\.25\): missing"),
    ({"arch": "tf-tutorial", "width": 8}, r"do not fit the described model \(tf-tutorial, width 8\)"),
])
def test_a_relabelled_or_absurd_model_description_is_refused_before_anything_is_built(tmp_path, monkeypatch, changes,
                                                                                      message):
    from gan_core import models

    built: list[str] = []
    real = models.build_generator
    monkeypatch.setattr(ck, "build_generator", lambda m: built.append(str(torch.get_default_device())) or real(m))
    with pytest.raises(ck.CheckpointError, match=message):
        ck.load_generator(_relabelled(tmp_path, "relabelled.safetensors", **changes))
    assert all(d == "meta" for d in built), f"a network was allocated for a file that does not fit it: {built}"


def test_text_oversized_and_huge_header_files_are_refused(tmp_path, monkeypatch):
    text = tmp_path / "notes.safetensors"
    text.write_text("these are not weights\n" * 10)
    with pytest.raises(ck.CheckpointError, match="not a readable safetensors file"):
        ck.load_generator(text)
    huge_header = tmp_path / "header.safetensors"
    huge_header.write_bytes((2**62).to_bytes(8, "little") + b'{"a": 1}')
    with pytest.raises(ck.CheckpointError, match="not a readable safetensors file"):
        ck.load_generator(huge_header)
    _, real = _generator_file(tmp_path)
    monkeypatch.setattr(ck, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(ck.CheckpointError, match=r"more than any Fashion GAN Studio weights file"):
        ck.load_generator(real)


def test_the_cli_refuses_a_hostile_weights_file_with_exit_status_2(tmp_path, capsys):
    from tests.conftest import in_process

    bad = _relabelled(tmp_path, "absurd.safetensors", arch="tf-tutorial", width=100)
    r = in_process(capsys, "sample", str(bad), "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "absurd.safetensors" in r.stderr
    assert "width must be between 0.125 and 8.0" in r.stderr and "Traceback" not in r.stderr
