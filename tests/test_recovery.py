"""Latent recovery: its numbers, the images it picks, its dict on a card and in `evaluate --json`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gan_core.checkpoints import load_generator
from gan_core.data import class_index, load_split
from gan_core.projection import ProjectionSettings
from gan_core.recovery import DATASET_LABELS, MAX_K, Recovery, latent_recovery, pick_images, with_recovery
from tests.conftest import in_process, needs_data

ROOT = Path(__file__).resolve().parent.parent
MLP = ROOT / "weights" / "generators" / "mlp.safetensors"
FAST = ProjectionSettings(steps=20, race_steps=5)  # plumbing, not quality: a few steps per image


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _recovery(**changes: object) -> Recovery:
    base = {"n_train": 50, "n_test": 50, "train_median": 1.1, "test_median": 1.15, "nearest_train_median": 3.2,
            "seed": 0, "steps": 300, "seconds": 20.0, "labels": "", "classes": ()}
    return Recovery(**{**base, **changes})


@needs_data
def test_recovery_on_the_mlp_gives_finite_medians_and_round_trips():
    fractions: list[float] = []
    r = latent_recovery(load_generator(MLP), k=4, seed=1, settings=FAST, progress=fractions.append)
    assert (r.n_train, r.n_test, r.steps, r.seed, r.labels, r.classes) == (4, 4, 20, 1, "", ())
    assert all(math.isfinite(v) and v > 0 for v in (r.train_median, r.test_median, r.nearest_train_median))
    assert r.ratio == r.train_median / r.test_median
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] >= 0
    assert Recovery.from_dict(json.loads(json.dumps(r.to_dict()))) == r  # through JSON, as on a card
    assert "train" in r.describe() and "(n 4)" in r.describe() and f"ratio {r.ratio:.2f}" in r.describe()


def test_k_out_of_range_is_a_clear_error():
    for k in (0, -1, MAX_K + 1, 2.5, True):
        with pytest.raises(ValueError, match=f"between 1 and {MAX_K:,}"):
            latent_recovery(object(), k=k)  # type: ignore[arg-type]


def test_from_dict_names_a_missing_or_unreadable_key_and_reads_null_as_nan():
    d = _recovery().to_dict()
    assert d["ratio"] == pytest.approx(1.1 / 1.15)
    del d["test_median"]
    with pytest.raises(ValueError, match="missing 'test_median'"):
        Recovery.from_dict(d)
    with pytest.raises(ValueError, match="'n_train'"):
        Recovery.from_dict({**_recovery().to_dict(), "n_train": "many"})
    with pytest.raises(ValueError, match="is a dict"):
        Recovery.from_dict([])  # type: ignore[arg-type]
    r = Recovery.from_dict({**_recovery().to_dict(), "nearest_train_median": None})
    assert math.isnan(r.nearest_train_median)
    assert math.isnan(_recovery(test_median=0.0).ratio)


def test_describe_says_what_was_projected_and_rows_state_each_n():
    line = _recovery(labels=DATASET_LABELS, classes=("Sneaker", "Bag")).describe()
    assert line.startswith("latent recovery: train 1.10 (n 50), held-out test 1.15 (n 50), ratio 0.96; the test "
                           "images' nearest training images lie at 3.20 (pixel L2, pixels in [0, 1])")
    assert "images of Sneaker, Bag only" in line and "each projected with its dataset labels" in line
    rows = _recovery().rows()
    assert [r[2] for r in rows] == ["50", "50", "50 + 50", "50 against all 60,000"]
    assert rows[2][1] == "0.96" and "memorises" in rows[2][3]


@needs_data
def test_a_class_subset_generator_recovers_only_images_of_its_classes():
    train, test = load_split("train"), load_split("test")
    subset = ("Sneaker", "Bag")
    a_train, a_test = pick_images(subset, 200, 3, train.labels, test.labels)
    wanted = {class_index(c) for c in subset}
    assert set(train.labels[a_train]) == wanted and set(test.labels[a_test]) == wanted
    assert len(set(a_train)) == len(set(a_test)) == 200  # without replacement
    b_train, _ = pick_images(subset, 200, 3, train.labels, test.labels)
    c_train, _ = pick_images(subset, 200, 4, train.labels, test.labels)
    assert np.array_equal(a_train, b_train) and not np.array_equal(a_train, c_train)
    all_train, _ = pick_images((), 200, 3, train.labels, test.labels)
    assert len(set(train.labels[all_train])) == 10
    # A LoadedGenerator-like object whose train config names classes, as trained_classes reads it.
    loaded = SimpleNamespace(generator=load_generator(MLP).generator, train_config={"classes": ["Bag", "Sneaker"]})
    r = latent_recovery(loaded, k=2, settings=ProjectionSettings(steps=5, race_steps=0))
    assert r.classes == subset and "images of Sneaker, Bag only" in r.describe()


def test_a_card_gets_the_recovery_under_its_own_key_and_keeps_the_rest():
    card = {"name": "mlp", "metrics": {"fid": 20.7}, "quality_bar": [], "latent_recovery": {"old": 1}}
    out = with_recovery(card, _recovery(test_median=0.0).to_dict())
    assert {k: v for k, v in out.items() if k != "latent_recovery"} == {k: v for k, v in card.items()
                                                                         if k != "latent_recovery"}
    assert out["latent_recovery"]["n_train"] == 50 and out["latent_recovery"]["ratio"] is None  # NaN: strict JSON
    json.dumps(out, allow_nan=False)
    assert card["latent_recovery"] == {"old": 1}  # a copy: the card passed in is unchanged
    with pytest.raises(ValueError, match="missing"):
        with_recovery(card, {"n_train": 3})


@needs_data
def test_evaluate_writes_the_recovery_into_its_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    r = in_process(capsys, "evaluate", str(MLP), "--n", "500", "--recovery", "3", "--threads", "1", "--json", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert {"source", "report", "floor", "latent_recovery"} == set(data)
    rec = Recovery.from_dict(data["latent_recovery"])
    assert rec.n_train == rec.n_test == 3 and rec.steps == ProjectionSettings().steps
    lines = r.stdout.splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith("latent recovery: train"))
    assert "well below 1 = memorises" in lines[line + 1]
    assert line > next(i for i, text in enumerate(lines) if text.startswith("FID (Fashion classifier)"))


def test_evaluate_rejects_a_bad_recovery_k(capsys):
    from gan_core.cli import main

    assert main(["evaluate", str(MLP), "--recovery", str(MAX_K + 1)]) == 2
    assert f"--recovery must be 0 (off) or between 1 and {MAX_K:,}" in capsys.readouterr().err
