"""app.py itself: the navigation, the shared sidebar and the default page render together."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import needs_data


@needs_data
def test_app_renders_dataset_page_with_sidebar(runs_root):
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Dataset"
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "Training:" in sidebar_text and "idle" in sidebar_text
    assert [link.label for link in at.sidebar.get("page_link")] == [
        "Dataset", "Train", "Sample", "Real garments", "Latent arithmetic", "Directions", "Evaluate", "Runs"]
