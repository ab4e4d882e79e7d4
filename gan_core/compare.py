"""Runs side by side: what differs in their configs, how big their networks are, how fast and how good.

Report 002 judged its second GAN by printing "Discriminator Size Ratio: 25.6%"
next to the samples; report 001 by ablations that change one field at a time.
A `Comparison` gives both for any set of run folders: the config fields that
differ, G and D sizes relative to the first run, speed and the final metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gan_core.config import TrainConfig
from gan_core.format import count, duration, number, percent
from gan_core.runs import RunDir, RunRecord, run_record


# ----------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Comparison:
    records: list[RunRecord]
    differing: dict[str, list[Any]]   # config field -> value per run (name left out: it always differs)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.records]

    def ratios(self) -> list[dict[str, float | None]]:
        """G, D and G+D sizes of each run relative to the first run's (report 002's "size ratio")."""
        base = self.records[0]
        return [{"G": _ratio(r.g_params, base.g_params), "D": _ratio(r.d_params, base.d_params),
                 "GAN": _ratio(r.total_params, base.total_params)} for r in self.records]

    def fixed_noise_note(self) -> str:
        """Whether the runs' sample grids start from the same noise, so they can be compared image by image."""
        configs = [r.config for r in self.records if r.config is not None]
        keys = {"seed": {c.seed for c in configs}, "latent_dim": {c.latent_dim for c in configs},
                "grid_size": {c.grid_size for c in configs}, "conditional": {c.conditional for c in configs}}
        differ = [k for k, v in keys.items() if len(v) > 1]
        if not differ:
            c = configs[0]
            return (f"The sample grids share their fixed noise (seed {c.seed}, latent size {c.latent_dim}): "
                    "image i of every grid starts from the same z.")
        return ("The sample grids do not share their noise: "
                + ", ".join(f"{k} differs" for k in differ)
                + " (fixed noise matches only for the same seed, latent size and grid size).")

    def sections(self) -> list[tuple[str, list[tuple[str, list[str]]]]]:
        """The table's content as (section, [(row label, cell per run)]), shared by the terminal and the page."""
        ratios = self.ratios()
        first = self.records[0].name
        config_rows = [(k, [_cell(v) for v in values]) for k, values in self.differing.items()]
        if not config_rows:
            config_rows = [("(none)", ["same config" for _ in self.records])]
        sizes = [
            ("G parameters", [count(r.g_params) for r in self.records]),
            ("D parameters", [count(r.d_params) for r in self.records]),
            ("G + D parameters", [count(r.total_params) for r in self.records]),
            (f"G size ratio vs {first}", [percent(x["G"]) for x in ratios]),
            (f"D size ratio vs {first}", [percent(x["D"]) for x in ratios]),
            (f"GAN size ratio vs {first}", [percent(x["GAN"]) for x in ratios]),
        ]
        speed = [
            ("images/s", [number(r.images_per_sec, 0) for r in self.records]),
            ("wall time", [duration(r.wall_time_s) for r in self.records]),
            ("steps", [f"{r.steps:,}" for r in self.records]),
            ("status", [r.status for r in self.records]),
        ]
        final = [
            ("D loss", [number(r.d_loss, 3) for r in self.records]),
            ("G loss", [number(r.g_loss, 3) for r in self.records]),
            ("FID", [number(r.fid, 2) for r in self.records]),
            ("classes covered", [number(r.coverage_classes, 0) for r in self.records]),
            ("coverage KL", [number(r.coverage_kl, 3) for r in self.records]),
        ]
        return [("config fields that differ", config_rows), ("parameters", sizes), ("speed", speed),
                ("final metrics", final)]

    def table(self) -> str:
        """A plain-text table for the terminal: one column per run."""
        sections = self.sections()
        label_w = max(len(label) for _, rows in sections for label, _ in rows) + 2
        widths = [max(len(name), *(len(cells[i]) for _, rows in sections for _, cells in rows)) + 2
                  for i, name in enumerate(self.names)]
        lines = [" " * label_w + "".join(f"{n:>{w}}" for n, w in zip(self.names, widths, strict=True))]
        for title, rows in sections:
            lines.append(title)
            lines += [f"  {label:<{label_w - 2}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
                      for label, cells in rows]
        lines.append(self.fixed_noise_note())
        return "\n".join(lines)


def compare_runs(runs: Sequence[RunDir]) -> Comparison:
    if len(runs) < 2:
        raise ValueError(f"compare needs at least two runs (got {len(runs)})")
    records = [run_record(r) for r in runs]
    for r in records:
        if r.config is None:
            raise ValueError(f"{r.path}: {r.error}")
    dicts = [r.config.to_dict() for r in records if r.config is not None]
    differing = {f.name: [d[f.name] for d in dicts] for f in dataclasses.fields(TrainConfig)
                 if f.name != "name" and any(d[f.name] != dicts[0][f.name] for d in dicts)}
    return Comparison(records, differing)


# ----------------------------------------------------------------------------- formatting
def _ratio(a: int | None, b: int | None) -> float | None:
    return a / b if a is not None and b else None


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "all"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value != "" else "—"
