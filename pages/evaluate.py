"""Evaluate: honest numbers for a generator, each beside what real images score under the same protocol."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from gan_core.cards import recheck, trained_classes
from gan_core.catalog import GeneratorEntry
from gan_core.checkpoints import LoadedGenerator
from gan_core.classifier import ClassifierError, classifier_card, classifier_path, load_classifier
from gan_core.config import FIELD_LABELS
from gan_core.data import CLASS_NAMES
from gan_core.format import duration
from gan_core.metrics import COVERAGE_THRESHOLD, FID_LABEL, EvalReport, evaluate_generator, real_floor
from gan_core.metrics.memorization import COPY_RATIO, NearestPair, memorization_pairs, training_spacing
from gan_core.recovery import DEFAULT_K, EXPLANATION, Recovery, latent_recovery
from gan_core.runs import RunDir, metrics_safely
from ui.images import image_row
from ui.inspect_views import spectrum_section, what_d_sees_section
from ui.keys import EVALUATE_GEN
from ui.pickers import pick_generator
from ui.state import dataset, mtime

N_OPTIONS = (1_000, 2_000, 5_000, 10_000)
PAIRS = 6          # samples shown beside their nearest training image
PAIRS_PER_ROW = 3  # 6 images a row: fits the 1400 px page beside the sidebar without wrapping
MAX_RESULTS = 8    # evaluations kept per session


def classifier_or_stop() -> None:
    """The metrics need the shipped classifier: say how to make it, and stop, when it cannot be loaded."""
    try:
        load_classifier()
    except ClassifierError as exc:
        st.error(f"The metrics cannot run: {exc}")
        st.markdown("Fix it from the project folder, then reload this page:")
        st.code(".venv/bin/python -m gan_core train-classifier", language="bash")
        st.stop()
    card = classifier_card()
    if card:
        st.caption(f"Classifier: {card.get('test_accuracy', float('nan')):.1%} accuracy on the 10,000 test images · "
                   f"{card.get('parameters', 0):,} parameters · `{classifier_path().name}`")


def settings(classes: tuple[str, ...]) -> tuple[int, int]:
    """How many images, and the seed of their latents."""
    c1, c2 = st.columns(2)
    # A segmented control, not a slider: every choice stays readable (a slider shows only the value under its thumb).
    n = c1.segmented_control("Generated images (more: steadier numbers; 10,000 take 20–40 s on one core)", N_OPTIONS,
                             default=2_000, key="evaluate_n", format_func=lambda v: f"{v:,}") or 2_000
    n = int(st.session_state.get("evaluate_n_override") or n)  # tests ask for a few hundred
    seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="evaluate_seed"))
    if classes:
        st.caption(f"This generator was trained on {', '.join(classes)}: the reference, the coverage and the requested "
                   "labels are restricted to those classes.")
    return n, seed


def evaluation(entry: GeneratorEntry, loaded: LoadedGenerator, classes: tuple[str, ...], n: int, seed: int
               ) -> dict[str, Any]:
    """The floor, the report and the memorization pairs, with a progress bar; an error is shown and stops the page.

    `seconds` is the whole wait (floor, generation, metrics, pairs): the report's own clock covers only its part.
    """
    t0 = time.perf_counter()
    bar = st.progress(0.0, text="starting")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        floor = real_floor(classes, n=n, seed=seed, memorization_n=min(n, 1_000), progress=progress)
        report = evaluate_generator(loaded, n=n, seed=seed, classes=classes, progress=progress,
                                    memorization_n=min(n, 1_000), label=entry.label)
        pairs = memorization_pairs(loaded.generator, PAIRS, seed, dataset("train").images, training_spacing)
    except (ClassifierError, ValueError) as exc:
        bar.empty()
        st.error(f"The evaluation failed: {exc}")
        st.stop()
    bar.empty()
    return {"report": report, "floor": floor, "pairs": pairs, "seconds": time.perf_counter() - t0}


def numbers(report: EvalReport, floor: EvalReport, loaded: LoadedGenerator, seconds: float | None = None) -> None:
    st.subheader("Numbers beside the real-data floor")
    table = pd.DataFrame(report.rows(floor), columns=["metric", "this generator", "real-data floor", "how to read it"])
    st.table(table.set_index("metric"))  # a static table wraps the explanations instead of cutting them off
    took = (f"the whole evaluation took {duration(seconds)} (real-data floor, samples, metrics, pairs)"
            if seconds is not None else f"took {duration(report.seconds)}")
    st.caption(f"{report.n:,} generated images, seed {report.seed}; precision/recall on n = {report.pr_n:,} samples "
               f"against n = {report.pr_n:,} reference images (floor: {floor.pr_n:,} real test images against as many); "
               f"memorization on {report.memorization_n:,} samples (floor: {floor.memorization_n:,}) · {took}.")
    checks = recheck(report.to_dict(), loaded.card)
    if checks:
        st.subheader("Quality bar of its model card")
        st.dataframe([{"": "PASS" if c["passed"] else "MISS", "check": c["check"], "this evaluation": str(c["value"])}
                      for c in checks], hide_index=True)
        card_n = (loaded.card.get("metrics") or {}).get("n")
        if card_n and card_n != report.n:
            st.caption(f"The card measured {card_n:,} images; FID and recall move with the number of images, so "
                       f"choose {card_n:,} to compare like with like.")


def class_coverage(report: EvalReport, floor: EvalReport) -> None:
    st.subheader("Class coverage")
    names = list(CLASS_NAMES)
    fig = go.Figure()
    fig.add_bar(x=names, y=[s * 100 for s in report.class_shares], name="samples", marker_color="#636efa")
    fig.add_bar(x=names, y=[s * 100 for s in floor.class_shares], name="real test images", marker_color="#b6b6b6")
    uniform = 100 / report.coverage_of
    # The lines are named in the legend, not annotated on the chart, where their text would sit on the bars.
    for y, dash, color, name in ((uniform, "dash", "green", f"uniform {uniform:.0f} %"),
                                 (COVERAGE_THRESHOLD * 100, "dot", "red", f"{COVERAGE_THRESHOLD:.0%} threshold")):
        fig.add_hline(y=y, line_dash=dash, line_color=color)
        fig.add_scatter(x=[None], y=[None], mode="lines", name=name, line={"dash": dash, "color": color})
    fig.update_layout(barmode="group", yaxis_title="share of images (%)", height=360, margin={"t": 20, "b": 10},
                      legend={"orientation": "h", "y": 1.1})
    st.plotly_chart(fig, width="stretch")
    st.caption(f"Classes predicted by the classifier. {report.coverage_classes} of {report.coverage_of} classes hold "
               f"≥ {COVERAGE_THRESHOLD:.0%} of the samples (real images: {floor.coverage_classes}); a generator that "
               "collapsed onto a few kinds of clothes shows tall bars on them and nothing elsewhere.")


def memorization(report: EvalReport, floor: EvalReport, pairs: list[NearestPair]) -> None:
    st.subheader("Samples and their nearest training images")
    if report.copy_share is not None and floor.copy_share is not None:
        st.caption(
            "Each sample's pixel distance to the closest of the 60,000 training images, divided by that training "
            "image's distance to its own nearest neighbour: about 1 for real unseen images, near 0 for a copy. "
            "(Raw pixel distances would call dark or blurry images copies: few bright pixels are close to many "
            f"images.) Below {COPY_RATIO} counts as a copy: {report.copy_share:.1%} of {report.memorization_n:,} "
            f"samples (median ratio {report.copy_ratio_median:.2f}); real test images: {floor.copy_share:.1%} "
            f"(median {floor.copy_ratio_median:.2f}). Far more copies than real images would mean memorization.")
    for start in range(0, len(pairs), PAIRS_PER_ROW):
        row = pairs[start : start + PAIRS_PER_ROW]
        images = [image for p in row for image in (p.sample, p.real)]
        captions = [text for i, p in enumerate(row, start + 1)
                    for text in (f"sample {i}", f"{'COPY' if p.copy else 'nearest'} · ratio {p.ratio:.2f}")]
        image_row(images, captions, scale=3)


def fid_over_steps(entry: GeneratorEntry, floor: EvalReport | None) -> None:
    """The FID the run logged while training, with this checkpoint marked (and the floor, once measured)."""
    run = RunDir.of_checkpoint(entry.path)
    rows = [r for r in metrics_safely(run).evaluated if math.isfinite(r["fid"])]
    st.subheader(f"{FID_LABEL} over the steps of {run.name}")
    if not rows:
        st.caption(f"This run logged no FID: set **{FIELD_LABELS['eval_every']}** on the Train page (e.g. 500) to follow "
                   "it over the steps, or compare every checkpoint with `python -m gan_core evaluate "
                   f"{run.path} --all-checkpoints`.")
        return
    steps, fids = [int(r["step"]) for r in rows], [float(r["fid"]) for r in rows]
    best = int(np.argmin(fids))
    fig = go.Figure(go.Scatter(x=steps, y=fids, mode="lines+markers", name=FID_LABEL))
    fig.add_vline(x=entry.step, line_dash="dash", line_color="gray", annotation_text="this checkpoint")
    if floor is not None:
        fig.add_hline(y=floor.fid, line_dash="dot", line_color="green", annotation_text="real-data floor")
    fig.update_layout(xaxis_title="step", yaxis_title=FID_LABEL, height=320, margin={"t": 20, "b": 10})
    st.plotly_chart(fig, width="stretch")
    st.caption(f"Logged during training on fewer samples (the run's eval_samples), so a little noisier than the table. "
               f"Lowest: {fids[best]:.2f} at step {steps[best]:,}; checkpoints exist at steps "
               f"{', '.join(f'{s:,}' for s, _ in run.checkpoints()) or 'none'}.")


@st.cache_data(show_spinner=False, max_entries=16)
def _recovery(_loaded: LoadedGenerator, path: str, mtime: float, k: int, seed: int) -> Recovery:
    """Once per generator file (path and mtime), k and seed: projecting 2k images takes seconds to minutes."""
    del path, mtime
    return latent_recovery(_loaded, k, seed)


def recovery_section(entry: GeneratorEntry, loaded: LoadedGenerator, seed: int) -> None:
    """Latent recovery on a click, kept per generator, k and seed (the page's seed also picks the images)."""
    st.subheader("Latent recovery")
    st.caption(EXPLANATION)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    k = int(c1.slider("Images of each split (k): training and held-out test", 10, 200, DEFAULT_K, step=10,
                      key="evaluate_recovery_k"))
    key = (str(entry.path), mtime(entry.path), k, seed)
    done: set[tuple] = st.session_state.setdefault("evaluate_recovery_done", set())
    if c2.button("Measure latent recovery", key="evaluate_recovery_run"):
        try:
            with st.spinner(f"Projecting {2 * k:,} images into the latent (on one core: seconds for the MLP, about "
                            "1 s per image for a DCGAN)…"):
                _recovery(loaded, *key)
        except ValueError as exc:
            st.error(f"Latent recovery failed: {exc}")
            return
        done.add(key)
    if key not in done:
        return
    rec = _recovery(loaded, *key)
    st.table(pd.DataFrame(rec.rows(), columns=["measure", "median", "n", "how to read it"]).set_index("measure"))
    notes = [f"{rec.steps} projection steps per image, images drawn with seed {rec.seed}; took {duration(rec.seconds)}."]
    if rec.classes:
        notes.append(f"Images of {', '.join(rec.classes)} only: the classes it was trained on.")
    if rec.labels:
        notes.append("Each image projected with its dataset label.")
    st.caption(" ".join(notes))


# ------------------------------------------------------------------ page
st.title("Evaluate")
st.caption(
    "How close are the samples to real clothes, how many kinds of clothes do they cover, and are they copies? "
    "Everything is measured in the features of a Fashion-MNIST classifier (there are no Inception weights for "
    f"28×28 clothes), so the distance is called **{FID_LABEL}** and cannot be compared with published Inception FIDs. "
    "Every number comes with its **real-data floor**: the score of as many real test images as samples (up to 5,000), "
    "images the generator never saw, measured against the same 5,000-image reference half of the test split."
)
classifier_or_stop()
entry, loaded = pick_generator(EVALUATE_GEN)
classes = trained_classes(loaded)
n, seed = settings(classes)

key = (str(entry.path), mtime(entry.path), n, seed)
results: dict[tuple, dict] = st.session_state.setdefault("evaluate_results", {})
if st.button("Run evaluation", type="primary", key="evaluate_run") and key not in results:
    computed = evaluation(entry, loaded, classes, n, seed)
    while len(results) >= MAX_RESULTS:
        results.pop(next(iter(results)))
    results[key] = computed

result = results.get(key)
if result is None:
    st.info("Choose the number of images and press **Run evaluation**.")
else:
    numbers(result["report"], result["floor"], loaded, result.get("seconds"))
    class_coverage(result["report"], result["floor"])
    memorization(result["report"], result["floor"], result["pairs"])
recovery_section(entry, loaded, seed)
spectrum_section(loaded, f"{entry.path}@{mtime(entry.path)}", seed, "evaluate")
what_d_sees_section(entry, seed, "evaluate")
if entry.kind == "checkpoint":
    fid_over_steps(entry, result["floor"] if result is not None else None)
