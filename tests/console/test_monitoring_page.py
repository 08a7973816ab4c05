"""The Monitoring pages over real HTTP, on real data: churn v2's logged predictions (a normal
window, then one with two features shifted, missing values, a new region and labels fed back)
in the prediction log beside the registry, monitored by ``run_monitor`` as ``shipyard monitor
run`` does, with a stored alert rule that fires; then the pages are fetched and read."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html import unescape
from typing import Any

import httpx
import pytest
from _console_data import SHIFTED, Keys, make_keys, monitor, populate, populate_home
from _live import live_server

from shipyard.console import console_app, monitoring_views
from shipyard.monitoring.store import MonitorStore
from shipyard.settings import Settings


@dataclass
class Site:
    registry: Any
    base: str
    keys: Keys
    results: list[Any]

    @contextlib.contextmanager
    def client(self, token: str) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.base, follow_redirects=False, timeout=30) as http:
            page = http.get("/ui/login")
            found = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert found
            answer = http.post(
                "/ui/login", data={"csrf": found.group(1), "token": token, "next": "/models"}
            )
            assert answer.status_code == 303, answer.text
            yield http


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from shipyard.registry.client import Registry

    home = tmp_path_factory.mktemp("mon") / "home"
    populate_home(home)
    registry = Registry(Settings(home=home, actor="tester"))
    results = monitor(registry)
    keys = make_keys(registry)
    with live_server(console_app(registry, auth_required=False, auth_ttl=0.0)) as base:
        yield Site(registry, base, keys, results)
    registry.close()


def text_of(html: str) -> str:
    """The page's text, tags dropped and whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, ident: str) -> str:
    """The element with ``id=ident`` up to the next section (enough to read one part)."""
    start = html.index(f'id="{ident}"')
    end = html.find("<section", start)
    return html[start : end if end > 0 else len(html)]


def test_the_data_is_what_the_page_should_show(site: Site) -> None:
    first, second, third = site.results
    assert (first.status, second.status, third.status) == ("ok", "alert", "empty")
    assert set(SHIFTED) <= set(second.drifted_features)
    assert not set(SHIFTED) & set(first.drifted_features)
    assert second.performance is not None and second.performance.n_labelled == 300


def test_the_monitoring_page_shows_drift_over_time_against_thresholds(site: Site) -> None:
    with site.client(site.keys.read) as http:
        page = http.get("/ui/monitoring/churn")
    assert page.status_code == 200
    html = page.text
    drifted = site.results[1].drifted_features
    charts = section(html, "drift-charts")
    # one chart per feature, each with a point per run that tested it and a threshold line
    features = [f.name for f in site.results[1].drift.features]
    for name in features:
        assert f'aria-label="{name}: p-value of ' in charts
    assert charts.count("<svg") == len(features) + 2  # + prediction and target drift
    assert charts.count('class="guide"') == charts.count("<svg")
    for name in SHIFTED:
        card = charts[charts.index(f'aria-label="{name}: ') :]
        card = card[: card.index("</svg>")]
        assert card.count("<circle") == 2  # the two runs with rows
        assert card.count('class="point flagged"') == 1  # drifted in the second only
        assert "threshold 0.05" in card
    assert charts.count('class="card drifted"') == len(drifted) + 1  # + the prediction
    text = text_of(html)
    assert f"{len(drifted)} of {len(features)} features drifted" in text


def test_drifted_features_show_their_distribution_over_the_reference(site: Site) -> None:
    with site.client(site.keys.read) as http:
        html = http.get("/ui/monitoring/churn").text
    dist = section(html, "distributions")
    drifted = site.results[1].drifted_features
    assert dist.count("<svg") == len(drifted)
    for name in drifted:
        assert f'aria-label="{name}: current window over the reference"' in dist
    # numeric: the profile's 20 reference bins and the report's 20 current bins, overlaid
    tenure = dist[dist.index('aria-label="tenure_months') :]
    tenure = tenure[: tenure.index("</svg>")]
    assert tenure.count('class="ref"') >= 10 and tenure.count('class="cur"') >= 10
    # categorical: the new region has a current bar and a zero reference bar
    region = dist[dist.index('aria-label="region') :]
    region = region[: region.index("</svg>")]
    assert "atlantis: current 7.5%" in region and "atlantis: reference 0.0%" in region
    assert "reference: reference profile" in text_of(dist)


def test_quality_performance_and_alerts_are_on_the_page(site: Site) -> None:
    with site.client(site.keys.read) as http:
        html = http.get("/ui/monitoring/churn").text
    quality = text_of(section(html, "quality-title"))
    assert "400 rows served; 0 schema violations" in quality
    assert "data_usage_gb numeric 22.0% 3.5%" in quality  # missing now vs the reference
    assert "atlantis (30)" in quality  # a new category, with its count
    out_of_range = site.results[1].quality["tenure_months"].out_of_range_share
    assert f"tenure_months numeric 0.0% 0.0% {out_of_range * 100:.1f}%" in quality

    perf = site.results[1].performance
    performance = text_of(section(html, "perf-title"))
    assert "300 of 400 rows labelled (classification)" in performance
    accuracy = perf.metrics["accuracy"]
    assert f"accuracy {accuracy:.4g} 0.83 {perf.delta['accuracy']:+.4f}" in performance
    perf_charts = section(html, "performance-charts")
    assert perf_charts.count("<svg") == len([v for v in perf.metrics.values() if v is not None])
    assert perf_charts.count('class="guide"') == 2  # the registered accuracy and roc_auc

    alerts = text_of(section(html, "alerts-title"))
    assert "firing churn-tenure-drift since" in alerts
    assert "[CRITICAL] FIRING churn-tenure-drift" in alerts
    events = MonitorStore(site.registry.db).events("churn")
    assert [(e.rule, e.state) for e in events] == [("churn-tenure-drift", "firing")]
    events_at = html.index('id="events"')
    table = text_of(html[events_at : html.index("</table>", events_at)])
    assert "firing churn-tenure-drift critical 1 [CRITICAL] FIRING" in table
    assert table.endswith("[model=churn, version=2] log")  # delivered to the log channel
    assert "Rules watched: churn-tenure-drift" in alerts


def test_the_index_and_the_models_page_show_each_models_health(site: Site) -> None:
    drifted = site.results[1].drifted_features
    with site.client(site.keys.read) as http:
        index = text_of(http.get("/ui/monitoring").text)
        models = http.get("/ui/models").text
    assert "churn" in index and f"drift {len(drifted)} of 10 features" in index
    assert "1 alert firing" in index
    assert "house - - - not monitored" in index
    found = re.findall(
        r'<tr>\s*<th scope="row"><a href="/ui/models/(\w+)">(.*?)</tr>', models, re.S
    )
    rows = {model: text_of(row) for model, row in found}
    assert f"drift {len(drifted)} of 10 features · 1 alert firing" in rows["churn"]
    assert "endpoint churn" in rows["churn"]
    assert "endpoint house ; rollout v2 canary, running at 10%" in rows["house"]
    assert 'href="/ui/deployments/house"' in models  # the endpoint's own page
    assert "not monitored" in rows["house"]
    assert 'href="/ui/monitoring/churn"' in models


def test_a_restricted_key_sees_only_its_models(site: Site) -> None:
    with site.client(site.keys.other) as http:
        refused = http.get("/ui/monitoring/churn")
        index = text_of(http.get("/ui/monitoring").text)
        house = http.get("/ui/monitoring/house")
    assert refused.status_code == 403 and "may not see model 'churn'" in text_of(refused.text)
    assert "churn" not in index and "house" in index
    assert house.status_code == 200
    assert "No monitor run with logged rows yet" in text_of(house.text)


def test_an_unknown_model_is_a_404_naming_the_known_ones(site: Site) -> None:
    with site.client(site.keys.read) as http:
        answer = http.get("/ui/monitoring/nope")
    assert answer.status_code == 404
    assert "churn" in text_of(answer.text)


def test_a_report_without_bins_is_binned_again_from_the_logged_window(site: Site) -> None:
    run = MonitorStore(site.registry.db).runs("churn")[1]
    recorded = run.report["histograms"]
    again = monitoring_views.current_histograms(site.registry, run)
    for name in run.report["drift"]["features"]:
        if name["drifted"]:
            assert again[name["name"]] == recorded[name["name"]]
    bare = replace(run, report={**run.report, "histograms": {}})
    shown = monitoring_views.distributions(site.registry, bare)
    assert [d["name"] for d in shown] == site.results[1].drifted_features
    assert all(d["svg"].count('class="cur"') >= 5 for d in shown)


def test_the_pages_on_each_database(registry: Any) -> None:
    """The same data on the metadata store of each kind (SQLite and PostgreSQL), with no key:
    the Models page's health and deployment, the index and the model's page."""
    populate(registry)
    results = monitor(registry)
    drifted = results[1].drifted_features
    with (
        live_server(console_app(registry, auth_required=False)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        models = text_of(http.get("/ui/models").text)
        index = text_of(http.get("/ui/monitoring").text)
        page = http.get("/ui/monitoring/churn")
    assert f"drift {len(drifted)} of 10 features · 1 alert firing" in models
    assert "rollout v2 canary, running at 10%" in models
    assert "1 alert firing" in index
    assert page.status_code == 200
    assert page.text.count('class="point flagged"') >= len(drifted)
    assert text_of(page.text).count("firing churn-tenure-drift") >= 1
