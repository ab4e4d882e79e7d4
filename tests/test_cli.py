"""The command line: each command's happy path through a subprocess, as a user runs it; messages and flags in-process.

A subprocess costs about 3 s of imports before it does anything, so argument handling and error messages go through
`gan_core.cli.main` in this process (conftest's `in_process`), which `python -m gan_core` only wraps in `sys.exit`.
"""

import json
import re
import subprocess
import sys

from gan_core.data import CLASS_NAMES
from gan_core.presets import DEFAULT_PRESET, preset_config
from tests.conftest import in_process, needs_data


def cli(*args, cwd=None, env_runs=None):
    import os

    env = dict(os.environ, PYTHONPATH=os.getcwd())
    if env_runs:
        env["GAN_STUDIO_RUNS"] = str(env_runs)
    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_help_for_every_command(capsys):
    for cmd in ("train", "sample", "info", "presets", "export", "arithmetic", "directions", "evaluate", "runs", "compare"):
        r = in_process(capsys, cmd, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout, cmd


def test_bad_flag_value_exits_nonzero_without_traceback(capsys):
    r = in_process(capsys, "train", "--batch-size", "0")
    assert r.returncode == 2
    assert "batch_size must be between 1 and 4096" in r.stderr
    assert "Traceback" not in r.stderr


def test_info_prints_report_001_totals():
    r = cli("info", "--preset", "compact-dcgan")
    assert r.returncode == 0
    assert "Total params: 1,340,929" in r.stdout and "Total params: 75,137" in r.stdout


def test_presets_lists_the_seed_systems():
    r = cli("presets")
    for name in ("studio", "tf-tutorial", "compact-dcgan", "ankle-boot", "mlp-gan"):
        assert name in r.stdout


@needs_data
def test_train_then_sample(tmp_path, capsys):
    r = cli("train", "--preset", "studio", "--max-images", "128", "--batch-size", "32", "--epochs", "1",
            "--width", "0.25", "--name", "clirun", "--runs-root", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "finished" in r.stdout
    assert "img_s" in r.stderr  # the tqdm bar
    run = tmp_path / "clirun"
    assert (run / "progress.gif").exists() and (run / "metrics.csv").exists()
    out = tmp_path / "grid.png"
    r = cli("sample", str(run), "--n", "9", "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 100
    r = in_process(capsys, "sample", str(run), "--class", "Bag")
    assert r.returncode == 2 and "unconditional" in r.stderr
    r = in_process(capsys, "train", "--resume", str(run), "--epochs", "2")
    assert r.returncode == 0, r.stderr
    assert "finished 8 steps" in r.stdout


@needs_data
def test_train_without_a_preset_uses_the_default_preset(tmp_path, capsys):
    r = in_process(capsys, "train", "--max-images", "64", "--batch-size", "32", "--max-steps", "2", "--width", "0.25",
                   "--name", "defaults", "--runs-root", str(tmp_path))
    assert r.returncode == 0, r.stderr
    saved = json.loads((tmp_path / "defaults" / "config.json").read_text())
    expected = preset_config(DEFAULT_PRESET)
    assert saved["preset"] == DEFAULT_PRESET
    assert (saved["lr_g"], saved["conditional"], saved["grid_size"]) == (expected.lr_g, expected.conditional,
                                                                        expected.grid_size)
    assert saved["lr_anneal_steps"] == expected.lr_anneal_steps > 0, "the default anneals its rates within the run"
    assert "learning rates now: G 2.00e-03, D 2.00e-03, annealing along a half cosine to 0.1 of them at step 9,370" \
        in r.stderr, "the start line names the rates and their anneal"


@needs_data
def test_sigterm_saves_a_checkpoint_and_stops_like_ctrl_c(tmp_path):
    import os
    import signal
    import time

    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-m", "gan_core", "train", "--preset", "studio", "--max-images", "256",
                             "--batch-size", "32", "--epochs", "100000", "--width", "0.25", "--threads", "1",
                             "--checkpoint-every", "0", "--name", "termed", "--runs-root", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    metrics = tmp_path / "termed" / "metrics.csv"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") > 2):
        assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped: stopped at step" in out and "saving a checkpoint" in err
    assert list((tmp_path / "termed" / "checkpoints").glob("step_*.safetensors")), "the stop saved no checkpoint"


def test_sample_from_a_non_weights_file(tmp_path, capsys):
    bogus = tmp_path / "x.safetensors"
    bogus.write_text("hello")
    r = in_process(capsys, "sample", str(bogus))
    assert r.returncode == 2 and "not a readable safetensors file" in r.stderr and "Traceback" not in r.stderr


def test_sample_by_code_prints_what_each_code_makes(tmp_path, capsys):
    from PIL import Image

    from gan_core.checkpoints import load_generator

    k = load_generator("weights/generators/dcgan.safetensors").generator.cfg.info_codes
    out = tmp_path / "codes.png"
    r = in_process(capsys, "sample", "weights/generators/dcgan.safetensors", "--by-code", "--n", str(3 * k), "--scale",
                   "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = "|".join(re.escape(c) for c in CLASS_NAMES)
    rows = r.stdout.splitlines()[:k]
    assert all(re.fullmatch(rf"code {i}: ({names}) in [123] of 3", row) for i, row in enumerate(rows)), rows
    assert any(row.endswith("in 3 of 3") for row in rows), "the trained code should make one class in some row"
    assert Image.open(out).size == (3 * 28 + 4 * 2, k * 28 + (k + 1) * 2)  # 3 columns, k rows of 28 px, 2 px gaps
    r = in_process(capsys, "sample", "weights/generators/dcgan-cond.safetensors", "--by-code")
    assert r.returncode == 2 and "InfoGAN code" in r.stderr and "Traceback" not in r.stderr


def test_directions_writes_one_labelled_row_per_direction(tmp_path):
    from PIL import Image

    out, gif = tmp_path / "strips.png", tmp_path / "walk.gif"
    r = cli("directions", "weights/generators/dcgan-cond.safetensors", "--method", "sefa", "--k", "3", "--scale", "1",
            "--sigmas=-2,0,2", "--class", "Trouser", "--out", str(out), "--gif", str(gif))
    assert r.returncode == 0, r.stderr
    assert "1. SeFa 1 (eigenvalue share" in r.stdout and "drawn as Trouser" in r.stdout
    width, height = Image.open(out).size
    assert height == 3 * 28 + 4 * 2 and width > 3 * 28 + 4 * 2  # 3 rows, 3 columns, a margin of row names
    assert gif.read_bytes()[:4] == b"GIF8"


def test_sample_with_truncation_and_bad_direction_inputs_exit_2(tmp_path, capsys):
    out = tmp_path / "trunc.png"
    r = in_process(capsys, "sample", "weights/generators/dcgan.safetensors", "--n", "4", "--truncation", "0.5", "--out", str(out))
    assert r.returncode == 0 and out.exists() and "truncation ψ = 0.5" in r.stdout, r.stderr
    for args, message in [
        (("directions", "weights/generators/dcgan.safetensors", "--method", "ica"), "unknown direction method 'ica'"),
        (("directions", "weights/generators/dcgan.safetensors", "--method", "class"), "needs --from CLASS and --to CLASS"),
        (("sample", "weights/generators/dcgan.safetensors", "--truncation", "0"), "truncation ψ must be in (0, 1]"),
        (("sample", "weights/generators/dcgan.safetensors", "--truncation", "1.5"), "truncation ψ must be in (0, 1]"),
    ]:
        r = in_process(capsys, *args, "--out", str(tmp_path / "x.png"))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


@needs_data
def test_arithmetic_writes_the_operands_and_both_results_and_measures_them(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "sum.png"
    r = cli("arithmetic", "weights/generators/dcgan-cond.safetensors", "--preset", "sandal + sneaker", "--scale", "1",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "A + B with Sandal, Sneaker" in r.stdout
    assert "decoded with the sum of the operands' labels: +1·Sandal, +1·Sneaker" in r.stdout
    assert re.search(r"^latent space: classifier: .* the real manifold$", r.stdout, re.M), r.stdout
    assert re.search(r"^pixel space:  classifier: ", r.stdout, re.M), r.stdout
    width, height = Image.open(out).size
    assert width == 4 * 28 + 5 * 2 and height > 28 + 2 * 2  # A, B, latent and pixel results, with a row of names

    r = in_process(capsys, "arithmetic", "weights/generators/dcgan-cond.safetensors", "--op", "A-B+C", "--classes",
            "Ankle boot,Sneaker,Sandal", "--first-label", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "A − B + C with Ankle boot, Sneaker, Sandal" in r.stdout
    assert "decoded with operand A's label alone: +1·Ankle boot" in r.stdout


def test_arithmetic_inputs_that_cannot_work_exit_2(tmp_path, capsys):
    for args, message in [
        (("--preset", "nope"), "unknown preset 'nope': choose one of pullover − t-shirt;"),
        (("--op", "A + B", "--classes", "Bag"), "A + B takes 2 classes, got 1"),
        (("--op", "A + B", "--classes", "Bag,Hat"), "unknown class 'Hat'"),
        (("--op", "A + B"), "give --preset NAME, or --op and --classes"),
        (("--preset", "sandal + sneaker", "--op", "A + B"), "leave out --op and --classes"),
        (("--op", "A * B", "--classes", "Bag,Coat"), "unknown operation 'A * B'"),
    ]:
        r = in_process(capsys, "arithmetic", "weights/generators/dcgan-cond.safetensors", *args, "--out",
                       str(tmp_path / "x.png"))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    r = in_process(capsys, "arithmetic", "weights/generators/dcgan.safetensors", "--preset", "sandal + sneaker",
                   "--first-label")
    assert r.returncode == 2 and "--first-label is for class-conditional generators" in r.stderr


def test_sample_interpolates_and_blends_a_conditional_label(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "strip.png"
    r = in_process(capsys, "sample", "weights/generators/dcgan-cond.safetensors", "--interpolate", "5", "--n", "6",
                   "--class", "Sandal", "--to-class", "Sneaker", "--scale", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "z(seed 0) → z(seed 5), the label blended from Sandal to Sneaker" in r.stdout
    assert Image.open(out).size == (6 * 28 + 7 * 2, 28 + 2 * 2)  # one row of 6
    r = in_process(capsys, "sample", "weights/generators/dcgan.safetensors", "--interpolate", "5", "--n", "4", "--out",
                   str(out))
    assert r.returncode == 0 and r.stdout.rstrip().endswith("z(seed 0) → z(seed 5))"), r.stderr
    for args, message in [
        (("weights/generators/dcgan.safetensors", "--interpolate", "5", "--to-class", "Bag"), "this generator is unconditional"),
        (("weights/generators/dcgan-cond.safetensors", "--to-class", "Bag"), "give --interpolate SEED_B too"),
        (("weights/generators/dcgan-cond.safetensors", "--interpolate", "5", "--n", "500"), "2 to 100 images"),
        (("weights/generators/dcgan-cond.safetensors", "--interpolate", "5", "--by-class"), "makes its own strip"),
    ]:
        r = in_process(capsys, "sample", *args, "--out", str(tmp_path / "x.png"))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
