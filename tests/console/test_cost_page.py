"""The Cost page in a real headless Chromium (Debian's package, driven by Playwright), over a real
server: predictions sent to it are metered, flushed to the registry every second, and shown per
model and version on both OpenCost bases; a key restricted to another model does not see them;
the first load stays in the budget. Screenshots go to ``tests/console/_screenshots/cost*.png``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _browser import BUDGET, done, first_load, launched, login, shot
from _console_data import Keys, make_keys, populate_home
from _live import live_server

from shipyard.monitoring.cost import Prices
from shipyard.monitoring.usage_store import UsageStore

WAIT = 90.0  # generous: the machine is shared
REQUESTS, ROWS = 30, 2


@dataclass(frozen=True)
class Site:
    base: str
    keys: Keys
    registry: Any


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from shipyard import datasets
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import KeyStore
    from shipyard.serving.background import v2_body
    from shipyard.serving.server import build_app
    from shipyard.settings import Settings

    home = tmp_path_factory.mktemp("cost-ui") / "home"
    populate_home(home)
    registry = Registry(Settings(home=home, actor="tester", usage_flush_interval=1.0))
    keys = make_keys(registry)
    _, predict = KeyStore(registry.db).create(["predict"], name="client", actor="tester")
    app = build_app(registry, ["churn@champion"], auth_ttl=0.0, rollout_interval=None)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + WAIT
            while http.get("/v2/health/ready").status_code != 200:
                assert time.monotonic() < deadline, "the server did not load churn"
                time.sleep(0.1)
            body = v2_body(datasets.churn(ROWS, seed=9).X)
            auth = {"authorization": f"Bearer {predict}"}
            for _ in range(REQUESTS):
                reply = http.post("/v2/models/churn/infer", json=body, headers=auth)
                assert reply.status_code == 200, reply.text
            store = UsageStore(registry.db)
            while store.by_version("churn").get(2, None) is None or (
                store.by_version("churn")[2].predictions < REQUESTS * ROWS
            ):
                assert time.monotonic() < deadline, "the usage never reached the registry"
                time.sleep(0.2)
            yield Site(base, keys, registry)
    finally:
        registry.close()


def _cells(page: Any, model: str, version: str) -> dict[str, str]:
    row = page.locator(f'#cost tbody[data-model="{model}"] tr[data-version="{version}"]')
    cells = row.locator("[data-field]")
    return {
        cells.nth(i).get_attribute("data-field"): cells.nth(i).inner_text().strip()
        for i in range(cells.count())
    }


def _report(site: Site) -> dict[str, Any]:
    return UsageStore(site.registry.db).report("churn", Prices.of(site.registry.settings))


def test_the_cost_page_shows_the_metered_figures(browser: Any, site: Site) -> None:
    page = login(browser, site.base, site.keys.read)
    before = _report(site)["versions"][0]
    page.goto("/ui/cost")
    after = _report(site)["versions"][0]
    assert page.title().startswith("Cost")
    figures = _cells(page, "churn", "2")  # the champion answered every request
    assert figures["predictions"] == f"{REQUESTS * ROWS}" == str(after["predictions"])
    assert float(figures["cpu_seconds"]) > 0
    assert float(figures["memory"]) > 0
    # The page shows the registry's figures: between a read just before and one just after
    # (resident time, so memory cost and allocation, keep growing while the server runs).
    usage, allocation = float(figures["usage"]), float(figures["allocation"])
    assert before["usage_dollars"] * 0.995 <= usage <= after["usage_dollars"] * 1.005
    assert before["allocation_dollars"] * 0.995 <= allocation <= after["allocation_dollars"] * 1.005
    assert allocation > usage > 0  # 1 vCPU requested, far from fully used
    # cost per 1,000 predictions on both bases, as shown, from the dollars shown
    n = REQUESTS * ROWS
    assert float(figures["per_1k_usage"]) == pytest.approx(usage * 1000 / n, rel=0.01)
    assert float(figures["per_1k_allocation"]) == pytest.approx(allocation * 1000 / n, rel=0.01)
    idle = float(figures["idle"].rstrip("%")) / 100
    assert idle == pytest.approx((allocation - usage) / allocation, abs=0.002)
    total = _cells(page, "churn", "total")
    assert total["predictions"] == figures["predictions"]
    assert "house" in page.locator("#unmetered").inner_text()  # served by no one here
    shot(page, "cost")

    page.get_by_label("Window", exact=True).select_option("all")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/ui/cost?since=all")
    assert _cells(page, "churn", "2")["predictions"] == f"{n}"
    page.goto("/ui/cost?since=1y")
    assert "field 'since' must be one of 24h, 7d, 30d, all" in page.content()
    done(page)


def test_a_key_for_another_model_sees_no_churn_cost(browser: Any, site: Site) -> None:
    page = login(browser, site.base, site.keys.other)
    page.goto("/ui/cost")
    assert page.locator('#cost tbody[data-model="churn"]').count() == 0
    assert page.locator("#no-cost").count() == 1
    assert "churn" not in page.locator("main").inner_text()
    done(page)


def test_first_load_of_the_cost_page_is_under_the_budget(browser: Any, site: Site) -> None:
    page = login(browser, site.base, site.keys.read)
    total = first_load(page, site.base, "/ui/cost")
    assert total <= BUDGET, total
    done(page)
