"""Metric curves over training steps (Train page live view, Runs page comparison).

Plotly rather than st.line_chart: several runs and metrics share one figure, with a
colour per run and a dash style per metric, and the figure is rebuilt in place every
refresh instead of appending to a chart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

from gan_core.health import GRAD_NORM_D, GRAD_NORM_G, METRIC_LABELS

MAX_POINTS = 500  # per line: more than a chart's width in pixels shows nothing more, and costs every refresh
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6",
            "#bab0ac")


def smooth(values: Iterable[float], weight: float) -> list[float]:
    """Exponential moving average, debiased like TensorBoard's so the first points are not pulled to 0.

    `weight` is how much of the running average each new point keeps (0: no smoothing).
    Non-finite values are passed through and do not disturb the average.
    """
    if not (0.0 <= weight < 1.0):
        raise ValueError(f"smoothing weight must be ≥ 0 and < 1 (got {weight!r})")
    out: list[float] = []
    avg, n = 0.0, 0
    for v in values:
        v = float(v)
        if not math.isfinite(v) or weight == 0.0:
            out.append(v)
            continue
        n += 1
        avg = weight * avg + (1.0 - weight) * v
        out.append(avg / (1.0 - weight**n))
    return out


def thin_points(values: Sequence[float], max_points: int) -> list[float]:
    """At most `max_points` evenly spaced values, always the last one."""
    n = len(values)
    if n <= max_points:
        return list(values)
    stride = math.ceil(n / (max_points - 1))
    kept = list(values[::stride])
    if (n - 1) % stride:
        kept.append(values[-1])
    return kept


def metric_label(metric: str) -> str:
    """A column's name in a legend; a per-layer-group gradient norm ("grad_norm_g/body.0") by its module path."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    network, sep, module = metric.partition("/")
    if sep and network in METRIC_LABELS:
        return module
    return metric.replace("_", " ")


def _smoothed(values: list[float], weight: float, log: bool) -> list[float]:
    """`smooth`, on the logarithms for a log axis (a geometric average): a spike 100x the level then lifts the curve
    as much as a dip to 1/100 lowers it, instead of holding it up for the next hundred points."""
    if not log:
        return smooth(values, weight)
    logs = [math.log(v) if v > 0 else math.nan for v in values]
    return [math.exp(a) if math.isfinite(a) else v for a, v in zip(smooth(logs, weight), values, strict=True)]


def metric_figure(
    series: dict[str, Sequence[dict[str, float]]],
    metrics: Sequence[str],
    *,
    smoothing: float = 0.0,
    title: str | None = None,
    y_title: str | None = None,
    max_points: int = MAX_POINTS,
    log_y: bool = False,
) -> go.Figure:
    """One line per (series name, metric) against "step"; rows without the metric are skipped.

    With one series the colours tell the metrics apart; with several, a colour per series
    and a dash style per metric (so "solid: D, dashed: G" holds for any number of runs).
    A (series, metric) pair with no points draws no line. Each line keeps at most `max_points` points
    (evenly spaced, the last always kept, after smoothing), so a long run costs the page no more than a short one.
    `log_y` draws the y axis on a log scale (and smooths the logarithms), for values spanning orders of magnitude.
    """
    fig = go.Figure()
    single = len(series) == 1
    for s_idx, (name, rows) in enumerate(series.items()):
        for m_idx, metric in enumerate(metrics):
            points = [(r["step"], r[metric]) for r in rows if metric in r and "step" in r]
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [float(p[1]) for p in points]
            ys = _smoothed(ys, smoothing, log_y) if smoothing else ys
            xs, ys = thin_points(xs, max_points), thin_points(ys, max_points)
            colour = _COLOURS[(m_idx if single else s_idx) % len(_COLOURS)]
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines",
                name=metric_label(metric) if single else f"{name} · {metric_label(metric)}",
                line={"color": colour, "dash": _DASHES[m_idx % len(_DASHES)], "width": 2},
                hovertemplate="step %{x:,}<br>%{y:.4g}<extra>%{fullData.name}</extra>",
            ))
    # Title on top, legend in a row under it (clear of the mode bar at the top right).
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "y": 0.98, "yanchor": "top"} if title else None,
        height=340, margin={"l": 10, "r": 10, "t": 70 if title else 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0.0},
        xaxis_title="step", yaxis_title=y_title, hovermode="x unified",
    )
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return fig


GRAD_NORMS = (GRAD_NORM_D, GRAD_NORM_G)  # D first, as in the losses chart: solid D, dashed G
NETWORK_NAMES = {GRAD_NORM_G: "G", GRAD_NORM_D: "D"}
NO_GRAD_NORMS = ("This run was trained before gradient norms were logged: its metrics.csv has no grad_norm_g or "
                 "grad_norm_d column (a run trained or resumed now logs them).")
NORMS_HELP = ("How large a push each network's update got (the L2 norm of its gradients, before Adam rescales them). "
              "Healthy: each wanders within a factor of a few around a level of its own. G's sinking by orders of "
              "magnitude is a vanishing gradient (D is winning); a jump of 100x in one row, an explosion. The "
              "README's “Reading gradient norms” says more.")
GROUPS_HELP = ("Each line is one module's own parameters (a convolution's weights and bias, a BatchNorm's scale and "
               "shift): the size of the gradient that step's update gave them. A group that stays orders of magnitude "
               "below its neighbours learns little; one that leaps above them is where an explosion starts.")


def has_grad_norms(rows: Iterable[dict[str, float]]) -> bool:
    """Whether any row logged a whole-network gradient norm (runs trained before they were logged have none)."""
    return any(m in r for r in rows for m in GRAD_NORMS)


def layer_columns(rows: Iterable[dict[str, float]], network: str) -> list[str]:
    """The per-layer-group columns of `network` ("grad_norm_g" or "grad_norm_d"), in the order metrics.csv has them."""
    prefix = f"{network}/"
    seen: dict[str, None] = {}  # an ordered set
    for row in rows:
        seen.update((k, None) for k in row if k.startswith(prefix))
    return list(seen)


def grad_norm_figure(series: dict[str, Sequence[dict[str, float]]], *, smoothing: float = 0.0,
                     title: str = "Gradient norms") -> go.Figure:
    """G's and D's whole-network gradient norms on a log axis (they span orders of magnitude over a run)."""
    return metric_figure(series, GRAD_NORMS, smoothing=smoothing, title=title,
                         y_title="L2 norm of the gradients", log_y=True)


def layer_figure(rows: Sequence[dict[str, float]], network: str, *, smoothing: float = 0.0) -> go.Figure | None:
    """One line per layer group of `network`, on a log axis, the legend (the module paths) at the right; None when
    the rows have no per-group column of it."""
    columns = layer_columns(rows, network)
    if not columns:
        return None
    fig = metric_figure({"": rows}, columns, smoothing=smoothing, log_y=True, y_title="L2 norm of the gradients",
                        title=f"{NETWORK_NAMES[network]}: gradient norm of each layer group's own parameters")
    fig.update_layout(legend={"orientation": "v", "yanchor": "top", "y": 1.0, "xanchor": "left", "x": 1.02})
    return fig


def layer_figures(rows: Sequence[dict[str, float]], *, smoothing: float = 0.0) -> dict[str, go.Figure | None]:
    """`layer_figure` of G, then of D (the generator first: it is what a person trains for)."""
    return {network: layer_figure(rows, network, smoothing=smoothing) for network in GRAD_NORMS[::-1]}


def truncation_figure(rows: Sequence[dict[str, float]]) -> go.Figure:
    """FID (left axis, lower is better) and precision and recall (right axis, 0–1) against the truncation ψ.

    Two axes because FID is unbounded while precision and recall are shares: on one axis either would be flat.
    """
    psis = [r["psi"] for r in rows]
    fig = go.Figure([
        go.Scatter(x=psis, y=[r["fid"] for r in rows], mode="lines+markers", name="FID (lower is better)",
                   line={"color": _COLOURS[0], "width": 2}, hovertemplate="ψ %{x}<br>FID %{y:.2f}<extra></extra>"),
        *(go.Scatter(x=psis, y=[r[m] for r in rows], mode="lines+markers", name=metric_label(m), yaxis="y2",
                     line={"color": _COLOURS[i], "width": 2, "dash": "dash"},
                     hovertemplate=f"ψ %{{x}}<br>{m} %{{y:.1%}}<extra></extra>")
          for i, m in ((1, "precision"), (2, "recall"))),
    ])
    fig.update_layout(
        height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10}, hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0.0},
        xaxis={"title": "truncation ψ (1 = no truncation)"},
        yaxis={"title": "FID", "rangemode": "tozero"},
        yaxis2={"title": "precision, recall", "overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%"},
    )
    return fig
