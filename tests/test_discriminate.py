"""The discriminator test on a tiny real run: scores, accuracy, AUC, and the CLI."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gan_core.checkpoints import load_generator, save_generator
from gan_core.config import TrainConfig
from gan_core.data import load_split
from gan_core.discriminate import discriminator_test, real_test_set, roc_auc
from gan_core.training import Trainer
from tests.conftest import in_process, needs_data


def test_roc_auc_matches_counting_pairs():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1, 1], [1, 1]) == 0.5
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.5, 1, 200).round(1), rng.normal(0, 1, 150).round(1)  # rounding makes ties
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert roc_auc(pos, neg) == pytest.approx(pairs, abs=1e-12)
    with pytest.raises(ValueError, match="at least one"):
        roc_auc([], [1.0])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(name="tiny-cond", width=0.25, conditional=True, max_images=128, batch_size=32, epochs=1,
                      sample_every=0, log_every=1, grid_size=16, threads=1, seed=5)
    snap = Trainer(cfg, runs_root=root).run()
    assert snap.status == "finished", snap.message
    return root / "tiny-cond"


@needs_data
def test_report_on_a_real_checkpoint(tiny_run):
    loaded = load_generator(tiny_run, with_discriminator=True)
    assert loaded.discriminator is not None and loaded.generator.num_classes == 10
    real, labels, classes = real_test_set(loaded)
    assert classes == () and len(real) == 10_000
    report = discriminator_test(loaded, real, labels, n=200, seed=1)
    assert len(report.scores_real) + len(report.scores_fake) == 400
    assert np.isfinite(report.scores_real).all() and np.isfinite(report.scores_fake).all()
    assert 0.0 <= report.roc_auc <= 1.0 and 0.0 <= report.accuracy <= 1.0
    assert report.accuracy == pytest.approx((report.accuracy_real + report.accuracy_fake) / 2)
    edges, real_c, fake_c = report.histograms(15)
    assert len(edges) == 16 and real_c.sum() == fake_c.sum() == 200
    again = discriminator_test(loaded, real, labels, n=200, seed=1)
    assert np.array_equal(again.scores_real, report.scores_real) and np.array_equal(again.scores_fake, report.scores_fake)
    with pytest.raises(ValueError, match="class-conditional: pass the real images' labels"):
        discriminator_test(loaded, real, None, n=10)
    with pytest.raises(ValueError, match="n must be between 1 and the 10000"):
        discriminator_test(loaded, real, labels, n=10_001)


@needs_data
def test_a_generator_without_discriminator_is_refused(tiny_run):
    loaded = load_generator(tiny_run)  # G only
    test = load_split("test", max_images=50)
    with pytest.raises(ValueError, match="discriminator lives in training checkpoints"):
        discriminator_test(loaded, test.to_tensor(), test.labels, n=10)


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-m", "gan_core", "discriminate", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@needs_data
def test_cli_prints_accuracy_auc_and_histogram(tiny_run):
    r = _cli(str(tiny_run), "--n", "300", "--seed", "2", "--bins", "8")
    assert r.returncode == 0, r.stderr
    assert "accuracy at threshold 0:" in r.stdout and "ROC AUC:" in r.stdout
    assert "300 real test images (all classes) vs 300 generated" in r.stdout
    auc = float(r.stdout.split("ROC AUC:")[1].split()[0])
    assert 0.0 <= auc <= 1.0
    assert len([line for line in r.stdout.splitlines() if line.startswith("[")]) == 8


@needs_data
def test_cli_on_a_generator_only_file_exits_2_and_says_where_d_lives(tiny_run, tmp_path, capsys):
    out = tmp_path / "g.safetensors"
    save_generator(out, load_generator(tiny_run).generator, {"name": "g"})
    r = in_process(capsys, "discriminate", str(out))
    assert r.returncode == 2
    assert "holds a generator only" in r.stderr and "training checkpoints" in r.stderr
    assert "Traceback" not in r.stderr
