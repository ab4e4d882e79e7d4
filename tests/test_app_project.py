"""AppTest of the Real garments page, and of real garments used on Latent arithmetic and Directions."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

from gan_core.paths import CLASSIFIER_PATH, WEIGHTS_DIR
from tests.apphelpers import choose, page, rendered
from tests.conftest import needs_data

pytestmark = [needs_data, pytest.mark.skipif(not (WEIGHTS_DIR / "generators" / "dcgan.safetensors").exists()
                                             or not CLASSIFIER_PATH.exists(), reason="the shipped weights are not there")]
TIMEOUT = 180  # a projection runs on the page


def _projected(generator: str = "shipped · dcgan-cond", index: int = 3, steps: int = 100, label=None) -> AppTest:
    at = choose(rendered("project", TIMEOUT), "proj_gen", generator)
    at.number_input(key="proj_index").set_value(index)
    at.select_slider(key="proj_steps").set_value(steps)
    if label is not None:
        at.selectbox(key="proj_label_dataset").set_value(label)
    at.button(key="proj_go").click().run()
    assert not at.exception, at.exception
    return at


def _result_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " · L2 " in m.value)


def test_a_test_image_is_projected_and_kept_for_the_other_pages(runs_root):
    at = _projected(index=3)
    line = _result_line(at)
    assert line.startswith("**test[3] · "), line
    assert "(given)" in line, "a dataset image is decoded with its own label by default"
    captions = [img.caption for e in at.get("image") for img in e.proto.imgs]
    assert captions[-3:] == ["real", "G(ẑ)", "|difference|"], captions
    assert any("nearest training image" in c.value for c in at.caption)
    kept = at.session_state["real_garments"]
    (garment,) = kept.values()
    assert garment.source.startswith("test[3] · ") and garment.z.shape == (100,) and garment.label is not None
    assert {b.label for b in at.button} >= {f"As operand {n} of Latent arithmetic" for n in "ABC"}
    assert [d.proto.label for d in at.get("download_button")] == ["Download the latent (safetensors)"]

    # The projection is kept: a rerun shows it again without projecting; another index asks for a new one.
    at.run()
    assert _result_line(at) == line
    at.number_input(key="proj_index").set_value(4).run()
    assert not any(" · L2 " in m.value for m in at.markdown)
    assert any("Press **Project**" in c.value for c in at.caption)


def test_the_class_can_be_left_to_the_projection_and_an_infogan_code_is_named(runs_root):
    at = _projected(index=0, label=-1)  # CHOOSE
    assert "(chosen)" in _result_line(at)
    at = _projected("shipped · dcgan", index=0)
    line = _result_line(at)
    assert " · code " in line and " as " not in line, line  # unconditional: no class, an InfoGAN code


def _with_garments(name: str, at_source: AppTest) -> tuple[AppTest, list[str]]:
    at = page(name, TIMEOUT)
    store = at_source.session_state["real_garments"]
    at.session_state["real_garments"] = store
    return at, list(store)


def test_latent_arithmetic_on_real_garments_sums_their_real_images(runs_root):
    first = _projected(index=0)
    second = _projected(index=1)
    store = {**first.session_state["real_garments"], **second.session_state["real_garments"]}
    ids = list(store)
    at = page("arithmetic", TIMEOUT)
    at.session_state["real_garments"] = store
    at.session_state["arith_preset"] = "custom"
    at.session_state["arith_op"] = "A − B"
    for i, gid in enumerate(ids):
        at.session_state[f"arith_kind_{i}"] = "real"
        at.session_state[f"arith_real_{i}"] = gid
    at.run()
    assert not at.exception, at.exception
    captions = [img.caption for e in at.get("image") for img in e.proto.imgs]
    assert "xA, the real image" in captions and "xB, the real image" in captions
    assert "xA − xB" in captions, "the pixel result is the real images' difference"
    assert any(c.startswith("G(ẑA − ẑB") for c in captions), captions
    assert "G(ẑA), its projection" in captions
    measured = [c.value for c in at.caption if c.value.startswith("classifier: ")]
    assert len(measured) == 2, "the latent and the pixel result are each measured"

    # A real-garment operand with nothing projected for this generator says where to project one.
    empty = page("arithmetic", TIMEOUT)
    empty.session_state["arith_kind_0"], empty.session_state["arith_preset"] = "real", "custom"
    empty.run()
    assert not empty.exception, empty.exception
    assert any("none was projected with this generator" in e.value for e in empty.error)
    assert any("No real garment projected with this generator yet" in i.value for i in empty.info)


def test_directions_start_from_a_real_garment(runs_root):
    source = _projected(index=2)
    at, ids = _with_garments("directions", source)
    at.session_state["dir_start"] = "real"
    at.run()
    assert not at.exception, at.exception
    moved = [img.caption for e in at.get("image") for img in e.proto.imgs if img.caption.startswith("From ")]
    assert moved and moved[0].startswith("From the real garment test[2] · "), moved
    garment = source.session_state["real_garments"][ids[0]]
    assert torch.equal(garment.z, at.session_state["real_garments"][ids[0]].z)
