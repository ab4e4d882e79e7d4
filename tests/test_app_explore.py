"""AppTest of the Dataset, Sample and Latent arithmetic pages, against a tiny real run."""

import numpy as np
import pytest
import torch

from gan_core.catalog import shipped_generators
from gan_core.checkpoints import load_generator
from gan_core.config import TrainConfig
from gan_core.paths import CLASSIFIER_PATH
from gan_core.training import Trainer
from tests.apphelpers import choose, page, run_state
from tests.conftest import needs_data, wait_for

pytestmark = needs_data


def _tiny_run(root, name, conditional):
    cfg = TrainConfig(name=name, width=0.25, conditional=conditional, max_images=128, batch_size=32, epochs=1,
                      sample_every=0, log_every=1, grid_size=16, threads=1, seed=4)
    snap = Trainer(cfg, runs_root=root).run()
    assert snap.status == "finished", snap.message


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """GAN_STUDIO_RUNS pointing at a folder with one tiny conditional run, so a generator exists without weights/."""
    root = tmp_path_factory.mktemp("runs")
    _tiny_run(root, "tiny-cond", conditional=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_STUDIO_RUNS", str(root))
        yield root


def test_dataset_page_browses_filters_and_summarises():
    at = page("dataset").run()
    assert not at.exception
    assert at.segmented_control(key="ds_split").value == "train"
    assert at.number_input(key="ds_index").value == 0
    assert len(at.get("image")) == 4  # the grid, the large image, the mean and the std rows
    assert len(at.get("plotly_chart")) == 2  # pixel histogram, images per class
    assert at.dataframe[0].value.iloc[0, 0] == "0 Boot"  # train image 0 is an ankle boot

    at.multiselect(key="ds_classes").set_value([5]).run()  # sandals only
    assert not at.exception
    index = at.number_input(key="ds_index").value
    assert any(f"#{index:,} · 5 Sandal" in c for c in _captions(at))
    table = at.dataframe[0].value.to_numpy().ravel()
    assert all(cell.endswith("Sandal") for cell in table)

    at.button(key="ds_random").click().run()
    assert not at.exception
    assert any("5 Sandal" in c for c in _captions(at)), "the random image must respect the class filter"

    at.multiselect(key="ds_classes").set_value([]).run()
    at.segmented_control(key="ds_split").set_value("test").run()
    assert not at.exception
    assert at.number_input(key="ds_index").max == 9_999
    assert "Page (of 100; 10,000 images)" in [n.label for n in at.number_input]


def test_class_statistics_behind_the_dataset_page(tmp_path):
    from gan_core.data import FashionMNIST
    from gan_core.stats import class_means_stds, intensity_histogram

    images = np.zeros((4, 28, 28), np.uint8)
    images[0], images[1], images[2] = 255, 51, 0  # class 3: white and 51/255; class 7: black
    images[3, :14] = 255                           # class 7: top half white
    ds = FashionMNIST(images, np.array([3, 3, 7, 7]), "train", tmp_path)
    means, stds = class_means_stds(ds)
    assert means.shape == stds.shape == (10, 28, 28)
    assert np.allclose(means[3], 0.6) and np.allclose(stds[3], 0.4)
    assert np.allclose(means[7, :14], 0.5) and np.allclose(means[7, 14:], 0.0) and np.allclose(stds[7, :14], 0.5)
    assert np.isnan(means[0]).all(), "an absent class is NaN, not a black image"
    counts, edges = intensity_histogram(images[3], bins=4)
    assert counts.tolist() == [392, 0, 0, 392] and edges[0] == 0 and edges[-1] == 256


def test_dataset_page_without_the_data_explains_where_it_looked(tmp_path, monkeypatch):
    import gan_core.data
    from ui.state import dataset

    monkeypatch.setattr(gan_core.data, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("FASHION_MNIST_NO_DOWNLOAD", "1")
    monkeypatch.chdir(tmp_path)
    dataset.clear()
    try:
        at = page("dataset").run()
    finally:
        dataset.clear()
    assert not at.exception
    assert "Places tried" in at.error[0].value and "apt-get install dataset-fashion-mnist" in at.error[0].value
    assert "work from the shipped generator" in at.info[0].value


def _captions(at):
    return [c.value for c in at.caption] + [cap for img in at.get("image") for cap in img.captions]


def test_sample_page_generates_on_click_and_keeps_the_grid(runs_root):
    at = choose(page("sample").run(), "sample_gen", "tiny-cond", prefix=True)
    assert not at.exception
    assert at.button(key="sample_generate").label == "Generate"
    assert not at.get("image"), "nothing is drawn before Generate"
    at.number_input(key="sample_n").set_value(20).run()  # a number input now: the count stays readable
    at.number_input(key="sample_seed").set_value(7).run()
    at.button(key="sample_generate").click().run()
    assert not at.exception
    assert len(at.get("image")) >= 3  # grid, nearest neighbours, interpolation strip
    assert any(c.endswith("10 steps, class T-shirt/top") for c in _captions(at))
    at.selectbox(key="sample_interp_cls_b").set_value(3).run()  # the label blends into another class
    assert not at.exception
    assert any(c.endswith("the label blended from T-shirt/top to Dress") for c in _captions(at))
    first = at.session_state["sample_result"]["images"].clone()
    assert first.shape == (20, 1, 28, 28)

    at.slider(key="sample_k").set_value(3).run()  # another widget: the grid must stay as it was
    assert torch.equal(at.session_state["sample_result"]["images"], first)
    at.button(key="sample_generate").click().run()
    assert torch.equal(at.session_state["sample_result"]["images"], first), "same seed, same grid"

    at.radio(key="sample_mode").set_value("grid").run()
    assert any("settings changed" in c.value for c in at.caption)
    at.button(key="sample_generate").click().run()
    assert at.session_state["sample_result"]["images"].shape == (100, 1, 28, 28)

    at.slider(key="sample_d_n").set_value(200).run()
    at.button(key="sample_d_run").click().run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "ROC AUC" in labels and "Accuracy at threshold 0" in labels
    auc = float(next(m.value for m in at.metric if m.label == "ROC AUC"))
    assert 0.0 <= auc <= 1.0


def test_arithmetic_page_shows_latent_and_pixel_results_for_a_preset(runs_root):
    at = choose(page("arithmetic").run(), "arith_gen", "tiny-cond", prefix=True)
    assert not at.exception
    at.selectbox(key="arith_preset").set_value("ankle boot − sneaker + sandal").run()
    assert not at.exception
    assert at.segmented_control(key="arith_op").value == "A − B + C"
    assert [at.selectbox(key=f"arith_cls_{i}").value for i in range(3)] == [9, 7, 5]
    assert at.subheader[0].value == "A − B + C, two ways"
    md = [m.value for m in at.markdown]
    assert "**= latent space**" in md and "**= pixel space**" in md
    assert "**− B: Sneaker**" in md
    assert "G(zB), mean of 3" in _captions(at)
    assert "G(zA − zB + zC, yA − yB + yC)" in _captions(at)
    assert any("class labels y were summed too: +1·Sandal, -1·Sneaker, +1·Ankle boot" in c.value for c in at.caption)
    assert any("min-max rescaled" in c.value for c in at.caption)
    # Each result is measured (class, confidence, distance ratio, manifold), and the preset says what good looks like.
    captions = [c.value for c in at.caption]
    assert sum(c.startswith("classifier: ") and "real manifold" in c for c in captions) == 2
    assert any(c.startswith(("More garment-like: the ", "Both results score alike")) for c in captions)
    assert any(c.startswith("A good result: the analogy") for c in captions)
    # 3 operands + 2 results, then 3 rows of exemplars (one st.image each) in the expander
    assert len(at.get("image")) == 3 + 2 + 3

    at.radio(key="arith_kind_1").set_value("seed").run()  # editing an operand leaves the preset
    assert not at.exception
    assert at.selectbox(key="arith_preset").value == "custom"
    assert not any(c.value.startswith("A good result") for c in at.caption)
    assert "**− B: seed 101**" in [m.value for m in at.markdown]
    assert "G(zB) as Sneaker" in _captions(at)

    at.toggle(key="arith_sum_labels").set_value(False).run()  # the class from A's label, the style from the sum
    assert not at.exception
    assert "G(zA − zB + zC, yA)" in _captions(at)
    assert any("decoded with operand A's label alone, Ankle boot" in c.value for c in at.caption)


@pytest.mark.skipif(not CLASSIFIER_PATH.exists(), reason="the shipped classifier is not there yet")
def test_arithmetic_page_on_an_unconditional_generator_uses_the_classifier(runs_root):
    if not (runs_root / "tiny-uncond").exists():
        _tiny_run(runs_root, "tiny-uncond", conditional=False)
    at = choose(page("arithmetic").run(), "arith_gen", "tiny-uncond", prefix=True)
    assert not at.exception
    # A 4-step generator may not make pullovers at all: the page then says so instead of failing. Either way the
    # classes came from the classifier's verdicts, and the page says so.
    shown = [m.value for m in at.markdown]
    errors = [e.value for e in at.error]
    if "**= latent space**" in shown:
        assert any("classifier called" in m for m in shown), shown
    else:
        assert any("was classified as" in e and "mode collapse" in e for e in errors), (shown, errors)


@pytest.mark.skipif(not CLASSIFIER_PATH.exists(), reason="the shipped classifier is not there yet")
def test_arithmetic_page_sums_the_shipped_generators_infogan_code(runs_root):
    at = page("arithmetic").run()
    assert not at.exception
    assert at.selectbox(key="arith_gen").value.label == "shipped · dcgan-cond", "the default generator comes first"
    assert any("class labels y were summed too" in c.value for c in at.caption), "the default is conditional"
    at = choose(at, "arith_gen", "shipped · dcgan")
    assert not at.exception
    at.selectbox(key="arith_preset").set_value("ankle boot − sneaker + sandal").run()
    assert not at.exception and not at.error
    assert any("InfoGAN code was summed too" in c.value for c in at.caption)


@pytest.mark.skipif(not CLASSIFIER_PATH.exists(), reason="the shipped classifier is not there yet")
def test_sample_page_draws_the_shipped_generators_code_by_row_grid():
    k = load_generator(next(e.path for e in shipped_generators() if e.path.stem == "dcgan")).generator.cfg.info_codes
    assert k >= 10
    at = choose(page("sample").run(), "sample_gen", "shipped · dcgan")
    assert any(f"{k}-way InfoGAN code" in c.value for c in at.caption)
    assert at.radio(key="sample_mode").options == ["Mixed classes", "Code-by-row grid (InfoGAN)"]
    at.radio(key="sample_mode").set_value("codes").run()
    at.button(key="sample_generate").click().run()
    assert not at.exception
    assert at.session_state["sample_result"]["images"].shape == (10 * k, 1, 28, 28)
    rows = next(c.value for c in at.caption if c.value.startswith("What the classifier calls each row"))
    assert rows.count("/10") == k and f"code {k - 1}:" in rows and f"code {k}:" not in rows


def test_dataset_page_opens_the_chosen_image_of_the_page_large():
    at = page("dataset").run()
    at.number_input(key="ds_page_train_").set_value(2).run()
    assert not at.exception
    assert at.number_input(key="ds_index").value == 100, "a new page opens its own first image large"
    box = at.selectbox(key="ds_open_train__2")
    assert box.options[0].startswith("0 · row 1, column 1 · #100 ")
    box.select_index(15).run()
    assert not at.exception
    assert at.number_input(key="ds_index").value == 115
    assert any(c.startswith("#115 · ") for c in _captions(at)), "the large view shows the chosen image"
    assert at.dataframe[0].value.iloc[1, 5].startswith("115 "), "the index table (now in an expander) stays"


def test_sample_page_names_the_rows_and_opens_any_image_large(runs_root):
    at = choose(page("sample").run(), "sample_gen", "tiny-cond", prefix=True)
    assert any("No run is training now" in c.value for c in at.caption), "why no live copy is listed"
    at.radio(key="sample_mode").set_value("grid").run()
    at.button(key="sample_generate").click().run()
    assert not at.exception
    box = at.selectbox(key="sample_pick")
    assert len(box.options) == 100 and box.options[10] == "10 · row 2, column 1 · Trouser"
    box.select_index(10).run()
    assert "image 10 · row 2, column 1 · Trouser" in _captions(at)


def test_sample_page_samples_a_copy_of_the_running_run(runs_root):
    from gan_core.manager import shared_manager

    m = shared_manager()
    assert not m.active, "a run from another test is still going"
    m.start(TrainConfig(name="live-run", width=0.25, conditional=True, max_images=128, batch_size=32, epochs=1000,
                        sample_every=0, log_every=1, grid_size=16, threads=1, seed=4))
    try:
        wait_for(lambda: m.snapshot().step >= 2, 60, "two steps of the live run", run_state)
        at = choose(page("sample").run(), "sample_gen", "live · live-run", prefix=True)
        assert not at.exception
        first = at.session_state["sample_gen_live_copy"].step
        assert any("A copy of the generator of run" in c.value and f"taken at step {first:,}" in c.value
               for c in at.caption), "it says it is a copy"
        at.button(key="sample_generate").click().run()
        assert not at.exception
        assert at.session_state["sample_result"]["images"].shape == (64, 1, 28, 28)
        copy = at.session_state["sample_gen_live_copy"]
        assert copy.path == runs_root / "live-run", "the copy names the run folder its weights come from, no made-up file"
        assert at.session_state["sample_result"]["generator"] == f"live copy of run live-run at step {first}"
        assert any("The live copy is the generator only" in i.value for i in at.info)
        wait_for(lambda: m.snapshot().step > first, 60, f"a step after {first}", run_state)
        at.button(key="sample_gen_live_take").click().run()
        assert at.session_state["sample_gen_live_copy"].step > first, "a new copy, at a later step"
        assert any("settings changed" in c.value for c in at.caption), "the grid is from the older copy"
    finally:
        m.stop(wait=30)
        assert m.join(30)
    at.run()
    assert not at.exception
    assert not at.selectbox(key="sample_gen").value.label.startswith("live"), "an ended run is no longer listed"


def test_sample_page_truncation_psi_and_its_quality_diversity_chart(runs_root, monkeypatch):
    import gan_core.metrics
    from gan_core.checkpoints import load_generator
    from gan_core.sampling import generate

    at = choose(page("sample").run(), "sample_gen", "tiny-cond", prefix=True)
    psi = at.slider(key="sample_psi")
    assert (psi.value, psi.min, psi.max) == (1.0, 0.1, 1.0) and "diversity" in psi.help
    at.number_input(key="sample_n").set_value(16).run()
    at.button(key="sample_generate").click().run()
    assert not at.exception
    result = at.session_state["sample_result"]
    plain = generate(load_generator(result["generator"]).generator, 16, seed=0)
    assert torch.equal(result["images"], plain), "ψ = 1 gives the grid plain sampling gives"

    at.slider(key="sample_psi").set_value(0.5).run()
    assert any("settings changed" in c.value for c in at.caption)
    at.button(key="sample_generate").click().run()
    assert not at.exception
    assert not torch.equal(at.session_state["sample_result"]["images"], plain)
    assert any("ψ 0.50" in c for c in _captions(at))

    # The sweep itself is the library's (tested there); here: the button runs it once per generator and plots it.
    calls = []

    def fake_sweep(g, psis, n=1000, seed=0):
        calls.append((tuple(psis), n))
        return [{"psi": p, "fid": 10 * (2 - p), "precision": 1 - p / 2, "recall": p} for p in psis]

    monkeypatch.setattr(gan_core.metrics, "truncation_sweep", fake_sweep)
    charts = len(at.get("plotly_chart"))
    at.button(key="sample_psi_sweep").click().run()
    assert not at.exception
    assert calls == [((0.3, 0.5, 0.7, 0.85, 1.0), 1000)]
    assert len(at.get("plotly_chart")) == charts + 1
    at.slider(key="sample_k").set_value(2).run()  # another widget: the chart stays, measured once
    assert len(at.get("plotly_chart")) == charts + 1 and len(calls) == 1


def test_sample_page_downloads_the_generator_as_onnx_built_on_request(monkeypatch):
    import sys

    from gan_core import onnx_export
    from gan_core.checkpoints import load_generator

    for package in onnx_export.PACKAGES:
        pytest.importorskip(package, reason="ONNX export needs onnx, onnxscript and onnxruntime")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails, as where it is not installed
    at = choose(page("sample").run(), "sample_gen", "shipped · mlp")
    assert not at.exception
    assert any("onnxruntime is not installed" in w.value and onnx_export.INSTALL in w.value for w in at.warning)
    assert at.button(key="sample_onnx_export").disabled, "without the packages the button says why instead"
    monkeypatch.undo()
    at.run()
    assert not at.button(key="sample_onnx_export").disabled
    assert "sample_onnx" not in at.session_state, "nothing is exported before the button is pressed"
    at.button(key="sample_onnx_export").click().run()
    assert not at.exception and not at.error
    labels = [d.proto.label for d in at.get("download_button")]
    assert {"Weights (safetensors)", "mlp.onnx", "Its card (JSON)"} <= set(labels), labels
    key, name, done = at.session_state["sample_onnx"]
    assert name == "mlp" and key.endswith("mlp.safetensors") and done.card["onnx"]["file"] == "mlp.onnx"
    g = load_generator(key).generator
    feed = onnx_export.example_inputs(g, 4)
    (images,) = onnx_export.session(done.model).run(["images"], feed)  # the bytes onnxruntime loads
    assert np.abs(images - onnx_export.library_images(g, feed)).max() <= 1e-4
    assert any("Checked in onnxruntime" in c.value for c in at.caption)


def test_sample_page_shows_what_d_sees_and_inside_g(runs_root):
    from gan_core.checkpoints import load_generator

    at = choose(page("sample").run(), "sample_gen", "tiny-cond", prefix=True)
    at.number_input(key="sample_n").set_value(10)
    at.button(key="sample_generate").click().run()
    assert {"What D sees", "Inside G"} <= {s.value for s in at.subheader}
    at.slider(key="sample_dsees_n").set_value(4)
    at.button(key="sample_dsees_run").click()
    at.button(key="sample_layers_run").click().run()  # both views in one rerun
    assert not at.exception
    captions = _captions(at)
    assert any(c.startswith("4 generated · mean P(real) 0.") or c.startswith("4 generated · mean P(real) 1.")
               for c in captions), captions
    assert any(c.startswith("4 real test images · mean P(real)") for c in captions)
    assert any("bright red-to-yellow pixels" in c.value for c in at.caption)

    body = load_generator(runs_root / "tiny-cond").generator.body
    picker = at.selectbox(key="sample_layers_pick")
    assert len(picker.options) == len(body) and picker.options[0] == "0 Linear"
    tables = {df.value.columns[0]: df.value for df in at.dataframe}
    summary = tables["layer"]
    assert len(summary) == len(body) and {"zero share", "dead channels"} <= set(summary.columns)
    picker.set_value(len(body) - 1).run()  # the last layer: the image, one channel of 28×28
    assert not at.exception
    assert any(c.startswith(f"{len(body) - 1} Tanh: 1 channel of 28×28; z(seed 0), class T-shirt/top") for c in
               _captions(at))
    assert len({df.value.columns[0]: df.value for df in at.dataframe}["channel"]) == 1

    at = choose(at, "sample_gen", "shipped · dcgan-cond")  # a generator file: no D to look through
    assert not at.exception
    assert any("holds no discriminator" in i.value for i in at.info)
