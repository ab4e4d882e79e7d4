"""Metric curves over training steps (Train page live view, Runs page comparison).

Plotly rather than st.line_chart: several runs and metrics share one figure, with a
colour per run and a dash style per metric, and the figure is rebuilt in place every
refresh instead of appending to a chart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

METRIC_LABELS = {
    "d_loss": "D loss",
    "g_loss": "G loss",
    "d_real": "D(x)",
    "d_fake": "D(G(z))",
    "fid": "FID",
    "coverage_classes": "classes covered",
    "coverage_kl": "coverage KL",
    "images_per_sec": "images/s",
    "time_s": "time (s)",
    "epoch": "epoch",
}
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
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def metric_figure(
    series: dict[str, Sequence[dict[str, float]]],
    metrics: Sequence[str],
    *,
    smoothing: float = 0.0,
    title: str | None = None,
    y_title: str | None = None,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """One line per (series name, metric) against "step"; rows without the metric are skipped.

    With one series the colours tell the metrics apart; with several, a colour per series
    and a dash style per metric (so "solid: D, dashed: G" holds for any number of runs).
    A (series, metric) pair with no points draws no line. Each line keeps at most `max_points` points
    (evenly spaced, the last always kept, after smoothing), so a long run costs the page no more than a short one.
    """
    fig = go.Figure()
    single = len(series) == 1
    for s_idx, (name, rows) in enumerate(series.items()):
        for m_idx, metric in enumerate(metrics):
            points = [(r["step"], r[metric]) for r in rows if metric in r and "step" in r]
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = smooth([p[1] for p in points], smoothing) if smoothing else [float(p[1]) for p in points]
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
    return fig


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
