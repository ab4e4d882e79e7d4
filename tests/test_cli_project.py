"""`project` and `arithmetic --latents` on real test images and the shipped generators.

Few images and few steps: these check the plumbing (what is written, in which order, what decodes to what),
not how close a projection comes (benchmarks/projection.py measures that).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.checkpoints import load_generator
from gan_core.cli import main
from gan_core.data import CLASS_NAMES, load_split
from gan_core.projection import decode, pixel_l2, read_latents
from tests.conftest import in_process, needs_data
from tests.test_cli import cli

COND, INFO = "weights/generators/dcgan-cond.safetensors", "weights/generators/dcgan.safetensors"
pytestmark = needs_data


def _garment_png(path):
    """A dark T-shirt shape on a light background, as a phone photo of a garment on paper would be."""
    from PIL import ImageDraw

    img = Image.new("RGB", (120, 140), (235, 235, 230))
    ImageDraw.Draw(img).polygon([(30, 20), (90, 20), (110, 50), (95, 60), (90, 130), (30, 130), (25, 60), (10, 50)],
                                fill=(40, 40, 60))
    img.save(path)
    return path


def _decodes_to_its_error(weights, latents) -> None:
    """G in eval mode decodes the file's (z, labels) into the reconstruction whose L2 the file records."""
    g = load_generator(weights).generator.eval()
    rec = decode(g, latents.z, latents.labels)
    torch.testing.assert_close(pixel_l2(rec, latents.targets), latents.error, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    """Test images 0, 5 and 6 projected into dcgan-cond through a subprocess, as a user runs it."""
    d = tmp_path_factory.mktemp("projected")
    out, png = d / "latents.safetensors", d / "recon.png"
    r = cli("project", COND, "--test-index", "0,5-6", "--out", str(out), "--png", str(png), "--steps", "40")
    return r, out, png


def test_project_is_a_command_with_its_flags(capsys):
    from gan_core.cli import build_parser

    assert "project" in build_parser().format_help()
    r = in_process(capsys, "project", "--help")
    assert r.returncode == 0 and all(f in r.stdout for f in ("--test-index", "--train-index", "--image", "--search-class"))


def test_project_dataset_images_writes_latents_that_decode_to_the_reported_error(projected):
    r, out, png = projected
    assert r.returncode == 0, r.stderr
    test = load_split("test")
    f = read_latents(out)
    assert f.z.shape == (3, 100) and f.z.dtype == torch.float32
    assert f.labels is not None and f.labels.dtype == torch.int64
    assert f.labels.tolist() == test.labels[[0, 5, 6]].tolist()  # dataset images keep their own labels
    assert [s.split(" · ")[0] for s in f.sources] == ["test[0]", "test[5]", "test[6]"]
    expected = torch.from_numpy(test.images[[0, 5, 6]].astype(np.float32) / 127.5 - 1).unsqueeze(1)
    torch.testing.assert_close(f.targets, expected, atol=0, rtol=0)
    _decodes_to_its_error(COND, f)
    # one line per image, in source order, with its L2, |z| and given class; then the summary
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("  test[")]
    assert len(lines) == 3
    for line, source, err, z, y in zip(lines, f.sources, f.error, f.z, f.labels, strict=True):
        assert line.startswith(f"  {source}: L2 {float(err):.2f} · |z| = {float(z.norm()) / math.sqrt(100):.2f} √d")
        assert f"as {CLASS_NAMES[int(y)]} (given)" in line and "classifier: " in line
    assert "pixels in [0, 1]" in r.stdout
    assert re.search(r"^median L2 \d+\.\d\d · \d+\.\d\d s per image$", r.stdout, re.M), r.stdout
    assert r.stdout.rstrip().endswith(f"wrote {out}")
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("projecting: ")]
    assert 1 <= len(progress) <= 9, r.stderr
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 3 * 3 * 28 and img.height > 2 * 3 * 28  # 3 columns, 2 rows, ×3


def test_project_an_image_file_after_a_dataset_image_keeps_their_order(tmp_path):
    """The dataset image keeps its label and the file's is chosen: two projections, put back in source order."""
    shirt = _garment_png(tmp_path / "shirt.png")
    out = tmp_path / "new" / "folder" / "x.safetensors"  # missing folders are made
    assert main(["project", COND, "--image", str(shirt), "--test-index", "0", "--out", str(out), "--steps", "20"]) == 0
    f = read_latents(out)
    assert [s.split(" · ")[0] for s in f.sources] == ["test[0]", "shirt.png"]
    assert f.labels is not None and int(f.labels[0]) == int(load_split("test").labels[0])
    _decodes_to_its_error(COND, f)  # the merged rows kept z, label and target together


def test_project_reports_the_chosen_class_of_an_image(tmp_path, capsys):
    shirt = _garment_png(tmp_path / "shirt.png")
    out = tmp_path / "x.safetensors"
    assert main(["project", COND, "--image", str(shirt), "--out", str(out), "--steps", "20"]) == 0
    f = read_latents(out)
    assert f.sources == ("shirt.png",) and f.labels is not None and f.labels.shape == (1,)
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  shirt.png: "))
    assert f"as {CLASS_NAMES[int(f.labels[0])]} (chosen)" in line


def test_project_with_an_infogan_generator_reads_the_code_off_z(tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    assert main(["project", INFO, "--train-index", "3-4", "--out", str(out), "--steps", "20"]) == 0
    f = read_latents(out)
    assert f.labels is None and [s.split(" · ")[0] for s in f.sources] == ["train[3]", "train[4]"]
    _decodes_to_its_error(INFO, f)  # G(z) with no code given: the code is z's own
    codes = f.z[:, : load_generator(INFO).generator.cfg.info_codes].argmax(1).tolist()
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  train[")]
    assert [re.search(r"· code (\d+)", ln).group(1) for ln in lines] == [str(c) for c in codes]


def test_project_inputs_that_cannot_work_exit_2(tmp_path, capsys):
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"not a picture at all")
    out = str(tmp_path / "x.safetensors")
    for args, message in [
        ((COND,), "nothing to project: give --test-index, --train-index and/or --image"),
        ((COND, "--test-index", "5-2"), "the range '5-2' runs backwards: write the smaller index first"),
        ((COND, "--test-index", "0,10000"), "index 10000 is outside the split's 0..9999"),
        ((COND, "--train-index", "x"), "'x' is not an index or a range"),
        ((INFO, "--test-index", "0", "--class", "Coat"), "this generator is unconditional"),
        ((COND, "--test-index", "0", "--class", "Hat"), "unknown class 'Hat'"),
        ((COND, "--test-index", "0", "--class", "Coat", "--search-class"), "pick one"),
        ((COND, "--image", str(junk)), "'notes.png' is not an image"),
        ((COND, "--image", str(tmp_path / "gone.png")), "cannot read"),
        ((COND, "--test-index", "0", "--steps", "0"), "--steps: projection steps must be an integer in [1, 5000]"),
        ((COND, "--test-index", "0", "--png", out), "--out and --png name the same file"),
    ]:
        assert main(["project", *args, "--out", out]) == 2, args
        err = capsys.readouterr().err
        assert message in err, (args, err)
    assert not (tmp_path / "x.safetensors").exists()
    assert main(["project", COND, "--test-index", "0", "--out", str(tmp_path)]) == 2
    assert "is a folder: give a file name" in capsys.readouterr().err


def _cells(png_path, n: int) -> np.ndarray:
    """The n images of a one-row labelled PNG written with --scale 1 (the row of names sits below them)."""
    a = np.asarray(Image.open(png_path).convert("L"))
    return np.stack([a[2:30, 2 + 30 * i : 30 + 30 * i] for i in range(n)])


def test_arithmetic_of_projected_garments(projected, tmp_path, capsys):
    from gan_core.arithmetic import Operand, arithmetic
    from gan_core.images import scale_to_unit, to_uint8

    _, latents, _ = projected
    out = tmp_path / "sum.png"
    r = in_process(capsys, "arithmetic", COND, "--latents", str(latents), "--op", "A - B + C", "--scale", "1", "--out",
                   str(out))
    assert r.returncode == 0, r.stderr
    f = read_latents(latents)
    for name, source, err in zip("ABC", f.sources, f.error, strict=True):
        assert f"  {name}: {source} (row {'ABC'.index(name)}), its reconstruction at L2 {float(err):.2f}" in r.stdout
    assert "latent space: G(ẑA − ẑB + ẑC); pixel space: xA − xB + xC" in r.stdout
    assert re.search(r"^latent space: classifier: ", r.stdout, re.M) and re.search(r"^pixel space:  ", r.stdout, re.M)
    assert "more garment-like: " in r.stdout

    g = load_generator(COND).generator
    ops = [Operand.of_real(f.z[i], f.targets[i], f.sources[i], label=int(f.labels[i]), sign=s, position=i)
           for i, s in enumerate((1, -1, 1))]
    res = arithmetic(g, ops, renormalize=True)
    assert torch.equal(res.pixel_result_raw[0], f.targets[0] - f.targets[1] + f.targets[2])  # the real images
    # the PNG: each operand real and reconstructed, then the latent result and the min-max-rescaled pixel sum
    rec = decode(g, f.z, f.labels)
    want = to_uint8(torch.cat([torch.stack([f.targets[0], rec[0], f.targets[1], rec[1], f.targets[2], rec[2]]),
                               res.latent_result, scale_to_unit(res.pixel_result_raw)]))
    np.testing.assert_array_equal(_cells(out, 8), want)


def test_arithmetic_takes_the_rows_asked_for(projected, tmp_path, capsys):
    _, latents, _ = projected
    f = read_latents(latents)
    assert main(["arithmetic", COND, "--latents", str(latents), "--op", "A + B", "--rows", "2,0", "--first-label",
                 "--out", str(tmp_path / "s.png")]) == 0
    text = capsys.readouterr().out
    assert f"  A: {f.sources[2]} (row 2)" in text and f"  B: {f.sources[0]} (row 0)" in text
    assert f"decoded with operand A's label alone: +1·{CLASS_NAMES[int(f.labels[2])]}" in text


def test_arithmetic_latents_that_cannot_work_exit_2(projected, tmp_path, capsys):
    _, latents, _ = projected
    out = str(tmp_path / "x.png")
    for args, message in [
        ((COND, "--latents", str(latents), "--op", "A + B", "--preset", "sandal + sneaker"),
         "--latents takes its operands from the file: leave out --preset and --classes"),
        ((COND, "--latents", str(latents), "--op", "A + B", "--classes", "Bag,Coat"), "leave out --preset and --classes"),
        ((COND, "--latents", str(latents)), "--latents needs the sum: add --op"),
        ((COND, "--latents", str(latents), "--op", "A + B", "--rows", "0,3"), "row 3 is outside the file's 0..2"),
        ((COND, "--latents", str(latents), "--op", "A - B + C", "--rows", "0,1"), "A − B + C takes 3 rows, got 2"),
        ((COND, "--op", "A + B", "--classes", "Bag,Coat", "--rows", "0,1"), "give --latents FILE too"),
        ((INFO, "--latents", str(latents), "--op", "A + B"),
         "the latents were projected with a conditional generator; this one is unconditional"),
        ((COND, "--latents", COND, "--op", "A + B"), "is not a latents file of `python -m gan_core project`"),
        ((COND, "--latents", str(tmp_path / "none.safetensors"), "--op", "A + B"), "no such latents file"),
    ]:
        assert main(["arithmetic", *args, "--out", out]) == 2, args
        err = capsys.readouterr().err
        assert message in err, (args, err)


def test_arithmetic_needs_as_many_rows_as_operands(tmp_path, capsys):
    one = tmp_path / "one.safetensors"
    assert main(["project", INFO, "--test-index", "1", "--out", str(one), "--steps", "5"]) == 0
    capsys.readouterr()
    assert main(["arithmetic", INFO, "--latents", str(one), "--op", "A - B", "--out", str(tmp_path / "x.png")]) == 2
    assert "holds 1 projected image; A − B needs 2: project more images" in capsys.readouterr().err
