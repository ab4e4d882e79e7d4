"""How steady the live ETA is: the estimate a run publishes, read once a second, against its own earlier value.

    .venv/bin/python benchmarks/eta_stability.py [--preset studio-fast] [--minutes 4] [--after 60]

Trains the preset as `python -m gan_core train` does (the same Trainer loop, grids and checkpoints included) for
`--minutes`, reads the snapshot's ETA every second, and compares each reading after `--after` seconds with what
the reading at `--after` seconds predicted for that moment (that ETA minus the time since). The table gives the
largest deviation in per cent of the predicted time left: the issue's bound is ±25 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.training import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--after", type=float, default=60.0, help="seconds before the ETA is held to the bound")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(preset_config(args.preset, name="eta"), runs_root=tmp)
        worker = threading.Thread(target=trainer.run)
        worker.start()
        readings: list[tuple[float, float]] = []
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < args.minutes * 60:
                time.sleep(1.0)
                eta = trainer.snapshot().eta_s
                if eta is not None:
                    readings.append((time.monotonic() - t0, eta))
        finally:
            trainer.stop()
            worker.join()
    anchor = next(((t, e) for t, e in readings if t >= args.after), None)
    if anchor is None:
        raise SystemExit("no ETA reading after the first minute: train longer (--minutes)")
    ta, ea = anchor
    worst = max(abs(e - (ea - (t - ta))) / (ea - (t - ta)) for t, e in readings if t >= ta)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {args.preset}, {args.minutes:g} min, load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"{'seconds':>8}{'ETA (min)':>11}{'predicted at ' + str(int(ta)) + ' s':>18}")
    for t, e in readings[:: max(1, len(readings) // 12)]:
        predicted = f"{(ea - (t - ta)) / 60:18.1f}" if t >= ta else f"{'':>18}"
        print(f"{t:8.0f}{e / 60:11.1f}{predicted}")
    print(f"largest deviation after {ta:.0f} s: {worst:.1%} of the predicted time left")


if __name__ == "__main__":
    main()
