"""Fashion GAN Studio: `streamlit run app.py`.

Declares the pages and the sidebar every page shares; the pages themselves are
thin views on `gan_core`. The navigation is drawn before anything imports torch,
so a fresh server paints the app's shell at once.
"""

import streamlit as st

import gan_core  # noqa: F401  (sets OMP_WAIT_POLICY=PASSIVE before any page imports torch; imports no torch itself)
from ui.nav import navigation

st.set_page_config(page_title="Fashion GAN Studio", page_icon=":material/checkroom:", layout="wide")
nav = navigation()

from ui.sidebar import training_status  # noqa: E402  (imports torch: after the first paint)

training_status()
nav.run()
