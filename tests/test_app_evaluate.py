"""AppTest of the Evaluate page against a tiny real run."""

import json

import pytest

from gan_core.config import FIELD_LABELS, TrainConfig
from gan_core.metrics import FID_LABEL
from gan_core.training import Trainer
from tests.apphelpers import choose, page
from tests.conftest import needs_data

pytestmark = needs_data


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """GAN_STUDIO_RUNS holding one tiny run (with logged FIDs), so there is a checkpoint to pick."""
    root = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(name="tiny-evalpage", width=0.25, max_images=128, batch_size=32, epochs=1, sample_every=0,
                      log_every=1, grid_size=16, threads=1, seed=6, eval_every=2, eval_samples=100)
    snap = Trainer(cfg, runs_root=root).run()
    assert snap.status == "finished", snap.message
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_STUDIO_RUNS", str(root))
        yield root


def test_page_renders_the_picker(runs_root):
    at = page("evaluate").run()
    assert not at.exception
    assert any(o.startswith("tiny-evalpage") for o in at.selectbox(key="evaluate_gen").options)
    at = choose(at, "evaluate_gen", "tiny-evalpage", prefix=True)
    assert not at.exception
    assert at.button(key="evaluate_run")
    assert not at.table  # nothing computed before the click
    assert any(FID_LABEL in s.value for s in at.subheader)  # the run logged FIDs: the chart over steps
    assert len(at.get("plotly_chart")) == 1


def test_run_evaluation_shows_the_table_and_keeps_it(runs_root):
    at = page("evaluate", 180)
    at.session_state["evaluate_n_override"] = 300  # a few hundred images keep the test quick
    at = choose(at.run(), "evaluate_gen", "tiny-evalpage", prefix=True)
    at.button(key="evaluate_run").click().run()
    assert not at.exception
    table = at.table[0].value
    assert list(table.columns) == ["this generator", "real-data floor", "how to read it"]
    assert table.index[0] == FID_LABEL and float(table.iloc[0, 1]) < float(table.iloc[0, 0])
    assert len(at.get("plotly_chart")) == 2  # class coverage + FID over steps
    assert len(at.session_state["evaluate_results"]) == 1
    # Precision/recall state their n; the time is the whole evaluation's; memorization reads the ratio, not pixels.
    assert any(f"Precision (k=3, n={300:,})" == i for i in table.index)
    assert any(i.startswith("Copies of training images (n=300)") for i in table.index)
    captions = [c.value for c in at.caption]
    assert any("precision/recall on n = 300" in c and "the whole evaluation took" in c for c in captions)
    assert any("counts as a copy" in c and "real test images" in c for c in captions)
    # The pairs come in rows of 3 (6 images each), so none wraps at 1400 px.
    rows = [im for im in at.get("image") if any("ratio" in img.caption for img in im.proto.imgs)]
    assert [len(im.proto.imgs) for im in rows] == [6, 6]
    # The coverage chart names its lines in the legend instead of writing on the bars.
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert not spec["layout"].get("annotations")
    assert {"uniform 10 %", "5% threshold"} <= {t.get("name") for t in spec["data"]}
    # A rerun (e.g. coming back to the page) shows the stored result without recomputing.
    at.run()
    assert at.table and len(at.session_state["evaluate_results"]) == 1


def test_a_run_without_fids_names_the_train_forms_field(runs_root):
    cfg = TrainConfig(name="tiny-nofid", width=0.25, max_images=64, batch_size=32, epochs=1, sample_every=0, log_every=1,
                      grid_size=16, threads=1, seed=7, eval_every=0)
    assert Trainer(cfg, runs_root=runs_root).run().status == "finished"
    at = choose(page("evaluate").run(), "evaluate_gen", "tiny-nofid", prefix=True)
    assert not at.exception
    hint = next(c.value for c in at.caption if "logged no FID" in c.value)
    assert FIELD_LABELS["eval_every"] in hint and "--eval-every" not in hint


def test_missing_classifier_says_how_to_fix_it(runs_root, monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_STUDIO_CLASSIFIER", str(tmp_path / "missing.safetensors"))
    at = page("evaluate").run()
    assert not at.exception
    assert "train-classifier" in at.error[0].value
    assert "gan_core train-classifier" in at.code[0].value


def test_latent_recovery_is_measured_on_a_click_and_shows_its_numbers(runs_root, monkeypatch):
    import streamlit as st

    from gan_core import recovery
    from gan_core.projection import ProjectionSettings

    real = recovery.latent_recovery
    calls: list[int] = []

    def fast(g, k, seed):  # the page's own call, with a few projection steps: plumbing, not quality
        calls.append(k)
        return real(g, k, seed, settings=ProjectionSettings(steps=5, race_steps=0))

    monkeypatch.setattr(recovery, "latent_recovery", fast)
    st.cache_data.clear()
    at = page("evaluate", 120).run()  # the default generator: shipped dcgan-cond
    assert not at.exception
    assert "Latent recovery" in [s.value for s in at.subheader]
    assert any("Webster et al." in c.value and "no classifier features" in c.value for c in at.caption)
    assert not at.table and not calls  # nothing projected before the click
    at.slider(key="evaluate_recovery_k").set_value(10).run()
    at.button(key="evaluate_recovery_run").click().run()
    assert not at.exception and calls == [10]
    table = at.table[0].value
    assert list(table.columns) == ["median", "n", "how to read it"]
    assert list(table["n"]) == ["10", "10", "10 + 10", "10 against all 60,000"]
    train, test = float(table.iloc[0, 0]), float(table.iloc[1, 0])
    assert train > 0 and test > 0
    assert float(table.iloc[2, 0]) == pytest.approx(train / test, abs=0.02)  # the ratio of the (rounded) medians
    assert any("5 projection steps per image" in c.value and "dataset label" in c.value for c in at.caption)
    at.run()  # a rerun shows the kept result from the cache, without projecting again
    assert at.table and calls == [10]


def test_spectra_and_what_d_sees_on_request(runs_root):
    at = page("evaluate", 120).run()  # the default generator, a shipped file: D's views say where D lives
    assert any("holds no discriminator" in i.value for i in at.info)
    at = choose(at, "evaluate_gen", "tiny-evalpage", prefix=True)
    assert {"Spectra: generated vs real", "What D sees"} <= {s.value for s in at.subheader}
    at.select_slider(key="evaluate_spec_n").set_value(250).run()
    at.button(key="evaluate_spec_run").click().run()
    assert not at.exception
    ratio = next(m for m in at.metric if m.label.startswith("Generated / real power, top band"))
    assert float(ratio.value) > 0
    assert len(at.get("plotly_chart")) == 2  # the radial curves and FID over steps
    assert any(c.startswith("250 images of each kind, seed 0") for c in (c.value for c in at.caption))
    at.button(key="evaluate_dsees_run").click().run()
    assert not at.exception
    captions = [img.caption for im in at.get("image") for img in im.proto.imgs]
    assert any(c.startswith("8 generated · mean P(real)") for c in captions), captions
    assert any(c.startswith("8 real test images · mean P(real)") for c in captions)
