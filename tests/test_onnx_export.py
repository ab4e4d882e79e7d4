"""ONNX export: the graph reproduces each shipped generator at any batch size, the CLI writes it with its card and
refuses what it must, and the README's example samples a grid from it in a process where torch cannot be imported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_core import onnx_export
from gan_core.checkpoints import load_generator
from gan_core.cli import main
from gan_core.paths import WEIGHTS_DIR

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = WEIGHTS_DIR / "generators"
NAMES = ("dcgan-cond", "dcgan", "mlp")
WHY = "ONNX export needs onnx, onnxscript and onnxruntime: .venv/bin/pip install onnx onnxscript onnxruntime"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """Each shipped generator exported once, by the CLI as a person runs it: <folder>/<name>.onnx and <name>.json."""
    for package in onnx_export.PACKAGES:
        pytest.importorskip(package, reason=WHY)
    folder = tmp_path_factory.mktemp("onnx")
    for name in NAMES:
        assert main(["export", str(SHIPPED / f"{name}.safetensors"), "--out", str(folder / f"{name}.onnx")]) == 0
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_onnxruntime_makes_the_librarys_images_at_any_batch_size(exported, name):
    g = load_generator(SHIPPED / f"{name}.safetensors").generator
    session = onnx_export.session((exported / f"{name}.onnx").read_bytes())
    inputs = {i.name: i for i in session.get_inputs()}
    assert list(inputs) == (["z", "labels"] if g.num_classes else ["z"])
    assert inputs["z"].type == "tensor(float)" and inputs["z"].shape[1] == g.latent_dim
    assert not isinstance(inputs["z"].shape[0], int), "the batch dimension is dynamic"
    if g.num_classes:
        assert inputs["labels"].type == "tensor(int64)" and len(inputs["labels"].shape) == 1
    assert [o.name for o in session.get_outputs()] == ["images"]
    for n in (1, 3, 17):
        feed = onnx_export.example_inputs(g, n, seed=n)
        (images,) = session.run(["images"], feed)
        expected = onnx_export.library_images(g, feed)
        assert images.shape == (n, 1, 28, 28) and images.dtype == np.float32
        assert np.abs(images - expected).max() <= 1e-4, f"{name} at batch {n}"
        assert images.min() >= -1 and images.max() <= 1


def test_the_infogan_code_is_read_off_z_inside_the_graph(exported):
    """Planting code r in z's first entries switches the image as the library's code grid does."""
    g = load_generator(SHIPPED / "dcgan.safetensors").generator
    k = g.cfg.info_codes
    z = np.repeat(np.random.default_rng(3).standard_normal((1, g.latent_dim), dtype=np.float32), k, axis=0)
    z[np.arange(k), np.arange(k)] = 4.0  # row r: code r (the argmax of the first k entries)
    (images,) = onnx_export.session((exported / "dcgan.onnx").read_bytes()).run(["images"], {"z": z})
    assert np.abs(images - onnx_export.library_images(g, {"z": z})).max() <= 1e-4
    assert np.abs(images[1:] - images[:1]).reshape(k - 1, -1).max(axis=1).min() > 0.1, "every code changes the image"


def test_the_card_says_how_to_feed_the_graph(exported):
    card = json.loads((exported / "dcgan-cond.json").read_text())
    onnx = card["onnx"]
    assert card["name"] == "dcgan-cond" and card["source_checkpoint"].endswith("dcgan-cond.safetensors")
    assert card["train_config"]["conditional"] is True, "a shipped file's config comes from its own card"
    assert [i["name"] for i in onnx["inputs"]] == ["z", "labels"]
    assert onnx["inputs"][0]["shape"] == ["N", 100] and onnx["inputs"][1]["dtype"] == "int64"
    assert onnx["outputs"] == [{"name": "images", "shape": ["N", 1, 28, 28], "dtype": "float32", "value_range": [-1, 1],
                                "meaning": onnx["outputs"][0]["meaning"]}]
    assert onnx["opset"] == onnx_export.OPSET and onnx["value_range"] == [-1, 1]
    assert 0 <= onnx["checked"]["max_abs_difference"] <= 1e-4 and "labels" in onnx["how_to_sample"]
    infogan = json.loads((exported / "dcgan.json").read_text())["onnx"]
    infogan_codes = json.loads((exported / "dcgan.json").read_text())["train_config"]["info_codes"]
    assert [i["name"] for i in infogan["inputs"]] == ["z"] and "InfoGAN code" in infogan["inputs"][0]["meaning"]
    import onnx as onnx_package

    props = {p.key: p.value for p in onnx_package.load(exported / "dcgan.onnx").metadata_props}
    assert props["format"] == onnx_export.FORMAT_ONNX and props["info_codes"] == str(infogan_codes)


def test_export_refuses_other_suffixes_and_never_overwrites_its_source(tmp_path, capsys):
    source = tmp_path / "g.safetensors"
    shutil.copy(SHIPPED / "mlp.safetensors", source)
    shutil.copy(SHIPPED / "mlp.json", tmp_path / "g.json")
    before = source.read_bytes(), (tmp_path / "g.json").read_bytes()
    assert main(["export", str(source), "--out", str(tmp_path / "g.pt")]) == 2
    err = capsys.readouterr().err
    assert ".safetensors" in err and ".onnx" in err and "g.pt" in err
    for out in ("g.onnx", "g.safetensors"):  # its card would be g.json, the source's own card; or the source itself
        assert main(["export", str(source), "--out", str(tmp_path / out)]) == 2
        err = capsys.readouterr().err
        assert "would overwrite" in err and "pick another name" in err, err
    assert (source.read_bytes(), (tmp_path / "g.json").read_bytes()) == before
    assert not (tmp_path / "g.onnx").exists()


def test_export_without_the_onnx_packages_says_how_to_install_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` now fails, as where it is missing
    assert "onnxscript" in onnx_export.missing_packages()
    out = tmp_path / "g.onnx"
    assert main(["export", str(SHIPPED / "mlp.safetensors"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "onnxscript" in err and onnx_export.INSTALL in err and "bash scripts/bootstrap.sh" in err, err
    assert not out.exists() and not out.with_suffix(".json").exists()
    with pytest.raises(onnx_export.OnnxUnavailable, match="not installed"):
        onnx_export.onnx_model_bytes(load_generator(SHIPPED / "mlp.safetensors").generator)


def _readme_example() -> str:
    """The python block of README's section "Generators outside the app: ONNX", exactly as written there."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Generators outside the app: ONNX", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section holds one python example"
    return blocks[0]


@pytest.mark.parametrize("name", ["dcgan-cond", "mlp"])
def test_the_readme_example_samples_a_grid_without_torch(exported, tmp_path, name):
    from PIL import Image

    code = _readme_example()
    assert "dcgan-cond.onnx" in code and "torch" not in code
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(exported / f"{name}.onnx", folder / f"{name}.onnx")
    guard = "import sys\nsys.modules['torch'] = None  # any import of torch now fails\n"
    run = subprocess.run([sys.executable, "-c", guard + code.replace("dcgan-cond.onnx", f"{name}.onnx")], cwd=folder,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    grid = np.asarray(Image.open(folder / "grid.png"))
    assert grid.shape == (280, 280) and grid.dtype == np.uint8
    # The same latents through the library, tiled as the example says: a row of ten per class when conditional.
    g = load_generator(SHIPPED / f"{name}.safetensors").generator
    feed = {"z": np.random.default_rng(0).standard_normal((100, g.latent_dim), dtype=np.float32)}
    if g.num_classes:
        feed["labels"] = np.repeat(np.arange(10), 10)
    pixels = ((onnx_export.library_images(g, feed)[:, 0] + 1) * 127.5).round().clip(0, 255)
    tiled = pixels.reshape(10, 10, 28, 28).transpose(0, 2, 1, 3).reshape(280, 280)
    assert np.abs(grid.astype(np.int16) - tiled).max() <= 1
