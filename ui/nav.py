"""The page list and the sidebar links: pure Streamlit, no torch, so the app's shell paints at once."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

# (script, title, icon): app.py builds st.navigation from this list and the sidebar links to each page.
PAGES = [
    ("pages/dataset.py", "Dataset", ":material/grid_view:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/sample.py", "Sample", ":material/casino:"),
    ("pages/project.py", "Real garments", ":material/checkroom:"),
    ("pages/arithmetic.py", "Latent arithmetic", ":material/calculate:"),
    ("pages/directions.py", "Directions", ":material/tune:"),
    ("pages/evaluate.py", "Evaluate", ":material/analytics:"),
    ("pages/runs.py", "Runs", ":material/folder_open:"),
]


def navigation() -> StreamlitPage:
    """Declare the pages and draw their links (Streamlit's own list is hidden in .streamlit/config.toml)."""
    nav = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0)
                         for i, (path, title, icon) in enumerate(PAGES)])
    with st.sidebar:
        st.markdown("### :material/checkroom: Fashion GAN Studio")
        for path, title, icon in PAGES:
            st.page_link(path, label=title, icon=icon)
        st.divider()
    return nav
