"""AppTest of the Directions page on the shipped generators: sliders move the image, strips and their reading."""

import pytest

from gan_core.paths import CLASSIFIER_PATH, WEIGHTS_DIR
from tests.apphelpers import choose, page, rendered

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "generators" / "dcgan.safetensors").exists()
                                or not CLASSIFIER_PATH.exists(), reason="the shipped weights are not there")


def _moved(at):
    """The URL of the large moved image (the media file is named by its content) and its caption."""
    for element in at.get("image"):
        for img in element.proto.imgs:
            if img.caption.startswith("From "):
                return img.url, img.caption
    raise AssertionError("no moved image")


def test_directions_page_moves_the_image_and_reads_each_strip(runs_root):
    at = choose(rendered("directions", 120), "dir_gen", "shipped · dcgan")
    assert not at.exception, at.exception
    assert at.segmented_control(key="dir_method").value == "pca"
    k = at.slider(key="dir_k").value
    sliders = [at.slider(key=f"dir_amount_{i}") for i in range(k)]
    assert all(s.value == 0.0 and s.min == -3.0 and s.max == 3.0 for s in sliders)
    assert all(s.label.startswith(f"PC {i + 1}") for i, s in enumerate(sliders)), [s.label for s in sliders]
    url, caption = _moved(at)
    assert caption == "From seed 0 · no move"

    at.slider(key="dir_amount_1").set_value(2.5).run()
    assert not at.exception
    moved_url, moved_caption = _moved(at)
    assert moved_url != url, "moving a slider changes the shown image"
    assert "+2.50σ along 2" in moved_caption

    # The strips: one named image per direction plus the moved image and the walk; the classifier reads each strip.
    assert len(at.get("image")) == k + 2
    lines = [c.value for c in at.caption if "What the classifier says from −3σ to +3σ: " in c.value]
    assert len(lines) == k and all(" → " in line and " %" in line for line in lines), lines
    downloads = at.get("download_button")
    assert {d.proto.label for d in downloads} == {"Download the strips (PNG)", "Download the walk (GIF)"}
    assert len(at.get("plotly_chart")) == 1

    at.segmented_control(key="dir_method").set_value("sefa").run()
    assert not at.exception
    assert at.slider(key="dir_amount_0").label.startswith("SeFa 1")

    at.button(key="dir_reset").click().run()
    assert not at.exception
    assert all(at.slider(key=f"dir_amount_{i}").value == 0.0 for i in range(k))


def test_directions_page_moves_a_conditional_generator_between_two_classes(runs_root):
    at = page("directions", 120).run()
    assert at.selectbox(key="dir_gen").value.label == "shipped · dcgan-cond", "the default generator comes first"
    at.segmented_control(key="dir_method").set_value("class").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="dir_label").value == 0, "a conditional generator decodes with a class"
    assert [at.selectbox(key="dir_from").value, at.selectbox(key="dir_to").value] == [0, 3]
    slider = at.slider(key="dir_amount_0")
    assert "Dress" in slider.label and "T-shirt/top" in slider.label
    url, _ = _moved(at)
    slider.set_value(3.0).run()
    assert not at.exception
    assert _moved(at)[0] != url
    assert len([c for c in at.caption if "What the classifier says from −3σ to +3σ: " in c.value]) == 1

    at.radio(key="dir_start").set_value("class").run()  # start from a class mean
    assert not at.exception
    assert "mean latent of 8 T-shirt/top samples" in _moved(at)[1]

    at.selectbox(key="dir_to").set_value(0).run()
    assert not at.exception
    assert any("two different classes" in w.value for w in at.warning)
