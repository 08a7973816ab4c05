"""The Monitoring pages in a real headless Chromium (Debian's package, driven by Playwright),
on real monitoring data (see ``_console_data.monitor``): the charts render with their points,
the page works from the keyboard in the dark scheme, and the first load stays in the budget.

The browser set-up is the one of ``test_console_browser.py``; screenshots go to
``tests/console/_screenshots/monitoring*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _browser import BUDGET, done, first_load, launched, login, shot
from _console_data import SHIFTED, Keys, make_keys, monitor, populate_home
from _live import live_server

from shipyard.console import console_app
from shipyard.settings import Settings


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as found:
        yield found


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from shipyard.registry.client import Registry

    home = tmp_path_factory.mktemp("mon-ui") / "home"
    populate_home(home)
    found = Registry(Settings(home=home, actor="tester"))
    yield found
    found.close()


@pytest.fixture(scope="module")
def site(registry: Any) -> Iterator[tuple[str, Keys, list[Any]]]:
    results = monitor(registry)
    keys = make_keys(registry)
    with live_server(console_app(registry, auth_required=False, auth_ttl=0.0)) as base:
        yield base, keys, results


def test_the_monitoring_pages_render_their_charts(browser: Any, site: Any) -> None:
    base, keys, results = site
    drifted = results[1].drifted_features
    n_features = len(results[1].drift.features)
    page = login(browser, base, keys.read)
    churn = page.get_by_role("row", name="churn")
    assert f"{len(drifted)} of {n_features} features" in churn.inner_text()
    assert "1 alert firing" in churn.inner_text()
    shot(page, "monitoring-models")

    page.get_by_role("link", name="Monitoring").click()
    page.wait_for_url("**/ui/monitoring")
    assert page.locator("#monitored tbody tr").count() == 2
    shot(page, "monitoring-index")
    page.locator("#monitored").get_by_role("link", name="churn").click()
    page.wait_for_url("**/ui/monitoring/churn")
    assert page.get_by_role("heading", level=1).inner_text().startswith("churn")

    charts = page.locator("#drift-charts svg")
    assert charts.count() == n_features + 2  # + prediction and target drift
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.locator("circle").count() >= 1
        assert chart.locator("polyline.guide").count() == 1
        assert chart.bounding_box()["height"] > 50  # laid out, not collapsed
    for name in SHIFTED:
        card = page.locator("#drift-charts li", has=page.get_by_role("img", name=f"{name}: "))
        assert card.locator("circle").count() == 2
        assert card.locator("circle.flagged").count() == 1
    overlays = page.locator("#distributions svg")
    assert overlays.count() == len(drifted)
    for i in range(overlays.count()):
        assert overlays.nth(i).locator("rect.cur").count() >= 1
        assert overlays.nth(i).locator("rect.ref").count() >= 1
    # a point's tooltip carries its run's figure
    title = page.locator("#drift-charts circle.flagged title").first.text_content()
    assert title is not None and "drift" in title
    assert (
        page.locator("#quality")
        .get_by_role("row", name="region")
        .inner_text()
        .find("atlantis (30)")
        > 0
    )
    assert page.locator("#performance-charts svg").count() >= 2
    assert "churn-tenure-drift" in page.locator("#firing").inner_text()
    shot(page, "monitoring")
    done(page)


def test_the_monitoring_page_works_from_the_keyboard_in_the_dark(browser: Any, site: Any) -> None:
    base, keys, _ = site
    page = login(browser, base, keys.read, color_scheme="dark")
    page.goto("/ui/monitoring/churn")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(18, 21, 26)"
    # the dark palette reaches the charts too (the point colour is the dark scheme's)
    fill = page.evaluate(
        "getComputedStyle(document.querySelector('#drift-charts circle.point:not(.flagged)')).fill"
    )
    assert fill == "rgb(122, 180, 255)"
    # Tab on from the main content reaches the alert events' disclosure; Enter opens it
    events = page.locator("#events")
    assert not events.is_visible()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    assert page.evaluate("document.activeElement.textContent").startswith("Alert events")
    page.keyboard.press("Enter")
    assert events.is_visible()
    assert "FIRING churn-tenure-drift" in events.inner_text()
    shot(page, "monitoring-dark")
    # and back to the index through the breadcrumb, from the keyboard
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/monitoring")
    done(page)


def test_first_load_of_the_monitoring_pages_is_under_the_budget(browser: Any, site: Any) -> None:
    base, keys, _ = site
    page = login(browser, base, keys.read)
    sizes: dict[str, int] = {}
    for path in ("/ui/monitoring", "/ui/monitoring/churn", "/ui/models"):
        sizes[path] = first_load(page, base, path)
    assert all(size <= BUDGET for size in sizes.values()), sizes
    print("compressed first load (bytes):", sizes)
    done(page)


def test_a_new_run_redraws_the_page_by_itself(browser: Any, site: Any, registry: Any) -> None:
    """Pushed, not polled: the page's event stream says when the monitor recorded a run, and
    the page draws itself again. (Last in this module: it adds a run the others would count.)"""
    from shipyard.monitoring.store import MonitorStore

    base, keys, _ = site
    page = login(browser, base, keys.read)
    page.goto("/ui/monitoring/churn")
    before = page.locator("#summary").inner_text()
    store = MonitorStore(registry.db)
    newest = store.runs("churn")[-1]
    store.record_run(  # what a monitor pass writes: here the newest window, once more
        model="churn",
        version=newest.version,
        window_start=newest.window_start,
        window_end=newest.window_end,
        rows=newest.rows,
        status=newest.status,
        report=newest.report,
        started_at=newest.started_at,
    )
    n_runs = len(store.runs("churn"))
    page.wait_for_function(
        "([text]) => document.querySelector('#summary').innerText.includes(text)",
        arg=[f"{n_runs} runs recorded"],
        timeout=60_000,
    )
    assert page.locator("#summary").inner_text() != before
    done(page)
