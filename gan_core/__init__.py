"""Fashion GAN Studio's engine: data, models, training, checkpoints, sampling and metrics.

A plain PyTorch library: it never imports Streamlit, so the app, the CLI and the
tests all drive the same code.
"""

import os

# Idle OpenMP threads must sleep, not spin: a spinning worker thread starves whatever else runs on these small
# machines (the Streamlit server, a second run), and two threads then run up to 12x slower than one
# (benchmarks/README.md). The policy is read once, when torch loads, so it is set here, before any torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
