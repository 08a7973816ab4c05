"""The Monitoring page's charts: series from recorded run reports, and their inline SVG (pure).

Two kinds of chart, drawn on the server like :mod:`shipyard.console.charts` (no script; CSS
classes carry the colours, so light and dark schemes apply; every mark has a ``<title>``):

- a **series over time** (:func:`series_svg`): one point per recorded run at its window's end,
  with a dashed guide line (a drift test's threshold, a metric's registered value). A p-value
  is drawn on a log axis, where the values that matter (0.05 against 1e-12) are told apart;
- a **distribution overlay** (:func:`overlay_svg`): the current window's binned shares drawn
  over the reference's, as densities on one value axis when the two were binned differently
  (the reference profile's bins and the report's), or level by level for categories.

:func:`drift_series` and :func:`performance_series` read the reports exactly as the monitor
recorded them (``MonitorResult.to_dict()``): nothing is recomputed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = [
    "Bins",
    "Point",
    "Series",
    "drift_series",
    "overlay_svg",
    "performance_series",
    "profile_bins",
    "report_bins",
    "series_svg",
]

P_FLOOR = 1e-16
"""The smallest p-value drawn (a test may report 0): below it, double precision says nothing
and the log axis would only squash the rest."""
OTHER = "(other)"


@dataclass(frozen=True)
class Point:
    """One run's value: ``at`` its window's end (epoch seconds), ``guide`` the line it is read
    against (None: none), ``flagged`` drawn as an alarm (a drifted feature)."""

    at: float
    value: float
    guide: float | None = None
    flagged: bool = False
    title: str = ""


@dataclass(frozen=True)
class Series:
    """A figure over time. ``scale``: ``p_value`` (drift below the guide), ``distance`` (drift
    at or above it) or ``metric`` (the guide is the registered value)."""

    name: str
    scale: str
    points: tuple[Point, ...]
    test: str = ""
    rule: str = ""

    @property
    def flagged_now(self) -> bool:
        return bool(self.points) and self.points[-1].flagged


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _drift_point(at: float, entry: Mapping[str, Any]) -> tuple[str, Point] | None:
    """A feature's score in one report: its p-value (adjusted when the report has one) for a
    p-value test, else its distance; None when no test ran."""
    p = _finite(entry.get("p_adjusted"))
    p = p if p is not None else _finite(entry.get("p_value"))
    threshold = _finite(entry.get("threshold"))
    drifted = bool(entry.get("drifted"))
    verdict = "drift" if drifted else "no drift"
    if p is not None:
        title = f"{_stamp(at)}: p = {p:.3g} ({entry.get('test')}; {verdict})"
        return "p_value", Point(at, p, threshold, drifted, title)
    statistic = _finite(entry.get("statistic"))
    if statistic is None:
        return None
    title = f"{_stamp(at)}: {entry.get('test')} = {statistic:.4g} ({verdict})"
    return "distance", Point(at, statistic, threshold, drifted, title)


def drift_series(reports: Sequence[Mapping[str, Any]]) -> list[Series]:
    """Each feature's drift score across ``reports`` (oldest first), then the model's
    prediction and target drift as ``(prediction)`` and ``(target)``. A feature's series holds
    the runs that ran the newest run's test on it (a new version may be judged by another)."""
    found: dict[str, list[tuple[str, str, str, Point]]] = {}
    for report in reports:
        at = _epoch(report.get("window_end"))
        drift = report.get("drift")
        if at is None:
            continue
        entries = list((drift or {}).get("features") or [])
        for label in ("prediction", "target"):
            extra = report.get(f"{label}_drift")
            if extra:
                entries.append({**extra, "name": f"({label})"})
        for entry in entries:
            scored = _drift_point(at, entry)
            if scored is not None:
                scale, point = scored
                found.setdefault(str(entry.get("name")), []).append(
                    (scale, str(entry.get("test", "")), str(entry.get("rule", "")), point)
                )
    out = []
    for name, points in found.items():
        scale, test, rule, _ = points[-1]
        kept = tuple(p for s, t, _, p in points if s == scale and t == test)
        out.append(Series(name, scale, kept, test, rule))
    # the features first, in the newest report's order; prediction and target last
    return sorted(out, key=lambda s: s.name.startswith("("))


def performance_series(reports: Sequence[Mapping[str, Any]]) -> list[Series]:
    """Each performance metric across the reports that had labels, against its registered
    value."""
    found: dict[str, list[Point]] = {}
    for report in reports:
        at = _epoch(report.get("window_end"))
        perf = report.get("performance") or {}
        if at is None or not perf.get("n_labelled"):
            continue
        registered = perf.get("registered") or {}
        for name, value in (perf.get("metrics") or {}).items():
            number = _finite(value)
            if number is None:
                continue
            guide = _finite(registered.get(name))
            title = f"{_stamp(at)}: {name} = {number:.4g} on {perf['n_labelled']} labelled rows"
            if guide is not None:
                title += f" (registered {guide:.4g})"
            found.setdefault(str(name), []).append(Point(at, number, guide, False, title))
    return [Series(name, "metric", tuple(points)) for name, points in found.items()]


def series_svg(series: Series, *, width: int = 320, height: int = 128) -> str:
    """One series over time with its guide line; "" when it has no point."""
    points = series.points
    if not points:
        return ""
    log = series.scale == "p_value"

    def scaled(value: float) -> float:
        return math.log10(max(value, P_FLOOR)) if log else value

    values = [scaled(p.value) for p in points]
    guides = [scaled(p.guide) for p in points if p.guide is not None]
    low, high = min(values + guides), max(values + guides)
    if log:
        high = max(high, 0.0)  # p = 1 at the top
    if high == low:
        pad = abs(high) * 0.05 or 1.0
        low, high = low - pad, high + pad
    left, right, top, bottom = 52, 10, 8, 22
    span_x, span_y = width - left - right, height - top - bottom
    first, last = points[0].at, points[-1].at

    def x(at: float) -> float:
        return left + (span_x * (at - first) / (last - first) if last > first else span_x / 2)

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * span_y

    def tick(value: float) -> str:
        return f"{10**value if log else value:.2g}"

    label = _describe(series)
    parts = [
        f'<svg class="chart spark" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{left}" y1="{top + span_y}" x2="{left + span_x}" '
        f'y2="{top + span_y}"/>',
    ]
    for value in (low, high):
        parts.append(
            f'<text class="tick" x="{left - 4}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{escape(tick(value))}</text>'
        )
    parts.append(
        f'<text class="tick" x="{left}" y="{height - 6}">{escape(_stamp(first)[5:16])}</text>'
    )
    if last > first:
        parts.append(
            f'<text class="tick" x="{left + span_x}" y="{height - 6}" '
            f'text-anchor="end">{escape(_stamp(last)[5:16])}</text>'
        )
    guided = [(p.at, p.guide) for p in points if p.guide is not None]
    if guided:
        if len({g for _, g in guided}) == 1:  # one value throughout: across the whole chart
            level = y(scaled(guided[0][1]))
            path = f"{left},{level:.1f} {left + span_x},{level:.1f}"
        else:
            path = " ".join(f"{x(at):.1f},{y(scaled(g)):.1f}" for at, g in guided)
        name = "registered" if series.scale == "metric" else "threshold"
        parts.append(
            f'<polyline class="guide" points="{path}"><title>{name} '
            f"{escape(_fmt(guided[-1][1]))}</title></polyline>"
        )
    if len(points) > 1:
        path = " ".join(f"{x(p.at):.1f},{y(v):.1f}" for p, v in zip(points, values, strict=True))
        parts.append(f'<polyline class="line" points="{path}"/>')
    for p, v in zip(points, values, strict=True):
        cls = "point flagged" if p.flagged else "point"
        parts.append(
            f'<circle class="{cls}" cx="{x(p.at):.1f}" cy="{y(v):.1f}" r="{4 if p.flagged else 3}">'
            f"<title>{escape(p.title)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _describe(series: Series) -> str:
    n = len(series.points)
    runs = f"{n} run{'s' if n != 1 else ''}"
    if series.scale == "p_value":
        return f"{series.name}: p-value of {series.test} over {runs} ({series.rule} is drift)"
    if series.scale == "distance":
        return f"{series.name}: {series.test} distance over {runs} ({series.rule} is drift)"
    return f"{series.name} over {runs}, against its registered value"


# -- distributions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bins:
    """Binned shares of one feature: ``numeric`` over ``edges`` (one more than ``shares``),
    or ``categorical`` by ``levels``."""

    kind: str
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()


def profile_bins(entry: Mapping[str, Any] | None) -> Bins | None:
    """The reference profile's bins of a feature (its histogram, or its level shares and the
    share of the levels it does not list)."""
    if not entry:
        return None
    if entry.get("kind") == "numeric":
        hist = entry.get("histogram") or {}
        edges = [_finite(e) for e in hist.get("edges") or []]
        counts = [float(c) for c in hist.get("counts") or []]
        total = sum(counts)
        if not counts or total <= 0 or len(edges) != len(counts) + 1 or None in edges:
            return None
        return Bins(
            "numeric", tuple(c / total for c in counts), tuple(e for e in edges if e is not None)
        )
    levels = entry.get("levels")
    if not levels:
        return None
    names = [str(k) for k in levels]
    shares = [float(v) for v in levels.values()]
    other = _finite(entry.get("other")) or 0.0
    if other > 0:
        names.append(OTHER)
        shares.append(other)
    return Bins("categorical", tuple(shares), levels=tuple(names))


def report_bins(hist: Mapping[str, Any] | None, side: str) -> Bins | None:
    """One side (``reference`` or ``current``) of a run report's histogram of a feature."""
    if not hist:
        return None
    shares = [_finite(v) for v in hist.get(side) or []]
    if not shares or None in shares:
        return None
    values = tuple(v for v in shares if v is not None)
    if hist.get("kind") == "numeric":
        edges = [_finite(e) for e in hist.get("edges") or []]
        if len(edges) != len(values) + 1 or None in edges:
            return None
        return Bins("numeric", values, tuple(e for e in edges if e is not None))
    levels = tuple(str(v) for v in hist.get("levels") or [])
    return Bins("categorical", values, levels=levels) if len(levels) == len(values) else None


def overlay_svg(
    feature: str, reference: Bins, current: Bins, *, width: int = 360, height: int = 150
) -> str:
    """The current window's distribution over the reference's; "" when they cannot be drawn
    together (a numeric side against a categorical one, or nothing to draw)."""
    if reference.kind != current.kind:
        return ""
    if current.kind == "numeric":
        return _numeric_overlay(feature, reference, current, width, height)
    return _level_overlay(feature, reference, current, width, height)


def _svg_open(feature: str, width: int, height: int) -> str:
    label = f"{feature}: current window over the reference"
    return (
        f'<svg class="chart overlay" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    )


def _densities(bins: Bins) -> list[tuple[float, float, float, float]]:
    """(low, high, share, density) of each bin of positive width."""
    out = []
    for i, share in enumerate(bins.shares):
        low, high = bins.edges[i], bins.edges[i + 1]
        if high > low:
            out.append((low, high, share, share / (high - low)))
    return out


def _numeric_overlay(feature: str, ref: Bins, cur: Bins, width: int, height: int) -> str:
    ref_bins, cur_bins = _densities(ref), _densities(cur)
    if not ref_bins or not cur_bins:
        return ""
    lo = min(ref_bins[0][0], cur_bins[0][0])
    hi = max(ref_bins[-1][1], cur_bins[-1][1])
    peak = max(d for *_, d in ref_bins + cur_bins)
    if hi <= lo or peak <= 0:
        return ""
    left, right, top, bottom = 6, 6, 6, 20
    span_x, base = width - left - right, height - bottom

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * span_x

    parts = [_svg_open(feature, width, height)]
    for cls, name, bins in (("ref", "reference", ref_bins), ("cur", "current", cur_bins)):
        for low, high, share, density in bins:
            h = density / peak * (base - top)
            parts.append(
                f'<rect class="{cls}" x="{x(low):.1f}" y="{base - h:.1f}" '
                f'width="{max(x(high) - x(low), 0.5):.1f}" height="{h:.1f}">'
                f"<title>[{_fmt(low)}, {_fmt(high)}): {name} {share:.1%}</title></rect>"
            )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{base}" x2="{left + span_x}" y2="{base}"/>'
        f'<text class="tick" x="{left}" y="{height - 5}">{escape(_fmt(lo))}</text>'
        f'<text class="tick" x="{left + span_x}" y="{height - 5}" text-anchor="end">'
        f"{escape(_fmt(hi))}</text></svg>"
    )
    return "".join(parts)


def _level_overlay(feature: str, ref: Bins, cur: Bins, width: int, height: int) -> str:
    levels = list(cur.levels)
    if not levels:
        return ""
    by_level = dict(zip(ref.levels, ref.shares, strict=True))
    ref_shares = []
    for level in levels:
        if level == OTHER:  # what the reference has outside the levels shown
            listed = sum(by_level.get(v, 0.0) for v in levels if v != OTHER)
            ref_shares.append(max(0.0, 1.0 - listed))
        else:
            ref_shares.append(by_level.get(level, 0.0))
    peak = max([*ref_shares, *cur.shares])
    if peak <= 0:
        return ""
    left, right, top, bottom = 6, 6, 6, 20
    slot = (width - left - right) / len(levels)
    base = height - bottom
    parts = [_svg_open(feature, width, height)]
    for i, level in enumerate(levels):
        x0 = left + i * slot
        for cls, name, share, inset in (
            ("ref", "reference", ref_shares[i], 0.1),
            ("cur", "current", cur.shares[i], 0.3),
        ):
            h = share / peak * (base - top)
            parts.append(
                f'<rect class="{cls}" x="{x0 + slot * inset:.1f}" y="{base - h:.1f}" '
                f'width="{slot * (1 - 2 * inset):.1f}" height="{h:.1f}">'
                f"<title>{escape(level)}: {name} {share:.1%}</title></rect>"
            )
        short = (
            level
            if len(level) <= max(int(slot / 7), 3)
            else level[: max(int(slot / 7), 3) - 1] + "…"
        )
        parts.append(
            f'<text class="tick" x="{x0 + slot / 2:.1f}" y="{height - 5}" '
            f'text-anchor="middle">{escape(short)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/></svg>'
    )
    return "".join(parts)
