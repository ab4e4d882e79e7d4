"""The classifier and the metrics: real data scores near its floor, collapse is caught, the CLI reports both."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_core import metrics
from gan_core.classifier import ClassifierError, classifier_card, embed, load_classifier, predict
from gan_core.config import TrainConfig
from gan_core.data import load_split
from gan_core.models import build_generator
from gan_core.training import Trainer
from tests.conftest import needs_data

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ref():
    return metrics.reference()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    # Two epochs = two checkpoints; eval_every makes the trainer call quick_evaluate as a real run does.
    cfg = TrainConfig(name="tiny-eval", width=0.25, max_images=128, batch_size=32, epochs=2, sample_every=0, log_every=1,
                      grid_size=16, threads=1, seed=5, eval_every=4, eval_samples=100)
    snap = Trainer(cfg, runs_root=root).run()
    assert snap.status == "finished", snap.message
    assert [r["fid"] for r in snap.history if "fid" in r], "the trainer logged no FID"
    return Path(snap.run_dir)


# ----------------------------------------------------------------------------- pure metrics
def test_fid_matches_the_closed_form_for_gaussians():
    # Diagonal covariances: FID = |mu1 - mu2|² + Σ (sqrt(a) - sqrt(b))², exactly.
    mu1, mu2 = torch.zeros(4, dtype=torch.float64), torch.tensor([1.0, 0, 2, 0], dtype=torch.float64)
    a, b = torch.tensor([1.0, 4, 9, 0.25]), torch.tensor([4.0, 4, 1, 1])
    expected = 5 + float(((a.sqrt() - b.sqrt()) ** 2).sum())
    assert metrics.fid_from_stats(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, abs=1e-9)
    # A full (non-diagonal) covariance against itself gives 0, and shifting the mean by m adds |m|².
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 6, generator=g, dtype=torch.float64)
    s = s @ s.T
    assert metrics.fid_from_stats(mu1[:1].repeat(6), s, mu1[:1].repeat(6) + 0.5, s) == pytest.approx(6 * 0.25, abs=1e-6)


def test_precision_recall_on_shifted_gaussians():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(1000, 8, generator=g)
    same = torch.randn(1000, 8, generator=g)
    p, r = metrics.precision_recall(real, same, k=3)
    assert p > 0.85 and r > 0.85
    p, r = metrics.precision_recall(real, same + 20, k=3)
    assert p == 0 and r == 0
    # A generator that covers only the centre: faithful (high precision) but not diverse (low recall).
    narrow = 0.2 * torch.randn(1000, 8, generator=g)
    p, r = metrics.precision_recall(real, narrow, k=3)
    assert p > 0.9 and r < 0.3
    with pytest.raises(ValueError, match="k must be"):
        metrics.precision_recall(real[:3], same[:3], k=3)


def test_class_coverage_counts_and_kl():
    even = metrics.class_coverage(np.arange(1000) % 10)
    assert even.classes == 10 and even.kl == pytest.approx(0, abs=1e-12)
    one = metrics.class_coverage(np.full(100, 3))
    assert one.classes == 1 and one.kl == pytest.approx(math.log(10)) and one.shares[3] == 1
    sub = metrics.class_coverage([9, 9, 8, 8, 0], classes=("Bag", "Ankle boot"))
    assert (sub.classes, sub.of) == (2, 2) and sub.off_target == pytest.approx(0.2) and sub.kl == pytest.approx(0)


# ----------------------------------------------------------------------------- the classifier
@needs_data
def test_classifier_reaches_its_recorded_accuracy():
    card = classifier_card()
    assert card["test_accuracy"] >= 0.92 and card["test_images"] == 10_000
    clf = load_classifier()
    assert load_classifier() is clf and not clf.training
    # A seeded random slice: the first 1,000 test images are easier than the split (95.0 % vs 93.3 %).
    test = load_split("test")
    idx = np.sort(np.random.default_rng(0).choice(len(test), 1000, replace=False))
    x = test.to_tensor()[idx]
    acc = float((predict(clf, x) == torch.tensor(test.labels[idx])).float().mean())
    assert abs(acc - card["test_accuracy"]) <= 0.015, (acc, card["test_accuracy"])


def test_missing_or_corrupt_classifier_says_how_to_rebuild(tmp_path):
    with pytest.raises(ClassifierError, match="python -m gan_core train-classifier") as exc:
        load_classifier(tmp_path / "nope.safetensors")
    assert "nope.safetensors" in str(exc.value)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ClassifierError, match="not a readable safetensors"):
        load_classifier(bad)


# ----------------------------------------------------------------------------- real data vs collapse
@needs_data
def test_real_vs_real_is_near_zero_and_covers_every_class(ref):
    real = load_split("train", max_images=1000).to_tensor()  # training images: not in the test reference
    feats, probs = embed(load_classifier(), real)
    ref_feats = ref.feats[ref.half_a]
    fid_real = metrics.fid_from_features(feats, ref_feats)
    cov = metrics.class_coverage(probs.argmax(1).numpy())
    assert cov.classes == 10 and cov.kl < 0.05
    assert fid_real < 2.0

    one = real[:1].repeat(500, 1, 1, 1)  # a generator that always draws the same image
    f1, p1 = embed(load_classifier(), one)
    cov1 = metrics.class_coverage(p1.argmax(1).numpy())
    assert cov1.classes == 1 and cov1.kl == pytest.approx(math.log(10))
    assert metrics.fid_from_features(f1, ref_feats) > 20 * max(fid_real, 0.5)
    assert metrics.inception_score(p1) < 1.1 < 5 < metrics.inception_score(probs)


@needs_data
def test_real_floor_for_a_class_subset():
    floor = metrics.real_floor(("Trouser", "Bag"), memorization_n=100)
    assert floor.kind == "real" and floor.classes == ("Trouser", "Bag") and floor.n == floor.reference_n == 1000
    assert floor.coverage_of == 2 and floor.coverage_classes == 2 and floor.off_target_share < 0.02
    assert floor.fid < 2.0 and floor.precision > 0.6 and floor.recall > 0.6
    assert floor.conditional_accuracy > 0.97  # trousers and bags are the easy classes
    assert 0 < floor.memorization_median < 8
    # Real unseen images are as far from the training set as training images are from each other: no copies.
    assert 0.8 < floor.copy_ratio_median < 2.5 and floor.copy_share <= 0.03  # trousers: a dense, near-duplicate class
    table = floor.table(floor)
    assert "real-data floor" in table and metrics.FID_LABEL in table
    assert f"Precision (k=3, n={floor.pr_n:,})" in table and f"Copies of training images (n={floor.memorization_n:,})" in table


# ----------------------------------------------------------------------------- memorization
def _blurred(x: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16  # a 3x3 Gaussian blur
    return torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), kernel[None, None])


@needs_data
def test_dark_or_blurry_real_images_are_not_copies_but_training_images_are():
    test, train = load_split("test"), load_split("train")
    idx = np.sort(np.random.default_rng(3).choice(len(test), 200, replace=False))
    real = torch.from_numpy(test.images[idx].astype(np.float32) / 127.5 - 1).unsqueeze(1)
    seen = torch.from_numpy(train.images[idx].astype(np.float32) / 127.5 - 1).unsqueeze(1)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    blobs = torch.stack([-1 + a * torch.exp(-((yy - 14) ** 2 + (xx - 14) ** 2) / 40) for a in (0.3, 0.6, 0.9)])[:, None]
    for name, images in {"darkened": real * 0.3, "blurred": _blurred(real), "dark blobs": blobs}.items():
        nov = metrics.training_novelty(images)
        assert not nov.copies.any(), (name, nov.ratio.min())
        assert np.median(nov.ratio) > 0.8, name
    copies = metrics.training_novelty(seen)
    assert copies.copies.all() and copies.distance.max() < 0.05  # 0 up to float error
    mem = metrics.memorization(seen, 100, 0)
    assert mem.copy_share == 1 and mem.median_ratio < 0.01
    assert metrics.memorization(real * 0.3, 100, 0).copy_share == 0


@needs_data
def test_image_checks_tell_a_garment_from_noise():
    train = load_split("train", max_images=20)
    real = train.to_tensor()
    noise = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    checks = metrics.image_checks(torch.cat([real, noise]))
    garments, static = checks[:20], checks[20:]
    assert sum(c.cls == int(y) for c, y in zip(garments, train.labels, strict=True)) >= 18
    assert all(c.ratio < 0.01 and "a copy of a training image" in c.describe() for c in garments)
    assert sum(c.on_manifold for c in garments) >= 14  # real images score a precision of about 0.8
    assert not any(c.on_manifold for c in static) and min(c.ratio for c in static) > 1.2  # real: median 1.1
    assert all(0 < c.confidence <= 1 and c.describe().startswith(f"classifier: {c.class_name}") for c in checks)


# ----------------------------------------------------------------------------- generators
@needs_data
def test_quick_evaluate_keys_and_leaves_the_rng_alone(tiny_run):
    from gan_core.checkpoints import load_generator

    g = load_generator(tiny_run).generator
    g.train()
    metrics.reference()  # warm, so the measurement below is the trainer's steady state
    state = torch.get_rng_state()
    out = metrics.quick_evaluate(g, n=300, seed=1, classes=())
    assert torch.equal(torch.get_rng_state(), state)
    assert g.training  # mode restored
    assert set(out) == {"fid", "coverage_classes", "coverage_kl"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    assert out == metrics.quick_evaluate(g, n=300, seed=1, classes=())  # same seed, same numbers


@needs_data
def test_conditional_generator_reports_conditional_accuracy():
    cfg = TrainConfig(width=0.25, conditional=True)
    torch.manual_seed(0)
    g = build_generator(cfg.model_config())
    report = metrics.evaluate_generator(g, n=200, seed=0, classes=("Sneaker", "Bag"), memorization_n=50, label="untrained")
    assert report.conditional_accuracy is not None and 0 <= report.conditional_accuracy <= 1
    assert report.classes == ("Sneaker", "Bag") and report.coverage_of == 2
    d = report.to_dict()
    assert d["fid_label"] == metrics.FID_LABEL and set(d["class_shares"]) >= {"Sneaker", "Bag"}


# ----------------------------------------------------------------------------- the command line
def _cli(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


@needs_data
def test_evaluate_cli_writes_json_with_the_floor(tiny_run, tmp_path):
    out = tmp_path / "eval.json"
    r = _cli("evaluate", str(tiny_run), "--n", "500", "--recovery", "0", "--json", str(out))  # recovery: test_recovery.py
    assert r.returncode == 0, r.stderr
    assert metrics.FID_LABEL in r.stdout and "real-data floor" in r.stdout
    data = json.loads(out.read_text())
    assert set(data) == {"source", "report", "floor"}
    for part in ("report", "floor"):
        assert {"fid", "fid_label", "inception_score", "precision", "recall", "coverage_classes", "coverage_kl",
                "class_shares", "memorization_median", "copy_share", "copy_ratio_median"} <= set(data[part])
    assert data["report"]["n"] == 500 and data["floor"]["kind"] == "real"
    assert data["floor"]["fid"] < data["report"]["fid"]  # a 4-step generator is far from real clothes


@needs_data
def test_evaluate_all_checkpoints_names_the_best(tiny_run, tmp_path, capsys):
    from gan_core.cli import main

    out = tmp_path / "sweep.json"
    assert main(["evaluate", str(tiny_run), "--all-checkpoints", "--n", "200", "--json", str(out)]) == 0
    stdout = capsys.readouterr().out
    data = json.loads(out.read_text())
    steps = [c["step"] for c in data["checkpoints"]]
    assert len(steps) >= 2 and data["best"]["step"] in steps
    assert data["best"]["fid"] == min(c["fid"] for c in data["checkpoints"])
    assert f"best checkpoint by {metrics.FID_LABEL}: step {data['best']['step']:,}" in stdout


def test_evaluate_errors_exit_2_with_a_message(tmp_path, capsys, monkeypatch):
    from gan_core.cli import main

    assert main(["evaluate", str(tmp_path / "missing-run")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--n", "5"]) == 2
    assert "--n must be between" in capsys.readouterr().err
    monkeypatch.setenv("GAN_STUDIO_CLASSIFIER", str(tmp_path / "gone.safetensors"))
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "python -m gan_core train-classifier" in capsys.readouterr().err
