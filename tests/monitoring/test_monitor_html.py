"""The self-contained HTML report: charts inline, nothing external, no raw rows, small."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_monitor_run import DRIFTED, T0, log_rows

from shipyard import datasets
from shipyard.monitoring.html import render_html
from shipyard.monitoring.run import run_monitor
from shipyard.monitoring.store import MonitorStore
from shipyard.predlog import PredictionStore
from shipyard.registry.client import Registry
from shipyard.settings import Settings


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(Settings(home=tmp_path / "home", actor="tester"))
    yield reg
    reg.close()


def test_churn_report_is_self_contained_small_and_charts_the_drifted_features(
    sqlite_registry: Registry, tmp_path: Path, churn: Any, churn_model: Any
) -> None:
    registry = sqlite_registry
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    plog = PredictionStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    try:
        log_rows(plog, churn_model, datasets.churn(500, seed=41).X, prefix="a", at=T0)
        run_monitor(registry, plog, "churn", until=T0 + 60)
        drifted = datasets.inject_drift(
            datasets.churn(500, seed=42).X, columns=DRIFTED, strength=1.5
        )
        log_rows(plog, churn_model, drifted, prefix="b", at=T0 + 100)
        result = run_monitor(registry, plog, "churn", until=T0 + 160)
    finally:
        plog.dispose()
    runs = MonitorStore(registry.db).runs("churn")
    assert len(runs) == 2
    page = render_html(runs[-1].report, [r.report for r in runs])

    assert len(page.encode()) < 300_000
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for external in ("<script", "<link", " src=", " href=", "@import", "url("):
        assert external not in lowered
    # one histogram card per drifted feature, each with reference and current bars
    cards = re.findall(r"<div class=card><b>([^<]+)</b><br><svg[^>]*histogram", page)
    assert sorted(cards) == sorted(result.drifted_features)
    assert set(DRIFTED) <= set(cards)
    assert page.count("<rect") == sum(
        2 * len(result.histograms[name]["reference"]) for name in cards
    )
    # metrics over time: the dataset drift share across both runs
    assert "Over time" in page and "drift.share" in page
    series = page.count(" over time'")
    assert series >= 2 and page.count("<circle") == 2 * series  # one point per run
    # no logged row: request ids never reach the page
    assert "a-0" not in page and "b-1" not in page


def test_names_are_escaped_and_missing_sections_are_explained() -> None:
    report = {
        "model": "m",
        "status": "ok",
        "window_end": "2026-01-01T00:00:00+00:00",
        "rows": 3,
        "drift": {
            "features": [{"name": "<b>x</b>", "test": "ks", "drifted": True, "statistic": 0.5}],
            "n_drifted": 1,
            "share": 1.0,
            "drift_share": 0.5,
            "drifted": True,
        },
        "histograms": {
            "<b>x</b>": {
                "kind": "categorical",
                "levels": ["<i>", "b"],
                "reference": [0.5, 0.5],
                "current": [0.9, 0.1],
            }
        },
        "performance": {"n_labelled": 0, "n_rows": 3, "task": "classification"},
        "figures": {"drift.share": 1.0},
    }
    page = render_html(report)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>" not in page
    assert "No labels for this window yet" in page
    assert "No alert fired" in page
