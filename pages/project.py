"""Real garments: project a Dataset image or an uploaded photo into a generator, then use it in arithmetic or Directions."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import streamlit as st
import torch

from gan_core.catalog import GeneratorEntry, all_generators
from gan_core.checkpoints import LoadedGenerator
from gan_core.data import CLASS_NAMES
from gan_core.images import to_uint8
from gan_core.projection import Progress, Projection, ProjectionSettings, dataset_images, latents_bytes, project
from gan_core.sampling import nearest_real
from gan_core.uploads import FORMATS, MAX_PIXELS, MAX_UPLOAD_BYTES, Converted, UploadError, convert_upload
from ui.explore import dataset_or_message
from ui.images import image_row
from ui.keys import PROJ_AUTO, PROJ_FROM_DATASET
from ui.pickers import pick_generator
from ui.projections import Garment, garments_for, remember, use_in_arithmetic, use_in_directions
from ui.state import dataset, kept_key, mtime, persist

SOURCES = {"dataset": "A Dataset image", "upload": "Upload a photo"}
CHOOSE = -1  # the class option "let the projection choose"
DATASET_LABEL = -2  # the class option "the dataset's own label"
PICKER = "proj_gen"  # the generator picker, kept across pages (`persist`)
UPLOAD_KEPT = "proj_upload_kept"  # (name, key, Converted) of the last good upload: a file picker cannot be refilled
# The page's choices, kept while a person uses a projection on another page and comes back.
KEPT = ("proj_source", "proj_split", "proj_index", "proj_seed", "proj_label_dataset", "proj_label_upload")
# The Steps slider's last value, given as its value: in Chromium a select_slider whose value was set through session
# state went back to its first option on the next rerun (seen while switching from a Dataset image to an upload).
STEPS = "proj_steps_kept"


@st.cache_data(show_spinner=False, max_entries=16)
def _converted(data: bytes, name: str) -> Converted | str:
    """The upload as a Fashion-MNIST image, or the message saying why it cannot be one (limits included)."""
    try:
        return convert_upload(data, name)
    except UploadError as exc:
        return str(exc)


def pick_target() -> tuple[torch.Tensor, int | None, str, str] | None:
    """The image to project (1, 1, 28, 28) in [-1, 1], its dataset label, its name and a key; None when there is none."""
    asked = st.session_state.pop(PROJ_FROM_DATASET, None)  # the Dataset page's "Project this image"
    if asked is not None:
        st.session_state["proj_source"], st.session_state["proj_split"], st.session_state["proj_index"] = (
            "dataset", asked[0], asked[1])
    kind = st.segmented_control("Project", list(SOURCES), format_func=SOURCES.get, required=True, key="proj_source")
    if kind == "dataset":
        c1, c2 = st.columns([1, 2])
        split = c1.segmented_control("Split", ["test", "train"], required=True, key="proj_split",
                                     help="test images are held out: the generator never saw them")
        ds = dataset_or_message(split, "to project one of its images")
        if ds is None:
            st.info("Upload a photo instead: it needs no dataset.")
            return None
        if st.session_state.get("proj_index", 0) >= len(ds):
            st.session_state["proj_index"] = 0
        index = int(c2.number_input(f"Index in the {split} split (0–{len(ds) - 1:,})", 0, len(ds) - 1, key="proj_index",
                                    help="the Dataset page's large view shows each image's index"))
        x, y, names = dataset_images(ds.images, ds.labels, split, [index])
        return x, int(y[0]), names[0], f"{split}[{index}]"
    upload = st.file_uploader("A photo of one garment on a plain background (PNG or JPEG)", type=["png", "jpg", "jpeg"],
                              key="proj_upload",
                              help=f"at most {MAX_UPLOAD_BYTES // 2**20} MiB and {MAX_PIXELS:,} pixels; "
                                   f"{' or '.join(FORMATS)}. Nothing is saved on the server.")
    if upload is not None:
        data = upload.getvalue()
        converted = _converted(data, upload.name)
        if isinstance(converted, str):
            st.error(converted)
            return None
        st.session_state[UPLOAD_KEPT] = (upload.name, "upload:" + hashlib.sha256(data).hexdigest()[:16], converted)
    elif UPLOAD_KEPT not in st.session_state:
        st.caption("It is converted as Fashion-MNIST's images were made: grayscale, a light background negated so the "
                   "garment is light on black, cropped to the garment, its longest side fitted to 28 pixels, sharpened, "
                   "centred.")
        return None
    name, key, converted = st.session_state[UPLOAD_KEPT]
    c1, c2 = st.columns([1, 3])
    with c1:
        image_row(converted.image[None], ["converted, 28×28"], scale=5)
    notes = "; ".join(converted.notes)
    c2.caption(f"**{name}**{'' if upload is not None else ' (uploaded earlier)'}: {converted.source_size[0]}×"
               f"{converted.source_size[1]} {converted.source_mode}, cropped to the box {converted.box}"
               + (f"; {notes}." if notes else "."))
    return converted.tensor(), None, name, key


def pick_label(loaded: LoadedGenerator, dataset_label: int | None) -> int | None:
    """The class option for a conditional generator: the dataset's label, one chosen by the projection, or a class."""
    if not loaded.generator.num_classes:
        return None
    options = ([DATASET_LABEL] if dataset_label is not None else []) + [CHOOSE, *range(len(CLASS_NAMES))]

    def name(o: int) -> str:
        return (f"the dataset's label ({CLASS_NAMES[dataset_label]})" if o == DATASET_LABEL else
                "let the projection choose" if o == CHOOSE else f"{o} · {CLASS_NAMES[o]}")

    return st.selectbox("Class label (a conditional generator decodes with one)", options, format_func=name,
                        key=f"proj_label_{'dataset' if dataset_label is not None else 'upload'}",
                        help="Choose: every class is tried for the first 30 steps and the closest goes on.")


def run_projection(loaded: LoadedGenerator, x: torch.Tensor, labels: torch.Tensor | None,
                   settings: ProjectionSettings) -> Projection:
    """Project, showing the best reconstruction so far and the progress as it goes."""
    bar = st.progress(0.0, text="Projecting…")
    live = st.empty()
    start = time.perf_counter()

    def show(p: Progress) -> None:
        bar.progress(min(1.0, p.fraction), text=f"Projecting: step {p.step} of {p.steps} · L2 {float(p.error[0]):.2f}"
                                                f" · {time.perf_counter() - start:.1f} s")
        with live.container():
            image_row(p.reconstruction[:1], [f"step {p.step}"], scale=5)

    proj = project(loaded.generator, x, labels, settings=settings, progress=show)
    bar.empty()
    live.empty()
    return proj


def nearest_note(target: torch.Tensor) -> str:
    """How far the real image is from its nearest training image: the yardstick for the reconstruction's L2."""
    try:
        _, dist = nearest_real(target, dataset("train").images, k=2)
    except (OSError, ValueError):
        return ""
    d = float(dist[0, 1] if dist[0, 0] < 0.05 else dist[0, 0])  # a training image is its own nearest: skip it
    return f"its nearest training image lies at L2 {d:.2f}"


def result(garment: Garment, entry: GeneratorEntry, loaded: LoadedGenerator, proj: Projection) -> None:
    """Target, reconstruction and their difference, the numbers, and the buttons that use the latent elsewhere."""
    diff = to_uint8(((garment.target - garment.reconstruction).abs() - 1)[None])  # 0 black … 2 white
    image_row(np.concatenate([garment.images(), diff]), ["real", "G(ẑ)", "|difference|"], scale=5)
    st.markdown(f"**{garment.source}** · {garment.summary}")
    near = nearest_note(garment.target[None])
    st.caption(f"L2 is the pixel distance (pixels in [0, 1], over 784) between the real image and the generator's "
               f"closest image to it{'; for scale, ' + near + ' (for a training image: another one)' if near else ''}. "
               f"Found in {proj.seconds:.1f} s, {proj.steps} steps. The loss is pixels and a pull of |z| "
               "toward √d only: no classifier features, so the measures elsewhere (class, on the real manifold) are "
               "not optimised here.")
    st.download_button("Download the latent (safetensors)", lambda: latents_bytes(
        proj, [garment.source], str(entry.path), loaded.model.to_dict()), file_name="latent.safetensors",
        key="proj_download", on_click="ignore",
        help="z (and the label of a conditional generator), readable by `python -m gan_core arithmetic --latents`")
    st.markdown("**Use this real garment**")
    cols = st.columns(4)
    for i, name in enumerate("ABC"):
        if cols[i].button(f"As operand {name} of Latent arithmetic", key=f"proj_use_{name}", width="stretch"):
            use_in_arithmetic(garment, i, entry)
            st.switch_page("pages/arithmetic.py")
    if cols[3].button("As the start on Directions", key="proj_use_dir", width="stretch"):
        use_in_directions(garment, entry)
        st.switch_page("pages/directions.py")


def projected_so_far(path: str) -> None:
    kept = garments_for(path)
    if len(kept) < 2:
        return
    with st.expander(f"Projected with this generator in this session ({len(kept)})"):
        for g in kept:
            image_row(g.images(), ["real", "G(ẑ)"], scale=2)
            st.caption(f"{g.source} · {g.summary}")


# ------------------------------------------------------------------ page
persist(*KEPT)
for key, value in (("proj_source", "dataset"), ("proj_split", "test"), ("proj_seed", 0)):
    st.session_state.setdefault(key, value)  # not widget defaults: the Dataset page and `persist` set them too
st.title("Real garments")
st.caption("Find the latent a generator would need to draw a real garment (projection), then add and subtract real "
           "garments on Latent arithmetic, or steer one on Directions.")

if PICKER not in st.session_state and st.session_state.get(kept_key(PICKER)) not in all_generators():
    st.session_state.pop(kept_key(PICKER), None)  # its checkpoint is gone: the picker starts at the default
persist(PICKER)
entry, loaded = pick_generator(PICKER)
path = str(loaded.path)
target = pick_target()
if target is None:
    st.stop()
x, dataset_label, source, target_key = target
choice = pick_label(loaded, dataset_label)
c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
steps = c1.select_slider("Steps", [100, 300, 600, 1200, 2400], st.session_state.get(STEPS, 300), key="proj_steps",
                         help="Adam steps on z: more is closer, and slower (one image: about 2 s for 300 on two cores, "
                              "8 s for 1,200, the default of `python -m gan_core project`, which batches many images)")
st.session_state[STEPS] = steps
seed = int(c2.number_input("Seed", 0, 2**31 - 1, key="proj_seed", help="the random starts"))
labels = None
if choice is not None and choice != CHOOSE:
    labels = torch.tensor([dataset_label if choice == DATASET_LABEL else choice])
garment_id = f"{path}|{mtime(path)}|{target_key}|{choice}|{steps}|{seed}"
auto = st.session_state.pop(PROJ_AUTO, False)
done = st.session_state.get("proj_last")
if c3.button("Project", type="primary", icon=":material/search:", key="proj_go", width="stretch") or (
        auto and (done is None or done[0] != garment_id)):
    proj = run_projection(loaded, x, labels, ProjectionSettings(steps=steps, seed=seed))
    garment = Garment(garment_id, source, path, proj.z[0], proj.label(0), proj.targets[0], proj.reconstruction[0],
                      float(proj.error[0]), proj.describe(0))
    remember(garment)
    st.session_state["proj_last"] = (garment_id, garment, proj)
    done = st.session_state["proj_last"]
if done is not None and done[0] == garment_id:
    result(done[1], entry, loaded, done[2])
else:
    st.caption("Press **Project** to find the latent (a second or two).")
projected_so_far(path)
