"""The Monitoring page's chart helpers: series read from recorded reports, and their SVG."""

from __future__ import annotations

import math
import re
from typing import Any

from shipyard.console import monitor_charts as mc


def feature(name: str, *, p: float | None, statistic: float, drifted: bool, **extra: Any) -> Any:
    test = "ks" if p is not None else "wasserstein"
    rule = "p < 0.05" if p is not None else "distance >= 0.1"
    threshold = 0.05 if p is not None else 0.1
    return {
        "name": name, "test": test, "rule": rule, "p_value": p, "p_adjusted": None,
        "statistic": statistic, "threshold": threshold, "drifted": drifted, **extra,
    }  # fmt: skip


def report(end: str, features: list[Any], **extra: Any) -> dict[str, Any]:
    return {"window_end": end, "drift": {"features": features}, **extra}


REPORTS = [
    report("2026-01-01T00:00:00+00:00", [
        feature("age", p=0.4, statistic=0.05, drifted=False),
        feature("income", p=None, statistic=0.02, drifted=False),
    ], prediction_drift=feature("prediction", p=0.3, statistic=1.0, drifted=False)),
    report("2026-01-01T01:00:00+00:00", [
        feature("age", p=1e-9, statistic=0.4, drifted=True),
        feature("income", p=None, statistic=0.3, drifted=True),
    ]),
    {"window_end": "2026-01-01T02:00:00+00:00", "drift": None},  # an empty pass
    report("2026-01-01T03:00:00+00:00", [
        feature("age", p=0.2, statistic=0.06, drifted=False, p_adjusted=0.6),
        feature("income", p=None, statistic=None, drifted=False),  # no test ran
    ]),
]  # fmt: skip


def test_drift_series_follow_each_feature_across_the_runs() -> None:
    series = {s.name: s for s in mc.drift_series(REPORTS)}
    assert list(series) == ["age", "income", "(prediction)"]
    age = series["age"]
    assert age.scale == "p_value" and age.test == "ks" and age.rule == "p < 0.05"
    # the adjusted p-value wins when the report has one
    assert [p.value for p in age.points] == [0.4, 1e-9, 0.6]
    assert [p.flagged for p in age.points] == [False, True, False]
    assert all(p.guide == 0.05 for p in age.points)
    assert age.points[1].at - age.points[0].at == 3600
    income = series["income"]
    assert income.scale == "distance" and [p.value for p in income.points] == [0.02, 0.3]
    assert income.flagged_now and not age.flagged_now
    assert [p.value for p in series["(prediction)"].points] == [0.3]


def test_a_feature_judged_by_another_test_keeps_only_the_newest_tests_runs() -> None:
    reports = [
        report("2026-01-01T00:00:00+00:00", [feature("x", p=0.01, statistic=0.2, drifted=True)]),
        report("2026-01-01T01:00:00+00:00", [feature("x", p=None, statistic=0.3, drifted=True)]),
    ]
    (x,) = mc.drift_series(reports)
    assert x.scale == "distance" and [p.value for p in x.points] == [0.3]


def test_performance_series_have_the_registered_value_as_their_guide() -> None:
    perf = {"n_labelled": 50, "metrics": {"accuracy": 0.8, "log_loss": None},
            "registered": {"accuracy": 0.9}}  # fmt: skip
    reports = [
        {"window_end": "2026-01-01T00:00:00+00:00", "performance": {"n_labelled": 0}},
        {"window_end": "2026-01-01T01:00:00+00:00", "performance": perf},
        {"window_end": "2026-01-01T02:00:00+00:00", "performance": {
            **perf, "metrics": {"accuracy": 0.7, "f1": 0.5}}},
    ]  # fmt: skip
    series = {s.name: s for s in mc.performance_series(reports)}
    assert set(series) == {"accuracy", "f1"}
    assert [(p.value, p.guide) for p in series["accuracy"].points] == [(0.8, 0.9), (0.7, 0.9)]
    assert series["f1"].points[0].guide is None


def coords(svg: str, tag: str) -> list[tuple[float, float]]:
    if tag == "circle":
        return [(float(x), float(y)) for x, y in re.findall(r'cx="([\d.]+)" cy="([\d.]+)"', svg)]
    raise AssertionError(tag)


def test_a_p_value_series_is_drawn_on_a_log_axis_with_its_threshold() -> None:
    age = next(s for s in mc.drift_series(REPORTS) if s.name == "age")
    svg = mc.series_svg(age, width=320, height=128)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'aria-label="age: p-value of ks over 3 runs (p &lt; 0.05 is drift)"' in svg
    points = coords(svg, "circle")
    assert len(points) == 3 and svg.count('class="point flagged"') == 1
    # x by time: 0h, 1h, 3h; y on a log scale: p = 1e-9 lowest, p = 0.6 highest
    (x0, y0), (x1, y1), (x3, y3) = points
    assert math.isclose((x1 - x0) * 3, x3 - x0, rel_tol=1e-2)
    assert y1 > y0 > y3
    guide = re.search(r'<polyline class="guide" points="([^"]+)"', svg)
    assert guide is not None
    (gx0, gy), (gx1, gy1) = [tuple(map(float, p.split(","))) for p in guide.group(1).split()]
    assert gy == gy1 and gx1 > gx0  # a flat threshold across the chart
    # p = 0.05 sits between the drifted point and the others, on the log scale
    assert y0 < gy < y1
    assert "<title>threshold 0.05</title>" in svg


def test_a_single_point_and_an_empty_series() -> None:
    one = mc.Series("m", "metric", (mc.Point(1e9, 0.5, 0.5, False, "only"),))
    svg = mc.series_svg(one)
    assert svg.count("<circle") == 1 and "<title>only</title>" in svg
    assert 'class="line"' not in svg  # nothing to join
    assert mc.series_svg(mc.Series("m", "metric", ())) == ""


def test_a_changing_threshold_is_drawn_as_it_changed() -> None:
    points = (mc.Point(0, 0.2, 0.1), mc.Point(60, 0.3, 0.2), mc.Point(120, 0.1, 0.2))
    svg = mc.series_svg(mc.Series("x", "distance", points, "psi", "distance >= 0.2"))
    guide = re.search(r'<polyline class="guide" points="([^"]+)"', svg)
    assert guide is not None and len(guide.group(1).split()) == 3


def test_profile_and_report_bins() -> None:
    entry = {"kind": "numeric", "histogram": {"edges": [0, 1, 2], "counts": [1, 3]}}
    assert mc.profile_bins(entry) == mc.Bins("numeric", (0.25, 0.75), (0.0, 1.0, 2.0))
    levels = {"kind": "categorical", "levels": {"a": 0.6, "b": 0.3}, "other": 0.1}
    got = mc.profile_bins(levels)
    assert got == mc.Bins("categorical", (0.6, 0.3, 0.1), levels=("a", "b", mc.OTHER))
    assert mc.profile_bins({"kind": "numeric", "histogram": None}) is None
    assert mc.profile_bins(None) is None
    hist = {"kind": "numeric", "edges": [0, 5, 10], "reference": [0.5, 0.5], "current": [1, 0]}
    assert mc.report_bins(hist, "current") == mc.Bins("numeric", (1.0, 0.0), (0.0, 5.0, 10.0))
    assert mc.report_bins({**hist, "edges": [0, 10]}, "current") is None  # edges do not fit
    assert mc.report_bins(None, "current") is None


def test_a_numeric_overlay_puts_both_on_one_value_axis() -> None:
    # the reference over [0, 10) in two bins, the current over [10, 20) in one
    ref = mc.Bins("numeric", (0.5, 0.5), (0.0, 5.0, 10.0))
    cur = mc.Bins("numeric", (1.0,), (10.0, 20.0))
    svg = mc.overlay_svg("x", ref, cur, width=212, height=150)
    assert 'aria-label="x: current window over the reference"' in svg
    rects = re.findall(r'<rect class="(ref|cur)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)" '
                       r'height="([\d.]+)"', svg)  # fmt: skip
    assert [r[0] for r in rects] == ["ref", "ref", "cur"]
    (_, rx0, rw0, rh0), (_, rx1, _, _), (_, cx, cw, ch) = rects
    # 0, 5 and 10 on a 0..20 axis of 200 px
    assert (float(rx0), float(rx1), float(cx)) == (6.0, 56.0, 106.0)
    assert float(rw0) == 50.0 and float(cw) == 100.0
    # densities: 0.5 / 5 for the reference = 1.0 / 10 for the current: the same height
    assert float(rh0) == float(ch)
    assert "[10, 20): current 100.0%" in svg and ">0<" in svg and ">20<" in svg


def test_a_level_overlay_matches_levels_by_name() -> None:
    ref = mc.Bins("categorical", (0.7, 0.2, 0.1), levels=("a", "b", mc.OTHER))
    cur = mc.Bins("categorical", (0.3, 0.5, 0.2), levels=("b", "a", "new"))
    svg = mc.overlay_svg("c", ref, cur)
    assert "b: reference 20.0%" in svg and "a: reference 70.0%" in svg
    assert "new: reference 0.0%" in svg and "new: current 20.0%" in svg
    cur_other = mc.Bins("categorical", (0.5, 0.5), levels=("a", mc.OTHER))
    svg = mc.overlay_svg("c", ref, cur_other)
    assert "(other): reference 30.0%" in svg  # whatever the reference has besides a


def test_mismatched_or_empty_bins_draw_nothing() -> None:
    num = mc.Bins("numeric", (1.0,), (0.0, 1.0))
    cat = mc.Bins("categorical", (1.0,), levels=("a",))
    assert mc.overlay_svg("x", num, cat) == ""
    assert mc.overlay_svg("x", num, mc.Bins("numeric", (0.0,), (1.0, 1.0))) == ""
    zero = mc.Bins("categorical", (0.0,), levels=("a",))
    assert mc.overlay_svg("x", zero, zero) == ""
    assert mc.overlay_svg("x", cat, mc.Bins("categorical", (), levels=())) == ""


def test_text_is_escaped() -> None:
    cur = mc.Bins("categorical", (1.0,), levels=("<b>&",))
    svg = mc.overlay_svg("f<x>", cur, cur)
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg and 'aria-label="f&lt;x&gt;' in svg
