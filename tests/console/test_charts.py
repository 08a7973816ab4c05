"""The console's inline SVG charts: one point per version with the metric, the champion ringed,
bars per histogram bin or level."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

from shipyard.console.charts import histogram_svg, levels_svg, metric_points, metric_svg


def _v(version: int, **metrics: float) -> SimpleNamespace:
    return SimpleNamespace(version=version, metrics=metrics)


def test_points_skip_versions_without_a_finite_value() -> None:
    versions = [_v(3, auc=0.7), _v(1, auc=0.6), _v(2, rmse=4.0), _v(4, auc=math.nan)]
    points = metric_points(versions, "auc", champion=3)
    assert [(p.version, p.value, p.champion) for p in points] == [(1, 0.6, False), (3, 0.7, True)]


def test_the_metric_line_has_a_point_per_version_and_rings_the_champion() -> None:
    points = metric_points([_v(i, auc=0.5 + i / 100) for i in range(1, 6)], "auc", champion=4)
    svg = metric_svg(points, "auc")
    assert svg.count("<circle") == 5
    assert svg.count('class="point champion"') == 1
    assert "v4: auc = 0.54 (champion)" in svg
    ys = [float(y) for y in re.findall(r'<circle[^>]*cy="([\d.]+)"', svg)]
    assert ys == sorted(ys, reverse=True)  # a rising metric climbs (SVG y grows downwards)
    assert metric_svg([], "auc") == ""


def test_a_flat_metric_still_draws() -> None:
    svg = metric_svg(metric_points([_v(1, a=2.0), _v(2, a=2.0)], "a"), "a")
    assert svg.count("<circle") == 2 and "nan" not in svg


def test_histograms_and_levels_draw_one_bar_each_and_escape_names() -> None:
    svg = histogram_svg("x<y", {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [5, 0, 2]})
    assert svg.count("<rect") == 3 and "x&lt;y" in svg and "[1, 2): 0" in svg
    bars = levels_svg("plan", {"basic": 0.5, "pro": 0.3, "<b>": 0.2}, top=2)
    assert bars.count("<rect") == 2 and "<b>" not in bars
    assert histogram_svg("x", None) == "" and levels_svg("x", {}) == ""
