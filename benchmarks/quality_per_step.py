"""Quality per training step, not per second: FID, precision, recall and class shares of the generator a run ships
(the EMA copy) at fixed step marks, for one variant of the default preset.

    .venv/bin/python benchmarks/quality_per_step.py precision=fp32 [--marks 500 1000 2000] [--n 5000] [--threads 1]

A variant is `base` (the preset as it is) or comma-separated FIELD=VALUE overrides (JSON values). It answers
whether a change that makes the step faster (bf16, lazy R1) keeps what each step learns, and its answer does not
depend on how busy the machine is, so two variants can run side by side, one thread each. Prints one JSON line per
mark (images/s too, but those are only as good as the machine was quiet).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from gan_core import metrics
from gan_core.data import load_split
from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.step import GanStep

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_variants import parse_variant


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variant", help="base, or FIELD=VALUE[,FIELD=VALUE...] overrides of the preset")
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--marks", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--n", type=int, default=5000, help="samples per evaluation")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    data = load_split("train")
    cfg = preset_config(args.preset, **parse_variant(args.variant)).replace(epochs=1000)
    gan = GanStep(cfg, data.to_tensor(), torch.as_tensor(data.labels), device=torch.device("cpu"))
    gan.wrap()
    train_s = 0.0
    for mark in sorted(args.marks):
        t0 = time.perf_counter()
        while gan.step < mark:
            gan.train_step()
        train_s += time.perf_counter() - t0
        with torch.random.fork_rng(devices=[]):
            r = metrics.evaluate_generator(copy.deepcopy(gan.sampler).float().eval(), n=args.n)
        print(json.dumps(dict(variant=args.variant, step=gan.step, fid=round(r.fid, 3), precision=round(r.precision, 3),
                              recall=round(r.recall, 3), min_share=round(min(r.class_shares), 4),
                              max_share=round(max(r.class_shares), 4), cond_acc=r.conditional_accuracy,
                              img_s=round(gan.step * gan.batch / train_s))), flush=True)


if __name__ == "__main__":
    main()
