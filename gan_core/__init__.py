"""Fashion GAN Studio's engine: data, models, training, checkpoints, sampling and metrics.

A plain PyTorch library: it never imports Streamlit, so the app, the CLI and the
tests all drive the same code.
"""

__version__ = "0.1.0"
