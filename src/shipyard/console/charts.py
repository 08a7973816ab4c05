"""Inline SVG charts for the console, drawn on the server (pure: numbers in, markup out).

No charting library and no script: a chart is a few dozen SVG elements styled by the page's CSS
classes (so light and dark schemes apply), each point carrying a ``<title>`` the browser shows as
a tooltip. Every chart sits beside a table of the same numbers for screen readers and copying.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["MetricPoint", "histogram_svg", "levels_svg", "metric_points", "metric_svg"]


@dataclass(frozen=True)
class MetricPoint:
    version: int
    value: float
    champion: bool = False


def metric_points(
    versions: Sequence[Any], metric: str, champion: int | None = None
) -> list[MetricPoint]:
    """One point per version (oldest first) that recorded ``metric`` with a finite value."""
    points = []
    for v in sorted(versions, key=lambda v: v.version):
        value = v.metrics.get(metric)
        if isinstance(value, int | float) and math.isfinite(value):
            points.append(MetricPoint(v.version, float(value), v.version == champion))
    return points


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def metric_svg(points: Sequence[MetricPoint], metric: str, *, width: int = 640) -> str:
    """A line of ``metric`` across versions; the champion's point is ringed."""
    if not points:
        return ""
    height, left, right, top, bottom = 220, 56, 16, 14, 34
    low = min(p.value for p in points)
    high = max(p.value for p in points)
    if high == low:  # a flat line: give it a band to sit in
        pad = abs(high) * 0.05 or 1.0
        low, high = low - pad, high + pad
    span_x = width - left - right
    span_y = height - top - bottom
    step = span_x / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if len(points) > 1 else span_x / 2)

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * span_y

    label = f"{metric} across {len(points)} versions"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{left}" y1="{top + span_y}" x2="{left + span_x}" '
        f'y2="{top + span_y}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + span_y}"/>',
    ]
    for value in (low, (low + high) / 2, high):
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{escape(_fmt(value))}</text>'
        )
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y(value):.1f}" x2="{left + span_x}" '
            f'y2="{y(value):.1f}"/>'
        )
    every = max(1, math.ceil(len(points) / 16))  # at most ~16 labels on the x axis
    for i, p in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">v{p.version}</text>'
            )
    path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
    parts.append(f'<polyline class="line" points="{path}"/>')
    for i, p in enumerate(points):
        ring = " champion" if p.champion else ""
        title = f"v{p.version}: {metric} = {_fmt(p.value)}" + (" (champion)" if p.champion else "")
        parts.append(
            f'<circle class="point{ring}" cx="{x(i):.1f}" cy="{y(p.value):.1f}" '
            f'r="{6 if p.champion else 4}"><title>{escape(title)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bars(
    heights: Sequence[float], titles: Sequence[str], label: str, width: int, height: int
) -> str:
    top = max(heights) if heights else 0
    if top <= 0:
        return ""
    gap = 1
    bar = (width - gap * (len(heights) - 1)) / len(heights)
    parts = [
        f'<svg class="hist" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (h, title) in enumerate(zip(heights, titles, strict=True)):
        bar_h = max(h / top * (height - 2), 1.0 if h > 0 else 0.0)
        parts.append(
            f'<rect class="bar" x="{i * (bar + gap):.1f}" y="{height - bar_h:.1f}" '
            f'width="{bar:.1f}" height="{bar_h:.1f}"><title>{escape(title)}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(
    feature: str, histogram: Mapping[str, Any] | None, *, width: int = 240, height: int = 64
) -> str:
    """Bars of a numeric feature's reference histogram (``{"edges", "counts"}``)."""
    if not histogram or not histogram.get("counts"):
        return ""
    edges = [e if e is not None else math.nan for e in histogram["edges"]]
    counts = [int(c) for c in histogram["counts"]]
    titles = [f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}): {counts[i]}" for i in range(len(counts))]
    return _bars(counts, titles, f"histogram of {feature}", width, height)


def levels_svg(
    feature: str,
    levels: Mapping[str, float] | None,
    *,
    top: int = 12,
    width: int = 240,
    height: int = 64,
) -> str:
    """Bars of a categorical feature's level shares, most frequent first (at most ``top``)."""
    if not levels:
        return ""
    shown = list(levels.items())[:top]
    titles = [f"{level}: {share:.1%}" for level, share in shown]
    return _bars([share for _, share in shown], titles, f"levels of {feature}", width, height)
