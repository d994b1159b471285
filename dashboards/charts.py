"""The dashboard's Altair charts: values with intervals, time series with thresholds and alerts, and the 2-D map."""

from __future__ import annotations

import altair as alt
import pandas as pd

VERDICT_COLORS = alt.Scale(domain=["pass", "fail", "inconclusive", "not paired", "only in one run"],
                           range=["#2e7d32", "#c62828", "#ef6c00", "#9e9e9e", "#bdbdbd"])
ALERT_COLORS = alt.Scale(domain=["firing", "resolved", "suppressed"], range=["#c62828", "#2e7d32", "#9e9e9e"])
WINDOW_SELECTION = "window"


def interval_chart(frame: pd.DataFrame, *, category: str, value: str = "value", low: str = "ci_low",
                   high: str = "ci_high", color: str | None = None, color_scale: alt.Scale | None = None,
                   reference_lines: dict[str, float] | None = None, unit_interval: bool = False,
                   axis_title: str | None = None, title: str = "") -> alt.LayerChart:
    """Horizontal points with error bars, one row per category (tasks, hazard categories, metric paths).

    Args:
        frame: one row per category with the value and the interval's bounds (bounds may be empty).
        category: the column on the y axis.
        value: the column of the point.
        low: the interval's lower bound.
        high: its upper bound.
        color: an optional column that colours the points (e.g. the verdict).
        color_scale: the colour scale for ``color``.
        reference_lines: vertical rules to draw, label to x value (e.g. ``{"margin": -0.02}``).
        unit_interval: the values are proportions: the axis is [0, 1] and intervals are clipped to it.
        axis_title: the x axis's title (default: ``value``).
        title: the chart's title.

    Returns:
        The layered chart.
    """
    scale = alt.Scale(domain=[0, 1], clamp=True) if unit_interval else alt.Undefined
    base = alt.Chart(frame).encode(y=alt.Y(f"{category}:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)))
    tooltip = [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=".4f"),
               alt.Tooltip(f"{low}:Q", format=".4f"), alt.Tooltip(f"{high}:Q", format=".4f")]
    bars = base.mark_rule(strokeWidth=2, color="#607d8b").encode(
        x=alt.X(f"{low}:Q", title=axis_title or value, scale=scale), x2=f"{high}:Q")
    points = base.mark_point(filled=True, size=90).encode(x=f"{value}:Q", tooltip=tooltip)
    if color is not None:
        points = points.encode(color=alt.Color(f"{color}:N", scale=color_scale or alt.Undefined, title=color))
    layers: list[alt.Chart] = [bars, points]
    for label, x in (reference_lines or {}).items():
        layers.append(alt.Chart().mark_rule(strokeDash=[4, 4], color="#455a64").encode(
            x=alt.datum(x), tooltip=alt.value(f"{label}: {x:+.4f}")))
    return alt.layer(*layers).properties(title=title, height=alt.Step(30))


def time_series(points: pd.DataFrame, *, metric: str, thresholds: pd.DataFrame, alerts: pd.DataFrame
                ) -> alt.LayerChart:
    """One window metric over time, with its alert rules' thresholds and the alerts raised on it.

    Args:
        points: the metric's windows: window_id, start, end, value, rows.
        metric: its name (the title).
        thresholds: rows of this metric's rules: rule, line (the threshold in the metric's units).
        alerts: this metric's alerts: window_end, value, kind, rule, message.

    Returns:
        The chart; clicking a window's point selects it (selection ``window`` on ``window_id``).
    """
    pick = alt.selection_point(name=WINDOW_SELECTION, fields=["window_id"], on="click")
    base = alt.Chart(points).encode(x=alt.X("end:T", title="window end (UTC)"),
                                    y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)))
    line = base.mark_line(color="#1565c0")
    dots = base.mark_circle(size=110, color="#1565c0").encode(
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("start:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("end:T", format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("value:Q", format=".4f"), "rows:Q", "window_id:N"]).add_params(pick)
    layers: list[alt.Chart] = [line, dots]
    if not thresholds.empty:
        layers.append(alt.Chart(thresholds).mark_rule(strokeDash=[6, 4], color="#c62828").encode(
            y="line:Q", tooltip=["rule:N", "op:N", alt.Tooltip("line:Q", format=".4f"), "against:N"]))
    if not alerts.empty:
        layers.append(alt.Chart(alerts).mark_point(shape="triangle-up", size=260, filled=True).encode(
            x="window_end:T", y="value:Q", color=alt.Color("kind:N", scale=ALERT_COLORS, title="alert"),
            tooltip=["rule:N", "kind:N", "severity:N", "message:N"]))
    return alt.layer(*layers).properties(title=metric, height=220)


def loss_chart(frame: pd.DataFrame) -> alt.Chart:
    """Training and evaluation loss by optimizer step."""
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("step:Q", title="optimizer step"), y=alt.Y("loss:Q", title="loss (nats/token)"),
        color=alt.Color("curve:N", title=None), tooltip=["curve:N", "step:Q", alt.Tooltip("loss:Q", format=".4f")],
    ).properties(title="Loss curves", height=220)


def descriptor_chart(frame: pd.DataFrame, descriptor: str) -> alt.Chart:
    """A per-request descriptor aggregated over time buckets (mean and p95 lines)."""
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("time:T", title="time (UTC)"), y=alt.Y("value:Q", title=descriptor),
        color=alt.Color("statistic:N", title=None),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "statistic:N",
                 alt.Tooltip("value:Q", format=".3f"), "requests:Q"]).properties(height=220)


def embedding_scatter(frame: pd.DataFrame, color: str) -> alt.Chart:
    """The 2-D map of prompt embeddings, one point per sampled request, coloured by window or by a flag."""
    encoding = alt.Color(f"{color}:N", title=color)
    return alt.Chart(frame).mark_circle(size=36, opacity=0.7).encode(
        x=alt.X("x:Q", title="PC 1"), y=alt.Y("y:Q", title="PC 2"), color=encoding,
        tooltip=["window:N", alt.Tooltip("timestamp:T", format="%Y-%m-%d %H:%M"), "request_id:N", "prompt:N"],
    ).properties(height=420).interactive()
