"""Sample: grids from any generator, nearest real images, the discriminator's verdict, interpolation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from gan_core.catalog import GeneratorEntry
from gan_core.checkpoints import LoadedGenerator, export_card, generator_bytes
from gan_core.classifier import ClassifierError
from gan_core.data import CLASS_NAMES, SHORT_NAMES
from gan_core.discriminate import DiscriminatorReport, discriminator_test, real_test_set
from gan_core.metrics import truncation_sweep
from gan_core.models import Generator
from gan_core.onnx_export import MIME, OnnxExportError, OnnxUnavailable, export_onnx, install_hint, missing_packages
from gan_core.sampling import SampleRequest, code_rows_classes, nearest_real, sample_images
from ui.charts import truncation_figure
from ui.explore import class_selectbox, dataset_or_message
from ui.images import image_row, open_large, show_grid
from ui.inspect_views import inside_g, what_d_sees_section
from ui.keys import SAMPLE_GEN
from ui.pickers import LIVE, generator_key, pick_generator
from ui.state import generator, mtime

MODES = {"mixed": "Mixed classes", "one": "One class", "grid": "Class-by-row grid (10×10)",
         "codes": "Code-by-row grid (InfoGAN)"}
GRIDS = ("grid", "codes")  # modes whose image count is fixed
SWEEP_PSIS, SWEEP_N = (0.3, 0.5, 0.7, 0.85, 1.0), 1000
PSI_HELP = ("Truncation: each z is pulled toward the mean latent (0) by the factor ψ. Lower ψ trades diversity for "
            "quality: typical, cleaner garments, but more alike (ψ → 0 gives one image); 1 is plain sampling. "
            "The class- and code-by-row grids are drawn at ψ = 1.")


def about(entry: GeneratorEntry, loaded: LoadedGenerator) -> None:
    """The model card (or the checkpoint's training configuration) and one line on what kind of generator it is."""
    g = loaded.generator
    if entry.kind == LIVE:
        with st.expander("Training configuration of the running run"):
            st.json(loaded.train_config or {"note": "the run's configuration is not known"})
    elif entry.kind == "shipped":
        with st.expander("Model card"):
            st.json(entry.card() or loaded.card or {"note": "this file has no model card"})
    elif loaded.train_config:
        with st.expander("Training configuration of this checkpoint"):
            st.json(loaded.train_config)
    kind = "class-conditional" if g.num_classes else "unconditional"
    k_codes = g.cfg.info_codes
    st.caption(f"{kind} {loaded.model.arch} generator · latent size {g.latent_dim}"
               + (f" · {k_codes}-way InfoGAN code (the argmax of z's first {k_codes} entries)" if k_codes else "")
               + (f" · step {loaded.step:,}" if loaded.step is not None else ""))


def downloads(entry: GeneratorEntry, loaded: LoadedGenerator, key: str) -> None:
    """The picked generator to take away: its weights for this app, or ONNX for other runtimes (exported on request)."""
    name = f"{entry.run}-step{loaded.step}" if entry.run else loaded.path.stem
    with st.expander("Use it outside the app: download the weights or ONNX"):
        st.caption("The weights (safetensors) load in this app and `python -m gan_core`. ONNX runs without PyTorch, in "
                   "onnxruntime or any ONNX runtime: input `z` (N, latent size) float32"
                   + (" and `labels` (N,) int64 class indices" if loaded.generator.num_classes else "")
                   + ", output `images` (N, 1, 28, 28) in [−1, 1]; the README's \"Generators outside the app: ONNX\" "
                     "samples a grid from it with numpy alone.")
        missing = missing_packages()
        if missing:
            st.warning(install_hint(missing), icon=":material/download:")
        c1, c2, c3 = st.columns(3)
        c1.download_button("Weights (safetensors)",  # a shipped file keeps its own card; a checkpoint gets the export's
                           lambda: generator_bytes(loaded.generator, loaded.card or export_card(loaded, name)),
                           file_name=f"{name}.safetensors", mime=MIME, key="sample_weights_download", on_click="ignore")
        if c2.button("Export as ONNX", key="sample_onnx_export", disabled=bool(missing),
                     help="export into memory and check it in onnxruntime (a few seconds), then download"):
            try:
                with st.spinner("Exporting and checking in onnxruntime…"):
                    st.session_state["sample_onnx"] = (key, name, export_onnx(loaded, name))
            except (OnnxUnavailable, OnnxExportError) as exc:
                st.error(str(exc))
        kept = st.session_state.get("sample_onnx")
        if kept is not None and kept[0] == key:
            _, name, done = kept
            c2.download_button(f"{name}.onnx", done.model, file_name=f"{name}.onnx", mime=MIME,
                               key="sample_onnx_download", on_click="ignore", icon=":material/download:")
            c3.download_button("Its card (JSON)", json.dumps(done.card, indent=2, ensure_ascii=False),
                               file_name=f"{name}.json", mime="application/json", key="sample_onnx_card",
                               on_click="ignore")
            st.caption(f"Checked in onnxruntime: its images differ from the app's by at most "
                       f"{done.card['onnx']['checked']['max_abs_difference']:.1e} (on the same latents).")


def grid_settings(g: Generator, key: str) -> dict[str, Any]:
    """The grid's widgets; what they ask for, as the request a stored grid is compared with."""
    mode, cls, k_codes = "mixed", None, g.cfg.info_codes
    modes = (["mixed", "one", "grid"] if g.num_classes else ["mixed"]) + (["codes"] if k_codes else [])
    if len(modes) > 1:
        c1, c2, c3 = st.columns(3)
        with c1:
            mode = st.radio("Classes", modes, format_func=MODES.get, key="sample_mode",
                            help="a code-by-row grid gives each row one InfoGAN code and every column one z: what the "
                                 "code switches, with z held fixed" if k_codes else None)
            if g.num_classes:
                cls = class_selectbox("Class", "sample_cls", disabled=mode != "one")
    else:
        c2, c3, _ = st.columns(3)
    n = c2.number_input("Images (1–100)", 1, 100, 64, key="sample_n", disabled=mode in GRIDS,
                        help="a class- or code-by-row grid always shows 10 per row")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key="sample_seed")
    psi = st.slider("Truncation ψ", 0.1, 1.0, 1.0, step=0.05, key="sample_psi", disabled=mode in GRIDS, help=PSI_HELP)
    grid_n = {"grid": 100, "codes": 10 * k_codes}
    return {"generator": key, "mode": mode, "n": grid_n.get(mode, int(n)), "seed": int(seed),
            "cls": cls if mode == "one" else None, "psi": 1.0 if mode in GRIDS else float(psi)}


def draw(g: Generator, request: dict[str, Any], label: str) -> None:
    """Make the requested grid and keep it in the session, with what the classifier calls each row of a code grid."""
    mode = request["mode"]
    drawn = sample_images(g, SampleRequest(mode, request["n"], request["seed"], request["cls"], request["psi"]))
    images, nrow = drawn.images, drawn.nrow
    if mode == "mixed" and g.num_classes and request["n"] >= 10:
        nrow = 10  # the classes cycle 0–9: rows of ten make each column one class
    # Read once per grid, not on every rerun: what the classifier calls each row of a code grid.
    code_rows: list[tuple[int, int]] | str | None = None
    if mode == "codes":
        try:
            code_rows = code_rows_classes(images, g.cfg.info_codes)
        except ClassifierError as exc:
            code_rows = str(exc)
    st.session_state["sample_result"] = {**request, "images": images, "nrow": nrow, "label": label,
                                         "code_rows": code_rows}
    st.session_state.pop("sample_d_report", None)


def row_names(result: dict[str, Any]) -> list[str] | None:
    """The name beside each row: its class, or its InfoGAN code and what the classifier calls that row."""
    if result["mode"] == "grid":
        return list(CLASS_NAMES)
    if result["mode"] != "codes":
        return None
    code_rows = result.get("code_rows")
    k = len(result["images"]) // result["nrow"]
    if not isinstance(code_rows, list):
        return [f"code {r}" for r in range(k)]
    return [f"code {r} · {CLASS_NAMES[c]} {m}/{result['nrow']}" for r, (c, m) in enumerate(code_rows)]


def image_names(g: Generator, result: dict[str, Any]) -> list[str] | None:
    """The class asked of each image of a mixed grid of a conditional generator (they cycle 0–9), else None."""
    if result["mode"] != "mixed" or not g.num_classes:
        return None
    return [SHORT_NAMES[i % g.num_classes] for i in range(len(result["images"]))]


def describe(g: Generator, result: dict[str, Any]) -> Callable[[int], str]:
    """What one image of the kept grid is: its class or code row, as a caption of it shown large."""
    rows, cells, nrow = row_names(result), image_names(g, result), result["nrow"]
    if rows:
        return lambda i: rows[i // nrow]
    if cells:
        return lambda i: f"class {CLASS_NAMES[i % g.num_classes]}"
    if result["mode"] == "one":
        return lambda i: f"class {CLASS_NAMES[result['cls']]}"
    return lambda i: f"seed {result['seed']}"


def stored_grid(g: Generator, result: dict[str, Any], request: dict[str, Any]) -> None:
    """The kept grid (its rows or images named), its download button and, for a code grid, what each row became."""
    if {k: result[k] for k in request} != request:
        st.caption(":material/warning: The settings changed since this grid was made: press **Generate** to redraw it.")
    what = (f"class {CLASS_NAMES[result['cls']]}" if result["mode"] == "one" else
            "rows = classes 0–9, columns share z" if result["mode"] == "grid" else
            f"rows = InfoGAN codes 0–{g.cfg.info_codes - 1}, columns share z" if result["mode"] == "codes" else
            "classes cycle 0–9 along each row" if g.num_classes else "")
    grid_png = show_grid(result["images"], nrow=result["nrow"], scale=3, row_labels=row_names(result),
                         cell_labels=image_names(g, result),
                         caption=f"{len(result['images'])} images from {result['label']} · seed {result['seed']}"
                                 + (f" · ψ {result['psi']:.2f}" if result["psi"] < 1 else "") + (f" · {what}" if what else ""))
    st.download_button("Download grid (PNG)", grid_png, file_name=f"samples-seed{result['seed']}.png", mime="image/png",
                       key="sample_download")
    code_rows = result.get("code_rows")
    if isinstance(code_rows, str):
        st.caption(f"What each code makes could not be read: {code_rows}")
    elif code_rows:
        st.caption("What the classifier calls each row (no labels were used in training, so a code that means one "
                   "class was learned): " + " · ".join(f"code {r}: {CLASS_NAMES[c]} {m}/{result['nrow']}"
                                                       for r, (c, m) in enumerate(code_rows)))


def nearest_training_images(g: Generator, result: dict[str, Any]) -> None:
    """Any image of the grid large, and its nearest training images."""
    images = result["images"]
    st.subheader("One image large, and its nearest real training images")
    st.caption("Is a sample new, or a copy of a training image? Its k nearest training images by pixel distance (L2 "
               "over 784 pixels in [0, 1]). 0 would be an exact copy; for scale, a real test image's nearest training "
               "image is typically 2–5 away (median 3.4), and two random training images 8–15 apart (median 11.5).")
    c1, c2 = st.columns([1, 2])
    with c1:
        pick = open_large(images, "sample_pick", nrow=result["nrow"], describe=describe(g, result))
    k = c2.slider("k nearest", 1, 10, 5, key="sample_k")
    train = dataset_or_message("train", "to search for the nearest real images")
    if train is None:
        return
    with st.spinner("Searching 60,000 training images…"):
        idx, dist = nearest_real(images[pick : pick + 1], train.images, k=k)
    captions = [f"#{i:,} {CLASS_NAMES[train.labels[i]]} · L2 {d:.2f}" for i, d in zip(idx[0], dist[0], strict=True)]
    with c2:
        image_row(train.images[idx[0]], captions, scale=4)


def score_real_vs_generated(path: str, n: int, seed: int) -> None:
    """Run the checkpoint's discriminator on real test images (of the run's classes) and as many generated ones."""
    test = dataset_or_message("test", "to compare real with generated images")
    if test is None:
        return
    with_d = generator(path, with_discriminator=True)
    real, labels, trained = real_test_set(with_d, test=test)
    try:
        report = discriminator_test(with_d, real, labels, n=min(n, len(real)), seed=seed)
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state["sample_d_report"] = (path, trained, report)


def discriminator_verdict(report: DiscriminatorReport, trained: tuple[str, ...]) -> None:
    m1, m2, m3 = st.columns(3)
    m1.metric("Accuracy at threshold 0", f"{report.accuracy:.1%}")
    m2.metric("ROC AUC", f"{report.roc_auc:.3f}")
    m3.metric("Mean logit real / generated", f"{report.scores_real.mean():+.2f} / {report.scores_fake.mean():+.2f}")
    edges, real_c, fake_c = report.histograms(40)
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = go.Figure([go.Bar(x=centers, y=real_c, width=width, name="real test images", opacity=0.6,
                            marker_color="#4c78a8"),
                     go.Bar(x=centers, y=fake_c, width=width, name="generated", opacity=0.6, marker_color="#f58518")])
    fig.add_vline(x=0, line_dash="dash", line_color="grey")
    fig.update_layout(barmode="overlay", xaxis_title="D score (logit)", yaxis_title="images", height=320,
                      margin={"l": 10, "r": 10, "t": 20, "b": 10})
    st.plotly_chart(fig, key="sample_d_hist")
    st.caption(f"{report.n} real test images ({', '.join(trained) if trained else 'all classes'}) and {report.n} "
               f"generated with seed {report.seed}; real called real {report.accuracy_real:.1%}, generated "
               f"called fake {report.accuracy_fake:.1%}.")


def discriminator(entry: GeneratorEntry, seed: int) -> None:
    st.subheader("Can the discriminator tell?")
    if entry.kind != "checkpoint":
        st.info(("The live copy is the generator only" if entry.kind == LIVE else "Shipped generator files keep G only")
                + "; the discriminator lives in training checkpoints. Pick a run's checkpoint above to score real "
                  "against generated images.")
        return
    st.caption("The checkpoint's discriminator scores real test images and as many generated ones (logit scale: above 0 "
               "means it calls the image real). AUC 0.5: it cannot tell them apart; 1.0: it separates them perfectly.")
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    n_d = c1.slider("Images of each kind", 100, 2000, 500, step=100, key="sample_d_n")
    if c2.button("Score real vs generated", key="sample_d_run"):
        score_real_vs_generated(str(entry.path), n_d, seed)
    stored = st.session_state.get("sample_d_report")
    if stored is not None and stored[0] == str(entry.path):
        discriminator_verdict(stored[2], stored[1])


@st.cache_data(show_spinner="Measuring FID, precision and recall at five values of ψ…", max_entries=8)
def _sweep(_loaded: LoadedGenerator, key: str, mtime: float) -> list[dict[str, float]]:
    """Once per generator (its key, and its file's mtime when a file holds it): a thousand images at each ψ take a while.

    The loaded generator, not the module: the sweep compares with the real images of the classes it was trained on.
    """
    del key, mtime
    return truncation_sweep(_loaded, psis=SWEEP_PSIS, n=SWEEP_N)


def truncation_trade(loaded: LoadedGenerator, key: str) -> None:
    """FID, precision and recall against ψ, measured on a click and kept per generator."""
    with st.expander("Quality vs diversity: FID, precision and recall against ψ"):
        st.caption(f"{SWEEP_N:,} images at each ψ in {', '.join(map(str, SWEEP_PSIS))}, measured against real test "
                   "images as the Evaluate page does. Truncation usually keeps or raises precision (are the images like "
                   "real ones?) and lowers recall (do they cover the real variety?); FID weighs both. The curves show "
                   "how much for this generator.")
        done = st.session_state.setdefault("sample_psi_swept", set())
        version = mtime(loaded.path) if loaded.path.is_file() else 0.0  # a live copy's key names its step
        if st.button("Measure against ψ", key="sample_psi_sweep"):
            try:
                _sweep(loaded, key, version)
            except (ClassifierError, OSError, ValueError) as exc:
                st.error(f"Cannot measure: {exc}")
                return
            done.add(key)
        if key in done:
            st.plotly_chart(truncation_figure(_sweep(loaded, key, version)), key="sample_psi_chart")


def interpolation(g: Generator) -> None:
    st.subheader("Interpolation between two seeds")
    c1, c2, c3 = st.columns(3)
    seed_a = c1.number_input("From seed", 0, 2**31 - 1, 0, key="sample_seed_a")
    seed_b = c2.number_input("To seed", 0, 2**31 - 1, 1, key="sample_seed_b")
    steps = c3.slider("Steps", 3, 20, 10, key="sample_steps")
    cls_a = cls_b = None
    if g.num_classes:  # the label is part of the latent: it can move from one class to another along the strip
        c4, c5 = st.columns(2)
        with c4:
            cls_a = class_selectbox("Class", "sample_interp_cls")
        cls_b = c5.selectbox("To class", [None, *range(len(CLASS_NAMES))], key="sample_interp_cls_b",
                             format_func=lambda c: "the same (no blend)" if c is None else f"{c} · {CLASS_NAMES[c]}",
                             help="blend the label from the first class into this one along the strip")
        cls_b = cls_a if cls_b is None else cls_b
    strip = sample_images(g, SampleRequest("interpolate", steps, int(seed_a), cls_a, seed_b=int(seed_b), cls_b=cls_b)).images
    classes = ("" if cls_a is None else f", class {CLASS_NAMES[cls_a]}" if cls_a == cls_b else
               f", the label blended from {CLASS_NAMES[cls_a]} to {CLASS_NAMES[cls_b]}")
    show_grid(strip, nrow=steps, scale=3,
              caption=f"z(seed {seed_a}) → z(seed {seed_b}) along a great circle (slerp), {steps} steps{classes}")


# ------------------------------------------------------------------ page
st.title("Sample")
st.caption("Draw images from a shipped generator, any checkpoint of your runs or a copy of the running run's generator. "
           "The same seed always gives the same grid.")

entry, loaded = pick_generator(SAMPLE_GEN, live=True)
g = loaded.generator
key = generator_key(entry, loaded)  # a live copy's names its step: a grid from an older copy reads as outdated
about(entry, loaded)
downloads(entry, loaded, key)
request = grid_settings(g, key)
if st.button("Generate", type="primary", key="sample_generate"):
    draw(g, request, entry.label)
truncation_trade(loaded, key)
result = st.session_state.get("sample_result")
if result is None:
    st.info("Choose the settings and press **Generate**.")
    st.stop()
stored_grid(g, result, request)
nearest_training_images(g, result)
discriminator(entry, request["seed"])
what_d_sees_section(entry, request["seed"], "sample")
interpolation(g)
inside_g(g, key, "sample")
