"""The session-state keys one page sets for another: declared once, so a link and the page it opens cannot disagree.

A page's own widget keys stay on that page; only the keys read or written by more than one file live here. The
values are the widget keys the pages have always used, so sessions and tests that name them keep working.
"""

from __future__ import annotations

# Train page: its tabs and the Checkpoints tab's run picker (the Runs page's "Resume" opens them).
TRAIN_TAB = "train_tab"
TRAIN_RUN = "train_ckpt_run"

# Generator pickers (ui.pickers.pick_generator's key) that the Runs page's links preselect.
SAMPLE_GEN = "sample_gen"
EVALUATE_GEN = "evaluate_gen"

# Real garments page: the Dataset page's "Project this image" hands over (split, index) and asks for a projection.
PROJ_FROM_DATASET = "proj_from_dataset"
PROJ_AUTO = "proj_auto"

# Latent arithmetic and Directions: what a "Use as …" button of a projected garment sets before switching page.
ARITH_GEN = "arith_gen"
ARITH_KIND = "arith_kind_{}"   # .format(position): the operand kind, "class", "seed" or "real"
ARITH_REAL = "arith_real_{}"   # .format(position): the projected garment's id
ARITH_PRESET = "arith_preset"
ARITH_OP = "arith_op"
DIR_GEN = "dir_gen"
DIR_START = "dir_start"
DIR_REAL = "dir_real"
