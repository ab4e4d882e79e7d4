"""Dataset: browse Fashion-MNIST, look at one image's pixels, class balance, per-class mean and spread."""

from __future__ import annotations

import math

import streamlit as st

# The landing page: its title goes out before the imports below pull in torch, so a fresh server paints at once.
st.title("Dataset")
st.caption("Fashion-MNIST: 28×28 grayscale images of clothes in ten classes, 60,000 for training and 10,000 for testing.")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from gan_core.data import CLASS_NAMES, SHORT_NAMES, FashionMNIST  # noqa: E402
from gan_core.stats import class_means_stds, intensity_histogram  # noqa: E402
from ui.explore import dataset_or_message  # noqa: E402
from ui.images import image_row, pick_image, show_grid, show_image  # noqa: E402
from ui.keys import PROJ_AUTO, PROJ_FROM_DATASET  # noqa: E402
from ui.state import dataset  # noqa: E402

PAGE = 100  # a 10 x 10 grid


@st.cache_data(show_spinner="Computing per-class mean and standard-deviation images…", max_entries=2)
def _class_stats(split: str) -> tuple[np.ndarray, np.ndarray]:
    return class_means_stds(dataset(split))


def _random_image(pool: np.ndarray) -> None:
    st.session_state["ds_index"] = int(np.random.default_rng().choice(pool))


def filters() -> tuple[str, list[int]]:
    """The split and the classes shown (empty: all ten)."""
    c_split, c_classes = st.columns([1, 4])
    split = c_split.segmented_control("Split", ["train", "test"], default="train", required=True, key="ds_split")
    classes = c_classes.multiselect("Show classes (empty: all ten)", list(range(len(CLASS_NAMES))),
                                    format_func=lambda c: f"{c} · {CLASS_NAMES[c]}", key="ds_classes")
    return split, classes


def _open(key: str, shown: np.ndarray) -> None:
    st.session_state["ds_index"] = int(shown[st.session_state[key]])


def grid_page(ds: FashionMNIST, split: str, classes: list[int], pool: np.ndarray) -> tuple[np.ndarray, int]:
    """One page of the (filtered) split as a 10 x 10 grid, each image's class under it; returns its indices and page."""
    n_pages = max(1, math.ceil(len(pool) / PAGE))
    # The page key follows the filter, so a shorter filtered list never leaves the widget past its end.
    page = st.number_input(f"Page (of {n_pages:,}; {len(pool):,} images)", 1, n_pages, 1,
                           key=f"ds_page_{split}_{'-'.join(map(str, classes))}")
    shown = pool[(page - 1) * PAGE : page * PAGE]
    show_grid(ds.images[shown], nrow=10, scale=2, cell_labels=[SHORT_NAMES[ds.labels[i]] for i in shown],
              caption=f"page {page} of the {'filtered ' if classes else ''}{split} split, in dataset order, row by row")
    # st.image takes no clicks: a select of this page's images opens one large (its key follows the page, so a new
    # page starts at its first image).
    key = f"ds_open_{split}_{'-'.join(map(str, classes))}_{page}"
    pick_image(len(shown), key, nrow=10, describe=lambda i: f"#{shown[i]:,} {CLASS_NAMES[ds.labels[shown[i]]]}",
               label="Open an image of this page large", on_change=_open, args=(key, shown))
    return shown, int(page)


def one_image(ds: FashionMNIST, split: str, classes: list[int], pool: np.ndarray, shown: np.ndarray, page: int) -> None:
    """One image large, with its pixel intensities."""
    # A new split, filter or page moves the large view to the first image it shows.
    signature = (split, tuple(classes), page)
    if st.session_state.get("ds_signature") != signature or st.session_state.get("ds_index", len(ds)) >= len(ds):
        st.session_state["ds_signature"] = signature
        st.session_state["ds_index"] = int(shown[0])
    c_idx, c_rand = st.columns([3, 2], vertical_alignment="bottom")
    index = c_idx.number_input(f"Image index in the {split} split (0–{len(ds) - 1:,})", 0, len(ds) - 1, key="ds_index")
    c_rand.button("Random", icon=":material/casino:", on_click=_random_image, args=(pool,), key="ds_random")
    img = ds.images[index]
    label = int(ds.labels[index])
    show_image(img, scale=8, caption=f"#{index:,} · {label} {CLASS_NAMES[label]}")
    counts, edges = intensity_histogram(img, bins=32)
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=edges[1] - edges[0], marker_color="#4c78a8"))
    fig.update_layout(title="Pixel intensities of this image", xaxis_title="intensity (0 = black, 255 = white)",
                      yaxis_title="pixels", height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}, bargap=0.05)
    if st.button("Project this image into a generator", icon=":material/checkroom:", key="ds_project",
                 help="the Real garments page: the latent a generator needs to draw it, for latent arithmetic and "
                      "Directions on real clothes"):
        st.session_state[PROJ_FROM_DATASET], st.session_state[PROJ_AUTO] = (split, int(index)), True
        st.switch_page("pages/project.py")
    st.plotly_chart(fig, key="ds_hist")
    st.caption(f"{int((img == 0).sum())} of 784 pixels are exactly 0 (background); mean intensity {img.mean():.1f}.")


def index_table(ds: FashionMNIST, shown: np.ndarray) -> None:
    # Short names keep ten columns readable without scrolling sideways.
    cells = np.array([f"{i} {SHORT_NAMES[ds.labels[i]]}" for i in shown] + [""] * (PAGE - len(shown))).reshape(10, 10)
    with st.expander("Index of each image of the grid"):
        st.dataframe(pd.DataFrame(cells, columns=[str(c + 1) for c in range(10)]), hide_index=True, key="ds_table")
        st.caption("Index in the split and class of each image of the grid, in the same places.")


def class_balance(ds: FashionMNIST, split: str, classes: list[int]) -> None:
    st.subheader("Images per class")
    counts = ds.class_counts()
    colors = ["#4c78a8" if (not classes or c in classes) else "#c7c7c7" for c in range(len(CLASS_NAMES))]
    fig = go.Figure(go.Bar(x=list(CLASS_NAMES), y=counts, marker_color=colors, text=[f"{n:,}" for n in counts],
                           textposition="outside"))
    fig.update_layout(yaxis_title="images", height=320, margin={"l": 10, "r": 10, "t": 20, "b": 10},
                      yaxis_range=[0, counts.max() * 1.15])
    st.plotly_chart(fig, key="ds_counts")
    st.caption(f"The {split} split is balanced: {counts.min():,} to {counts.max():,} images per class."
               + (" Grey bars are the classes the filter hides." if classes else ""))


def class_mean_and_spread(split: str) -> None:
    st.subheader("Per-class mean and standard deviation")
    means, stds = _class_stats(split)
    names = [f"{c} · {n}" for c, n in enumerate(CLASS_NAMES)]
    image_row((means * 255).round().astype(np.uint8), names, scale=3)
    st.caption("Mean image of each class: the average of every image of that class, pixel by pixel (black 0, white 255).")
    top = float(np.nanmax(stds))
    image_row((stds / top * 255).round().astype(np.uint8), names, scale=3)
    st.caption(f"Standard deviation per pixel, scaled so the largest ({top * 255:.0f} intensity levels) is white: bright "
               "where images of the class disagree (outlines, sleeves, soles), dark where they agree.")


# ------------------------------------------------------------------ page
split, classes = filters()
ds = dataset_or_message(split)
if ds is None:
    st.info("The Sample and Latent arithmetic pages do not need the dataset: they work from the shipped generator "
            "weights and from your runs' checkpoints.")
    st.stop()
pool = np.flatnonzero(np.isin(ds.labels, classes)) if classes else np.arange(len(ds))
left, right = st.columns([3, 2], gap="large")
with left:
    shown, page = grid_page(ds, split, classes, pool)
with right:
    one_image(ds, split, classes, pool, shown, page)
index_table(ds, shown)
class_balance(ds, split, classes)
class_mean_and_spread(split)
