"""The physical limit of the default training step: FLOPs per image, the share of the machine's peak it reaches,
and where the time goes, in the step and in the loop around it.

    .venv/bin/python benchmarks/step_flops.py [--precision fp32 bf16] [--seconds 15] [--steps 20]
        [--loop-steps 300] [--warmup 10] [--quick]

1. FLOPs per trained image of the default preset's step (`GanStep.train_step`: one D update with the R1 penalty's
   double backward, one G update, the EMA), counted at the dispatch level: every aten op that torch's own
   `flop_registry` knows (convolutions, their backward, matmuls) is counted with torch's formula; elementwise ops
   (BatchNorm, activations, Adam, the EMA) count 0, as in `torch.utils.flop_counter`. Rows: the default step,
   the same without R1 and with lazy R1 (`r1_every` k: the preset's, else the field's default, else 16, as
   StyleGAN2), the mean over k consecutive steps. Counted in fp32 (autocast changes the dtypes, not the shapes).
2. Achieved GFLOP/s: images/s of `--seconds` of steps after a warm-up, times FLOPs/image, against a
   2048x2048 @ 2048x2048 matmul measured in the same run as the machine's peak (fp32; bf16 tensors for bf16),
   with torch on 2 threads and the config's `precision` set to each of `--precision`; the phases of the step are
   timed through hooks (G's forward, the optimisers' steps, the EMA).
3. Where the time goes: torch.profiler over `--steps` steps (top ops by self CPU time, and the same grouped), and
   the real `Trainer` loop for `--loop-steps` steps (the preset's cadences, in a temporary folder) split into the
   step, each cadence, publishing and the rest. With the preset's `eval_every` (1,000) a 300-step run does not
   evaluate: one evaluation is timed after the first run (cold, then warm) and the warm one is added once per
   `eval_every` steps.

Each section states the machine around it: the share of CPU time other guests stole from this VM (/proc/stat's
steal), the share other processes of this VM used (its busy time minus this process's) and the load average.
Run it alone on the machine: another process on the cores changes every number. `--quick` is a smoke run."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# isort: off
import gan_core  # noqa: F401  (first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)
import torch
# isort: on

from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from gan_core.config import FIELDS, TrainConfig
from gan_core.data import load_split
from gan_core.presets import DEFAULT_PRESET, preset_config
from gan_core.runtime import use_bf16
from gan_core.step import GanStep
from gan_core.training import Tick, Trainer, evaluate

THREADS = 2
CPU = torch.device("cpu")
PRECISIONS = ("fp32", "bf16")


def precision_fields(precision: str) -> dict[str, Any]:
    """The config fields that make the step train in `precision` ("fp32" or "bf16")."""
    return {"precision": precision}


def new_step(cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor) -> GanStep:
    """A GanStep as the trainer sets one up (`wrap`: channels_last under bf16)."""
    gan = GanStep(cfg, images, labels, device=CPU)
    gan.wrap()
    return gan


# ---------------------------------------------------------------------------------------------- the machine
def _cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as f:
        return [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal


@dataclass
class Machine:
    """Over a section: the load average at its start, the share of CPU time other guests stole from this VM
    (/proc/stat's steal), and the share of the cores' time other processes of this VM used (busy time minus ours)."""

    load: float = 0.0
    steal: float = 0.0
    others: float = 0.0

    def __str__(self) -> str:
        return f"steal {pct(self.steal)}, others {pct(self.others)}, load {self.load:.2f}"


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def watch() -> Iterator[Machine]:
    m = Machine(load=os.getloadavg()[0])
    before, own = _cpu_times(), _own_cpu()
    try:
        yield m
    finally:
        delta = [b - a for a, b in zip(before, _cpu_times(), strict=True)]
        total, busy = max(sum(delta), 1), delta[0] + delta[1] + delta[2] + delta[5] + delta[6]
        m.steal = delta[7] / total
        m.others = max(0.0, busy / total - (_own_cpu() - own) * os.sysconf("SC_CLK_TCK") / total)


def matmul_gflops(dtype: torch.dtype, seconds: float, n: int = 2048) -> float:
    """GFLOP/s of repeated n x n @ n x n matmuls in `dtype`: the machine's peak for dense maths here."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
    for _ in range(2):
        a @ b
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - t0) / 1e9


# ---------------------------------------------------------------------------------------------- phases of a step
class Phases:
    """Marks the phases of `GanStep.train_step` through hooks (G's forward, both optimisers' steps) and wrappers on
    the instance (`train_step`, `_update_ema`); times them and names the current one (for the FLOP tally)."""

    ORDER = ("batch and latents", "G forward (fakes)", "D forward, R1, D backward", "Adam step of D",
             "G update: D forward, backward through D and G", "Adam step of G", "EMA of G", "statistics (.item)")

    def __init__(self, gan: GanStep, label_ema: bool = False) -> None:
        self.current: str | None = None
        self.t = 0.0
        self.spent: Counter[str] = Counter()
        o = self.ORDER
        self.handles = [
            gan.G.register_forward_pre_hook(lambda *_: self.enter(o[1])),
            gan.G.register_forward_hook(lambda *_: self.enter(o[2])),
            gan.opt_d.register_step_pre_hook(lambda *_: self.enter(o[3])),
            gan.opt_d.register_step_post_hook(lambda *_: self.enter(o[4])),
            gan.opt_g.register_step_pre_hook(lambda *_: self.enter(o[5])),
            gan.opt_g.register_step_post_hook(lambda *_: self.enter(o[7])),
        ]
        step, ema = gan.train_step, gan._update_ema

        def train_step(measure: bool = False) -> dict[str, float]:
            self.enter(o[0])
            try:
                return step(measure=measure)
            finally:
                self.enter(None)

        def update_ema() -> None:
            self.enter(o[6])
            with record_function("EMA of G") if label_ema else contextlib.nullcontext():
                ema()
            self.enter(o[7])

        gan.train_step, gan._update_ema = train_step, update_ema  # type: ignore[method-assign]

    def enter(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.spent[self.current] += now - self.t
        self.current, self.t = phase, now

    def reset(self) -> None:
        self.spent.clear()


# ---------------------------------------------------------------------------------------------- FLOPs
def op_label(packet: Any, args: tuple[Any, ...]) -> str:
    """A row of the FLOP table: convolutions split by direction and transposition (and forward convolutions that a
    backward pass runs: R1's double backward), matmuls together."""
    name = packet.__name__
    if name in ("convolution", "_convolution"):
        kind = "conv_transpose forward" if args[6] else "conv forward"
        in_backward = torch._C._current_graph_task_id() != -1  # inside the autograd engine
        return kind + (" run by a backward (double backward)" if in_backward else "")
    if name == "convolution_backward":
        return "conv_transpose backward" if args[7] else "conv backward"
    if name in ("mm", "addmm", "bmm", "baddbmm"):
        return "matmul (linear layers)"
    return name


class FlopTally(TorchDispatchMode):
    """Counts every aten op's FLOPs with torch's own registry, as FlopCounterMode does (same calling convention,
    same decomposition of ops the registry lacks) but without its module tracker, which R1's double backward
    breaks. Tallies by op and by the step's phase."""

    def __init__(self, phases: Phases) -> None:
        super().__init__()
        self.phases = phases
        self.by_op: Counter[str] = Counter()
        self.by_phase: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in flop_registry and func is not torch.ops.prim.device.default:
            with self:
                r = func.decompose(*args, **kwargs)
                if r is not NotImplemented:
                    return r
        out = func(*args, **kwargs)
        if packet in flop_registry:
            n = flop_registry[packet](*args, **kwargs, out_val=out)
            self.by_op[op_label(packet, args)] += n
            self.by_phase[self.phases.current or "outside the step"] += n
        return out


@dataclass
class FlopCount:
    name: str
    steps: int
    images: int
    by_op: Counter[str]
    by_phase: Counter[str]

    @property
    def per_image(self) -> float:
        return sum(self.by_op.values()) / self.images


def count_flops(name: str, cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor, steps: int,
                warmup: int = 2) -> FlopCount:
    """FLOPs of `steps` steps after `warmup`, by op and by phase."""
    gan = new_step(cfg, images, labels)
    phases = Phases(gan)
    for _ in range(warmup):
        gan.train_step()
    tally = FlopTally(phases)
    with tally:
        for _ in range(steps):
            gan.train_step()
    return FlopCount(name, steps, steps * gan.batch, tally.by_op, tally.by_phase)


# ---------------------------------------------------------------------------------------------- speed
@dataclass
class Speed:
    precision: str
    images_per_sec: float
    steps: int
    phases: dict[str, float]  # seconds per step
    median: float  # seconds, the median step
    peak: float  # GFLOP/s of the matmul
    machine: Machine
    peak_machine: Machine


def time_steps(cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor, seconds: float,
               warmup: int) -> tuple[float, int, dict[str, float], float]:
    """Images/s over `seconds` of steps after `warmup`, each phase's seconds per step, and the median step's
    seconds (steps on a shared machine are not all alike)."""
    gan = new_step(cfg, images, labels)
    phases = Phases(gan)
    for _ in range(warmup):
        gan.train_step()
    phases.reset()
    times: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        gan.train_step()
        times.append(time.perf_counter() - t)
    elapsed, n = time.perf_counter() - t0, len(times)
    return n * gan.batch / elapsed, n, {k: v / n for k, v in phases.spent.items()}, statistics.median(times)


# ---------------------------------------------------------------------------------------------- the profiler
def op_group(ev: Any) -> str:
    """A profiler event's group, by the ranges it runs in (optimiser, EMA, autograd) and its own name."""
    name, ancestors = ev.name, []
    parent = ev.cpu_parent
    while parent is not None:
        ancestors.append(parent.name)
        parent = parent.cpu_parent
    if any(a.startswith("Optimizer.step") for a in ancestors) or name.startswith("Optimizer.step"):
        return "Adam (optimiser steps)"
    if any(a.startswith("Optimizer.zero_grad") for a in ancestors) or name.startswith("Optimizer.zero_grad"):
        return "zero_grad"
    if "EMA of G" in ancestors or name == "EMA of G":
        return "EMA of G (lerp_, buffer copies)"
    backward = "backward" in name or any(a.startswith("autograd::engine") for a in ancestors)
    if "conv" in name:
        return "convolution backward (R1's double backward incl.)" if backward else "convolution forward"
    if "batch_norm" in name:
        return "BatchNorm (forward and backward)"
    if name in ("aten::to", "aten::_to_copy", "aten::copy_") or any(a == "aten::_to_copy" for a in ancestors):
        return "dtype casts and copies (aten::to, _to_copy, copy_)"
    if name in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"):
        return "matmul (linear layers)"
    return "elementwise and other" + (" (backward)" if backward else "")


@dataclass
class Profile:
    precision: str
    steps: int
    wall: float  # seconds, profiled
    top: list[tuple[str, float, int]]  # name, self seconds, calls
    groups: dict[str, float]  # seconds
    total_self: float


def profile_steps(cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor, steps: int, precision: str,
                  warmup: int, top: int = 12) -> Profile:
    """torch.profiler over `steps` steps after a warm-up: top ops by self CPU time, and the same grouped."""
    gan = new_step(cfg, images, labels)
    Phases(gan, label_ema=True)
    for _ in range(warmup):
        gan.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            gan.train_step()
        wall = time.perf_counter() - t0
    averages = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in averages) / 1e6
    rows = [(e.key, e.self_cpu_time_total / 1e6, e.count) for e in averages[:top]]
    groups: Counter[str] = Counter()
    for ev in prof.events():
        groups[op_group(ev)] += ev.self_cpu_time_total / 1e6
    return Profile(precision, steps, wall, rows, dict(groups), total)


# ---------------------------------------------------------------------------------------------- the loop
class TimedCadence:
    """A cadence as the loop calls it, timed."""

    def __init__(self, inner: Any, spent: Counter[str]) -> None:
        self.inner, self.spent, self.phase, self.name = inner, spent, inner.phase, type(inner).__name__

    def __call__(self, tick: Tick) -> None:
        t0 = time.perf_counter()
        try:
            self.inner(tick)
        finally:
            self.spent[self.name] += time.perf_counter() - t0


CADENCES = ("Evaluation", "MetricsRows", "Heartbeat", "Grids", "Checkpoints")


@dataclass
class Loop:
    precision: str
    steps: int
    total: float
    parts: dict[str, float]  # seconds


def run_loop(cfg: TrainConfig, steps: int, root: Path, precision: str) -> tuple[Loop, Trainer]:
    """The real Trainer for `steps` steps, its wall time split into setup, the steps, each cadence, the rest of
    `_advance` (the stop agreement, the loss check, publishing the snapshot), the loop around it and the finish."""
    trainer = Trainer(cfg.replace(max_steps=steps, name=f"prof-{precision}"), runs_root=root)
    spent: Counter[str] = Counter()
    marks: dict[str, float] = {}
    cadences, advance = trainer._cadences, trainer._advance

    def timed_cadences() -> list[Any]:
        marks["setup"] = t = time.perf_counter()
        out = cadences()  # draws step 0's grid
        marks["grid0"] = time.perf_counter() - t
        spent["Grids"] += marks["grid0"]
        gan = trainer.gan
        assert gan is not None
        step = gan.train_step

        def train_step(measure: bool = False) -> dict[str, float]:
            t0 = time.perf_counter()
            try:
                return step(measure=measure)
            finally:
                spent["train_step"] += time.perf_counter() - t0

        gan.train_step = train_step  # type: ignore[method-assign]
        return [TimedCadence(c, spent) for c in out]

    def timed_advance(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return advance(*args, **kwargs)
        finally:
            marks["loop_end"] = time.perf_counter()
            spent["_advance"] += marks["loop_end"] - t0

    trainer._cadences, trainer._advance = timed_cadences, timed_advance  # type: ignore[method-assign]
    t0 = time.perf_counter()
    snap = trainer.run()
    t1 = time.perf_counter()
    if snap.status != "finished":
        raise RuntimeError(f"the loop run did not finish: {snap.status}: {snap.message}")
    in_cadences = sum(spent[c] for c in CADENCES) - marks["grid0"]  # those run inside _advance
    parts = {
        "setup (data, networks, run folder)": marks["setup"] - t0,
        "train_step": spent["train_step"],
        **{c: spent[c] for c in CADENCES},
        "publish and the rest of _advance": spent["_advance"] - spent["train_step"] - in_cadences,
        "the loop around _advance": marks["loop_end"] - marks["setup"] - spent["_advance"] - marks["grid0"],
        "finish (last grid, checkpoint, GIF)": t1 - marks["loop_end"],
    }
    return Loop(precision, steps, t1 - t0, parts), trainer


# ---------------------------------------------------------------------------------------------- tables
def table(head: list[str], rows: list[list[str]], align: str) -> str:
    """A markdown table; `align` has one letter per column, l or r."""
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    ap.add_argument("--seconds", type=float, default=15.0, help="timed steps per precision (after a warm-up)")
    ap.add_argument("--steps", type=int, default=20, help="steps under torch.profiler per precision")
    ap.add_argument("--warmup", type=int, default=10, help="steps before each timed or profiled section")
    ap.add_argument("--flop-steps", type=int, default=4, help="steps counted for FLOPs (a multiple of r1_every)")
    ap.add_argument("--loop-steps", type=int, default=300, help="steps of the real Trainer loop per precision")
    ap.add_argument("--peak-seconds", type=float, default=3.0, help="seconds of matmuls for the peak")
    ap.add_argument("--quick", action="store_true", help="a smoke run: everything short")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.steps, args.flop_steps, args.loop_steps, args.peak_seconds, args.warmup = 2.0, 4, 2, 40, 0.5, 3

    torch.set_num_threads(THREADS)
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    base = preset_config(DEFAULT_PRESET)
    print(f"# {started}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY "
          f"{os.environ.get('OMP_WAIT_POLICY')}; preset {DEFAULT_PRESET} (arch {base.arch}, batch {base.batch_size}, "
          f"R1 γ {base.r1_gamma:g}, r1_every {base.r1_every}, conditional {base.conditional}, EMA {base.ema:g}, precision "
          f"{base.precision}: {'bf16' if use_bf16(base.precision, CPU) else 'fp32'} here); load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"# command: .venv/bin/python benchmarks/step_flops.py {' '.join(sys.argv[1:])}".rstrip())
    data = load_split("train")
    images, labels = data.to_tensor(), torch.tensor(data.labels)  # a copy: the loaded array is read-only

    # ---- 1. FLOPs per image
    fp32 = precision_fields("fp32")
    variants: list[tuple[str, TrainConfig, int]] = [
        ("default step", preset_config(DEFAULT_PRESET, **fp32), args.flop_steps),
        ("without R1 (r1_gamma 0)", preset_config(DEFAULT_PRESET, **fp32, r1_gamma=0.0), args.flop_steps),
    ]
    if "r1_every" in FIELDS:  # lazy R1: the preset's k, else the field's default, else StyleGAN2's 16
        cfg = preset_config(DEFAULT_PRESET, **fp32)
        k = next(v for v in (cfg.r1_every, FIELDS["r1_every"].default, 16) if v > 1)
        steps = k * math.ceil(args.flop_steps / k)
        if cfg.r1_every > 1:
            variants[0] = (f"default step (lazy R1, r1_every {k}: mean of {k} steps)", cfg, steps)
            variants.append(("R1 every step (r1_every 1)", cfg.replace(r1_every=1), args.flop_steps))
        else:
            variants.append((f"lazy R1, r1_every {k} (mean of {k} steps)", cfg.replace(r1_every=k), steps))
    counts = [count_flops(name, cfg, images, labels, steps) for name, cfg, steps in variants]
    default = counts[0]
    print(f"\n## FLOPs per trained image (fp32, counted over {', '.join(str(c.steps) for c in counts)} steps after "
          f"2 of warm-up; matmuls and convolutions only, as torch.utils.flop_counter counts)\n")
    phase_names = [p for p in Phases.ORDER if any(c.by_phase[p] for c in counts)]
    print(table(["step", "MFLOP/image", "vs default", *[f"{p} MFLOP" for p in phase_names]],
                [[c.name, f"{c.per_image / 1e6:,.1f}", f"{c.per_image / default.per_image:.2f}x",
                  *[f"{c.by_phase[p] / c.images / 1e6:,.1f}" for p in phase_names]] for c in counts],
                "lrr" + "r" * len(phase_names)))
    ops = sorted(set().union(*(c.by_op for c in counts)), key=lambda o: -default.by_op[o])
    print()
    head = ["op"] + [h for c in counts for h in (f"{c.name}: MFLOP/image", "share")]
    rows = [[o] + [v for c in counts for v in (f"{c.by_op[o] / c.images / 1e6:,.1f}",
                                               pct(c.by_op[o] / max(sum(c.by_op.values()), 1)))] for o in ops]
    print(table(head, rows, "l" + "rr" * len(counts)))

    # ---- 2. achieved GFLOP/s against a matmul's
    speeds: list[Speed] = []
    for p in args.precision:
        cfg = preset_config(DEFAULT_PRESET, **precision_fields(p))
        with watch() as pm:
            peak = matmul_gflops(torch.bfloat16 if p == "bf16" else torch.float32, args.peak_seconds)
        with watch() as m:
            rate, n, ph, median = time_steps(cfg, images, labels, args.seconds, args.warmup)
        speeds.append(Speed(p, rate, n, ph, median, peak, m, pm))
    print(f"\n## Achieved GFLOP/s ({THREADS} threads; {args.seconds:g} s of steps after {args.warmup} of warm-up; the peak: "
          f"2048² matmuls for {args.peak_seconds:g} s, fp32, or bf16 tensors)\n")
    print(table(["precision", "steps", "ms/step: mean / median", "img/s", "GFLOP/s achieved", "matmul GFLOP/s (peak)",
                 "share of peak", "steal: steps / matmul", "others: steps / matmul", "load avg at start"],
                [[s.precision, f"{s.steps:,}", f"{1e3 * base.batch_size / s.images_per_sec:.0f} / {1e3 * s.median:.0f}",
                  f"{s.images_per_sec:,.0f}",
                  f"{s.images_per_sec * default.per_image / 1e9:,.1f}", f"{s.peak:,.0f}",
                  pct(s.images_per_sec * default.per_image / 1e9 / s.peak),
                  f"{pct(s.machine.steal)} / {pct(s.peak_machine.steal)}",
                  f"{pct(s.machine.others)} / {pct(s.peak_machine.others)}", f"{s.machine.load:.2f}"]
                 for s in speeds], "lrrrrrrrrr"))
    print("\nThe step's phases (ms per step, timed through hooks on G's forward and the optimisers' steps):\n")
    rows = []
    for ph in Phases.ORDER:
        flops = default.by_phase[ph] / default.steps
        cells = []
        for s in speeds:
            sec = s.phases.get(ph, 0.0)
            cells += [f"{1e3 * sec:.2f}", pct(sec / sum(s.phases.values())),
                      f"{flops / sec / 1e9:,.1f}" if flops and sec else "–"]
        rows.append([ph, f"{flops / 1e6:,.0f}", *cells])
    per_step = default.per_image * default.images / default.steps
    totals = [v for s in speeds for v in (f"{1e3 * sum(s.phases.values()):.2f}", "100 %",
                                          f"{per_step / sum(s.phases.values()) / 1e9:,.1f}")]
    rows.append(["**step**", f"{per_step / 1e6:,.0f}", *totals])
    print(table(["phase", "MFLOP/step", *[h for s in speeds for h in (f"{s.precision} ms", "share", "GFLOP/s")]],
                rows, "lr" + "rrr" * len(speeds)))

    # ---- 3a. the profiler
    for p in args.precision:
        cfg = preset_config(DEFAULT_PRESET, **precision_fields(p))
        with watch() as m:
            prof = profile_steps(cfg, images, labels, args.steps, p, args.warmup)
        print(f"\n## Profile, {p}: {prof.steps} steps, {1e3 * prof.wall / prof.steps:.1f} ms per step under the "
              f"profiler, self CPU {1e3 * prof.total_self / prof.steps:.1f} ms per step ({m})\n")
        print(table(["op", "self ms/step", "share", "calls/step"],
                    [[f"`{name}`", f"{1e3 * sec / prof.steps:.2f}", pct(sec / prof.total_self), f"{calls / prof.steps:g}"]
                     for name, sec, calls in prof.top], "lrrr"))
        print()
        print(table(["group", "self ms/step", "share"],
                    [[g, f"{1e3 * sec / prof.steps:.2f}", pct(sec / prof.total_self)]
                     for g, sec in sorted(prof.groups.items(), key=lambda kv: -kv[1]) if sec > 0], "lrr"))

    # ---- 3b. the loop
    loops: list[tuple[Loop, Machine]] = []
    eval_cold = eval_warm = 0.0
    with tempfile.TemporaryDirectory(prefix="step_flops-") as tmp:
        for p in args.precision:
            cfg = preset_config(DEFAULT_PRESET, **precision_fields(p))
            with watch() as m:
                loop, trainer = run_loop(cfg, args.loop_steps, Path(tmp), p)
            loops.append((loop, m))
            if not eval_warm and cfg.eval_every:
                assert trainer.gan is not None
                for i in range(2):
                    t0 = time.perf_counter()
                    evaluate(trainer.gan.sampler, trainer.config)
                    dt = time.perf_counter() - t0
                    eval_cold, eval_warm = (dt, eval_warm) if i == 0 else (eval_cold, dt)
    every = base.eval_every
    print(f"\n## The loop: the real Trainer, {args.loop_steps} steps of {DEFAULT_PRESET} (its cadences as the preset "
          f"has them; the run's folder in a temporary directory)\n")
    if every:
        print(f"No evaluation runs in {args.loop_steps} steps (eval_every {every}); one evaluation of "
              f"{base.eval_samples:,} samples, timed after the first run: {eval_cold:.2f} s cold (loading the "
              f"classifier and reference statistics), {eval_warm:.2f} s warm. The rows \"Evaluation (amortised)\" "
              f"add the warm one once per {every:,} steps: {eval_warm * args.loop_steps / every:.2f} s per "
              f"{args.loop_steps} steps.\n")
    head = ["part"] + [h for lp, _ in loops for h in (f"{lp.precision} s", "share")]
    names = list(loops[0][0].parts) if loops else []
    rows = []
    for name in names:
        rows.append([name] + [v for lp, _ in loops for v in (f"{lp.parts[name]:.2f}", pct(lp.parts[name] / lp.total))])
    rows.append(["**total wall**"] + [v for lp, _ in loops for v in (f"{lp.total:.2f}", "100 %")])
    if every:
        amort = eval_warm * args.loop_steps / every
        rows.append(["Evaluation (amortised, added)"] + [v for lp, _ in loops for v in (
            f"{amort:.2f}", pct(amort / (lp.total + amort)))])
        rows.append(["train_step share with it"] + [v for lp, _ in loops for v in (
            "", pct(lp.parts["train_step"] / (lp.total + amort)))])
    rows.append(["img/s over the whole wall (in train_step)"] + [v for lp, _ in loops for v in (
        f"{lp.steps * base.batch_size / lp.total:,.0f}", f"({lp.steps * base.batch_size / lp.parts['train_step']:,.0f})")])
    rows.append(["steal / others' CPU"] + [v for _, m in loops for v in (pct(m.steal), pct(m.others))])
    rows.append(["load avg at start"] + [v for _, m in loops for v in (f"{m.load:.2f}", "")])
    print(table(head, rows, "l" + "rr" * len(loops)))
    print(f"\n# finished {time.strftime('%Y-%m-%d %H:%M %Z')}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
