"""Runs side by side: what differs in their configs, how big their networks are, how fast and how good.

Report 002 judged its second GAN by printing "Discriminator Size Ratio: 25.6%"
next to the samples; report 001 by ablations that change one field at a time.
A `Comparison` gives both for any set of run folders: the config fields that
differ, G and D sizes relative to the first run, speed and the final metrics.

Also here: renaming and deleting a run folder, which both refuse the run that
is training (deleting it would pull the folder out from under the trainer).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_core.config import ConfigError, ModelConfig, TrainConfig
from gan_core.runs import RunDir, default_runs_root, list_runs
from gan_core.training import ACTIVE

RATE_ROWS = 5        # images/s is the mean of this many last metric rows (each already a moving average)
LIVE_WINDOW_S = 120  # a run whose files changed this recently, with an active status, is training somewhere
INTERRUPTED = "interrupted"  # shown for an active status whose files went quiet: the process died mid-run


@dataclass(frozen=True)
class RunRecord:
    """One run folder, summarised for listings and comparisons."""

    name: str
    path: Path
    preset: str
    arch: str
    created: float               # seconds since the epoch
    status: str
    steps: int
    total_steps: int
    wall_time_s: float
    images_per_sec: float | None
    d_loss: float | None
    g_loss: float | None
    fid: float | None
    coverage_classes: float | None
    coverage_kl: float | None
    g_params: int | None
    d_params: int | None
    config: TrainConfig | None
    error: str = ""              # why the config could not be read (the run is listed anyway)

    @property
    def created_date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created)) if self.created else "—"

    @property
    def total_params(self) -> int | None:
        return self.g_params + self.d_params if self.g_params is not None and self.d_params is not None else None

    def row(self) -> dict[str, Any]:
        """The listing row (plain values, for a table or a dataframe)."""
        return {
            "name": self.name, "preset": self.preset or "—", "arch": self.arch, "created": self.created_date,
            "status": self.status, "steps": self.steps, "wall_time_s": round(self.wall_time_s, 1),
            "images_per_sec": _round(self.images_per_sec, 0), "d_loss": _round(self.d_loss, 3),
            "g_loss": _round(self.g_loss, 3), "fid": _round(self.fid, 2), "coverage_classes": self.coverage_classes,
        }


@functools.lru_cache(maxsize=64)
def parameter_counts(model: ModelConfig) -> tuple[int, int]:
    """(G, D) totals as the Keras-style summaries count them (BatchNorm statistics included)."""
    from gan_core.models import build_discriminator, build_generator, summarize

    return summarize(build_generator(model)).total, summarize(build_discriminator(model)).total


def run_record(run: RunDir) -> RunRecord:
    status = run.read_status()
    config: TrainConfig | None = None
    error = ""
    try:
        config = run.read_config()
    except ConfigError as exc:  # an unreadable config.json still lists the run, so it can be deleted
        error = str(exc)
    rows = read_metrics_safely(run)
    g_params = d_params = None
    if config is not None:
        try:
            g_params, d_params = parameter_counts(config.model_config())
        except (ValueError, RuntimeError) as exc:
            error = f"cannot build its networks: {exc}"
    last = rows[-1] if rows else {}
    rates = [r["images_per_sec"] for r in rows[-RATE_ROWS:] if "images_per_sec" in r]
    steps = int(max(status.get("step", 0), last.get("step", 0)))
    # status.json's wall time is written at checkpoints; a live run's last metrics row is newer.
    wall = float(max(status.get("wall_time_s", 0.0), last.get("time_s", 0.0)))
    state = status.get("status", "unknown")
    if state in ACTIVE and not _recently_written(run):
        state = INTERRUPTED  # trainers rewrite status.json every HEARTBEAT_S while active
    return RunRecord(
        name=run.name, path=run.path,
        preset=config.preset if config else "", arch=config.arch if config else "?",
        created=created_time(run), status=state, steps=steps,
        total_steps=int(status.get("total_steps", 0)), wall_time_s=wall,
        images_per_sec=sum(rates) / len(rates) if rates else None,
        d_loss=last.get("d_loss"), g_loss=last.get("g_loss"),
        fid=_last(rows, "fid"), coverage_classes=_last(rows, "coverage_classes"), coverage_kl=_last(rows, "coverage_kl"),
        g_params=g_params, d_params=d_params, config=config, error=error,
    )


def read_metrics_safely(run: RunDir) -> list[dict[str, float]]:
    """The metrics rows ([] when the file cannot be read; RunDir already skips a line cut short by a crash)."""
    try:
        return run.read_metrics()
    except OSError:
        return []


def created_time(run: RunDir) -> float:
    """When the run started: config.json is rewritten on resume, the step-0 grid is not."""
    times = [p.stat().st_mtime for p in (run.config_path, run.samples_dir / "step_0000000.png") if p.exists()]
    return min(times) if times else 0.0


def list_records(root: Path | None = None) -> list[RunRecord]:
    """Every run under `root`, newest first."""
    return sorted((run_record(r) for r in list_runs(root)), key=lambda r: r.created, reverse=True)


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
            ("G parameters", [_int(r.g_params) for r in self.records]),
            ("D parameters", [_int(r.d_params) for r in self.records]),
            ("G + D parameters", [_int(r.total_params) for r in self.records]),
            (f"G size ratio vs {first}", [_pct(x["G"]) for x in ratios]),
            (f"D size ratio vs {first}", [_pct(x["D"]) for x in ratios]),
            (f"GAN size ratio vs {first}", [_pct(x["GAN"]) for x in ratios]),
        ]
        speed = [
            ("images/s", [_num(r.images_per_sec, 0) for r in self.records]),
            ("wall time", [_duration(r.wall_time_s) for r in self.records]),
            ("steps", [f"{r.steps:,}" for r in self.records]),
            ("status", [r.status for r in self.records]),
        ]
        final = [
            ("D loss", [_num(r.d_loss, 3) for r in self.records]),
            ("G loss", [_num(r.g_loss, 3) for r in self.records]),
            ("FID", [_num(r.fid, 2) for r in self.records]),
            ("classes covered", [_num(r.coverage_classes, 0) for r in self.records]),
            ("coverage KL", [_num(r.coverage_kl, 3) for r in self.records]),
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


# ----------------------------------------------------------------------------- rename and delete
def rename_run(run: RunDir, new_name: str, active_run_name: str | None = None) -> RunDir:
    """Rename the folder and the name in its config.json; returns the renamed run."""
    new_name = new_name.strip()
    if not new_name:
        raise ValueError("the new name is empty: type a name for the run")
    if new_name == run.name:
        raise ValueError(f"the run is already named {new_name!r}")
    config = run.read_config()
    config.replace(name=new_name)  # the same rule as a new run's name (raises ConfigError)
    _refuse_if_training(run, active_run_name, "rename")
    target = run.path.parent / new_name
    if target.exists():
        raise ValueError(f"a run named {new_name!r} already exists in {run.path.parent}: pick another name")
    created = run.config_path.stat()
    run.path.rename(target)
    renamed = RunDir(target)
    try:
        renamed.write_config(config.replace(name=new_name))
        os.utime(renamed.config_path, (created.st_atime, created.st_mtime))  # listings keep their order
    except OSError:
        target.rename(run.path)
        raise
    return renamed


def delete_run(run: RunDir, active_run_name: str | None = None, *, runs_root: Path | None = None) -> None:
    """Remove a run folder with its checkpoints; only ever a run folder directly inside the runs root."""
    root = Path(runs_root or default_runs_root()).resolve()
    if run.path.is_symlink() or run.path.resolve().parent != root:
        raise ValueError(f"{run.path} is not a run folder inside {root}: refusing to delete it")
    if not run.config_path.is_file():
        raise ValueError(f"{run.path} is not a run folder (no config.json): refusing to delete it")
    _refuse_if_training(run, active_run_name, "delete")
    shutil.rmtree(run.path)


def training_elsewhere(run: RunDir, within_s: float = LIVE_WINDOW_S) -> bool:
    """True when another process (a terminal `train`) seems to be writing this run right now."""
    return run.read_status().get("status") in ACTIVE and _recently_written(run, within_s)


def _recently_written(run: RunDir, within_s: float = LIVE_WINDOW_S) -> bool:
    times = [p.stat().st_mtime for p in (run.status_path, run.metrics_path) if p.exists()]
    return bool(times) and time.time() - max(times) < within_s


def _refuse_if_training(run: RunDir, active_run_name: str | None, verb: str) -> None:
    if active_run_name and run.name == active_run_name:
        raise ValueError(f"run {run.name!r} is training: stop it on the Train page before you {verb} it")
    if training_elsewhere(run):
        raise ValueError(f"run {run.name!r} is being written by another process (its status is "
                         f"{run.read_status().get('status')!r} and its files changed in the last "
                         f"{LIVE_WINDOW_S} s): stop that training before you {verb} it")


# ----------------------------------------------------------------------------- CLI
def resolve_run(arg: str, root: Path | None = None) -> RunDir:
    """A run from a folder path or from a name under the runs root."""
    path = Path(arg)
    if not path.is_dir():
        path = Path(root or default_runs_root()) / arg
    run = RunDir(path)
    if not run.config_path.is_file():
        where = f"{Path(arg)} or {path}" if str(path) != arg else arg
        raise ValueError(f"{where} is not a run folder (no config.json); `python -m gan_core runs` lists the runs")
    return run


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run folders or run names")
    p.add_argument("--runs-root", default=None, help="where run names are looked up (default: ./runs or $GAN_STUDIO_RUNS)")


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ValueError(f"compare needs at least two runs (got {len(args.runs)}): "
                         "python -m gan_core compare RUN RUN [RUN ...]")
    root = Path(args.runs_root) if args.runs_root else None
    print(compare_runs([resolve_run(a, root) for a in args.runs]).table())
    return 0


def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-root", default=None, help="folder holding run folders (default: ./runs or $GAN_STUDIO_RUNS)")


def cmd_runs(args: argparse.Namespace) -> int:
    root = Path(args.runs_root) if args.runs_root else default_runs_root()
    records = list_records(root)
    if not records:
        print(f"no runs in {root} (train one: python -m gan_core train --preset studio)")
        return 0
    header = ["name", "preset", "created", "status", "steps", "wall time", "img/s", "D loss", "G loss", "FID",
              "classes"]
    rows = [[r.name, r.preset or "—", r.created_date, r.status, f"{r.steps:,}", _duration(r.wall_time_s),
             _num(r.images_per_sec, 0), _num(r.d_loss, 3), _num(r.g_loss, 3), _num(r.fid, 2),
             _num(r.coverage_classes, 0)] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())
    for r in records:
        if r.error:
            print(f"warning: {r.name}: {r.error}")
    return 0


COMMANDS = [
    ("compare", "compare two or more runs: config differences, G/D sizes and ratios, speed, final metrics",
     _compare_args, cmd_compare),
    ("runs", "list runs", _runs_args, cmd_runs),
]


# ----------------------------------------------------------------------------- formatting
def _last(rows: list[dict[str, float]], key: str) -> float | None:
    return next((r[key] for r in reversed(rows) if key in r), None)


def _ratio(a: int | None, b: int | None) -> float | None:
    return a / b if a is not None and b else None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _int(x: int | None) -> str:
    return "—" if x is None else f"{x:,}"


def _num(x: float | None, digits: int) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}".replace("%", " %")


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "all"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value != "" else "—"


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
