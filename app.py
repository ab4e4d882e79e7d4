"""Fashion GAN Studio: `streamlit run app.py`.

Declares the pages and the sidebar every page shares; the pages themselves are
thin views on `gan_core`. Navigation is drawn by ui.sidebar (Streamlit's own list
is hidden in .streamlit/config.toml so its automatic `pages/` listing never shows).
"""

import streamlit as st

from ui.sidebar import PAGES, sidebar

st.set_page_config(page_title="Fashion GAN Studio", page_icon=":material/checkroom:", layout="wide")

nav = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)])
sidebar()
nav.run()
