"""Fashion GAN Studio: `streamlit run app.py`.

Declares the pages and the sidebar every page shares; the pages themselves are
thin views on `gan_core`.
"""

import streamlit as st

from ui.sidebar import training_status

st.set_page_config(page_title="Fashion GAN Studio", page_icon="👕", layout="wide")

PAGES = [
    st.Page("pages/dataset.py", title="Dataset", icon="🗂️", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/sample.py", title="Sample", icon="🎲"),
    st.Page("pages/arithmetic.py", title="Latent arithmetic", icon="➗"),
    st.Page("pages/evaluate.py", title="Evaluate", icon="📏"),
    st.Page("pages/runs.py", title="Runs", icon="🗃️"),
]

nav = st.navigation(PAGES)
training_status()
nav.run()
