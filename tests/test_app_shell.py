"""app.py itself: the navigation, the shared sidebar and the default page render together."""

from tests.apphelpers import rendered, texts
from tests.conftest import needs_data


@needs_data
def test_app_renders_dataset_page_with_sidebar(runs_root):
    at = rendered("app", 120)
    assert at.title[0].value == "Dataset"
    sidebar_text = texts(at.sidebar, "markdown")
    assert "Training:" in sidebar_text and "idle" in sidebar_text
    assert [link.label for link in at.sidebar.get("page_link")] == [
        "Dataset", "Train", "Sample", "Real garments", "Latent arithmetic", "Directions", "Evaluate", "Runs"]
