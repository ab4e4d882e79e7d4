"""The files in weights/: they load, sample the right shapes, and reproduce their cards on a small sample."""


import numpy as np
import pytest
import torch

from gan_core import metrics
from gan_core.cards import recheck
from gan_core.catalog import DEFAULT_GENERATOR, shipped_generators
from gan_core.checkpoints import load_generator
from gan_core.classifier import embed, load_classifier
from gan_core.cli import main
from gan_core.data import load_split
from gan_core.paths import CLASSIFIER_PATH
from gan_core.sampling import generate
from tests.conftest import needs_data

SHIPPED = {e.path.stem: e for e in shipped_generators()}


def test_the_three_generators_and_the_classifier_are_shipped():
    assert {"dcgan", "dcgan-cond", "mlp"} <= set(SHIPPED)
    assert next(iter(SHIPPED)) == DEFAULT_GENERATOR == "dcgan-cond", "the default generator is listed first"
    assert CLASSIFIER_PATH.exists()
    for entry in SHIPPED.values():
        assert entry.path.stat().st_size < 10 * 2**20


@pytest.mark.parametrize("name", ["dcgan", "dcgan-cond", "mlp"])
def test_generator_loads_and_samples(name):
    loaded = load_generator(SHIPPED[name].path)
    x = generate(loaded.generator, 16, seed=1, label="Bag" if loaded.model.conditional else None)
    assert x.shape == (16, 1, 28, 28) and float(x.min()) >= -1 and float(x.max()) <= 1
    assert loaded.model.conditional == (name == "dcgan-cond")
    card = SHIPPED[name].card()
    for key in ("command", "step", "wall_time_s", "metrics", "real_data_floor", "quality_bar", "train_config"):
        assert key in card, key
    assert card["command"].startswith("python -m gan_core train")


@needs_data
@pytest.mark.parametrize("name", ["dcgan", "dcgan-cond", "mlp"])
def test_card_numbers_reproduce_on_a_small_sample(name):
    torch.set_num_threads(1)
    card = SHIPPED[name].card()["metrics"]
    g = load_generator(SHIPPED[name].path).generator
    r = metrics.evaluate_generator(g, n=1000, seed=0, memorization_n=200).to_dict()
    # FID reads a little higher on fewer samples; class shares and conditional accuracy barely move.
    assert abs(r["fid"] - card["fid"]) <= 0.25 * card["fid"] + 0.5, (r["fid"], card["fid"])
    for cls, share in card["class_shares"].items():
        assert abs(r["class_shares"][cls] - share) <= 0.05, cls
    if card["conditional_accuracy"] is not None:
        assert abs(r["conditional_accuracy"] - card["conditional_accuracy"]) <= 0.04


@pytest.mark.parametrize("name", ["dcgan", "dcgan-cond", "mlp"])
def test_card_verdicts_follow_from_its_numbers(name):
    card = SHIPPED[name].card()
    assert recheck(card["metrics"], card) == card["quality_bar"]


@needs_data
def test_evaluate_prints_the_cards_quality_bar_for_a_fresh_sample(capsys):
    torch.set_num_threads(1)
    assert main(["evaluate", str(SHIPPED["dcgan"].path), "--n", "500", "--threads", "1", "--recovery", "0"]) == 0
    out = capsys.readouterr().out
    assert "quality bar of its card, on this evaluation (n = 500)" in out
    rows = [line for line in out.splitlines() if line.startswith(("  PASS", "  MISS"))]
    checks = [c["check"] for c in SHIPPED["dcgan"].card()["quality_bar"]]
    assert [r.split(None, 1)[1][: len(c)] for r, c in zip(rows, checks, strict=True)] == checks
    assert "use --n 10000 to compare" in out


@needs_data
def test_a_single_repeated_image_is_one_class_and_far_from_real_data():
    torch.set_num_threads(1)
    clf = load_classifier()
    test = load_split("test", max_images=2000)
    real = test.to_tensor()
    one = real[:1].repeat(1000, 1, 1, 1)
    f_one, p_one = embed(clf, one)
    f_a, _ = embed(clf, real[:1000])
    f_b, _ = embed(clf, real[1000:2000])
    cov = metrics.class_coverage(p_one.argmax(1).numpy())
    assert cov.classes == 1 and cov.kl > 2.0
    real_fid = metrics.fid_from_features(f_a, f_b)
    assert metrics.fid_from_features(f_one, f_b) > 20 * max(real_fid, 0.1)
    assert np.isclose(cov.kl, np.log(10), atol=0.05)
