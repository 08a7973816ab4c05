"""The Deployment page in a real headless Chromium (Debian's package, driven by Playwright),
over the real server: live figures and chart moving with real traffic, a canary rolled back
through its confirmation and the Model page's alias history showing it, a read key without
buttons, and the page weight. Screenshots go to ``tests/console/_screenshots/deployment*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _browser import BUDGET, done, first_load, launched, login, shot
from _deployed import ENDPOINT, Site, Traffic, deployed, ensure_rollout, wait_for_variants

from shipyard.rollouts.store import RolloutStore

WAIT_MS = 90_000  # generous: the machine is shared


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with deployed(tmp_path_factory.mktemp("deploy-ui") / "home") as found:
        yield found


def _count(page: Any, selector: str) -> int:
    text = page.locator(selector).inner_text().strip()
    return int(text) if text.isdigit() else 0


def test_live_figures_move_then_the_canary_rolls_back(browser: Any, site: Site) -> None:
    ensure_rollout(site.registry)
    wait_for_variants(site, {"main", "candidate"})
    page = login(browser, site.base, site.keys.write)
    page.get_by_role("link", name="Deployments").click()
    page.wait_for_url("**/ui/deployments")
    assert page.locator("#deployments tbody tr").count() == 1
    shot(page, "deployments")
    page.get_by_role("rowheader").get_by_role("link", name=ENDPOINT).click()
    page.wait_for_url(f"**/ui/deployments/{ENDPOINT}")
    assert page.locator("#split tbody tr").count() == 2
    assert page.locator("#rollout-status").inner_text() == "running"
    assert page.locator("#live-chart svg.chart").count() == 2  # requests/s and p99, drawn here

    total = '#live-figures tr[data-variant="candidate"] [data-field="total"]'
    before = _count(page, total)
    with Traffic(site):
        # The figures and both charts move as the server pushes points (no reload, no poll).
        page.wait_for_function(
            """([cell, before]) => {
                const n = parseInt(document.querySelector(cell).textContent, 10);
                const lines = document.querySelectorAll(
                    '#live-chart polyline[data-variant="candidate"]');
                return n > before && lines.length === 2 &&
                    Array.from(lines).every(l => Number(l.dataset.count) >= 5);
            }""",
            arg=[total, before],
            timeout=WAIT_MS,
        )
        rps = page.locator('#live-figures tr[data-variant="main"] [data-field="rps"]')
        page.wait_for_function(
            "(el) => parseFloat(el.textContent) > 0", arg=rps.element_handle(), timeout=WAIT_MS
        )
        label = page.locator('#live-chart svg[data-metric="rps"]').get_attribute("aria-label")
        assert label is not None and "candidate" in label
        shot(page, "deployment-live")
    assert _count(page, total) > before

    # Roll back: the button asks for confirmation on a page of its own; only that form acts.
    page.get_by_role("button", name="Roll back").click()
    page.wait_for_url(f"**/ui/deployments/{ENDPOINT}/rollback**")
    assert "send all traffic to the baseline" in page.locator("#confirm-what").inner_text()
    shot(page, "deployment-confirm")
    assert RolloutStore(site.registry.db).active(ENDPOINT) is not None
    page.get_by_role("button", name="Yes, roll back").click()
    page.wait_for_url("**/ui/deployments/churn?done=rollback")
    assert "Rolled back" in page.get_by_role("status").first.inner_text()
    assert page.locator("#rollout-status").inner_text() == "rolled back"
    assert page.get_by_role("button", name="Roll back").count() == 0
    shot(page, "deployment-rolled-back")

    # The Model page's alias history shows the challenger removed, by this key.
    page.locator("main p.muted").get_by_role("link", name="churn").click()
    page.wait_for_url("**/ui/models/churn")
    first = page.locator("#alias-history tbody tr").first.inner_text()
    assert "challenger" in first and "removed" in first and "operator-ann" in first
    assert page.locator("#v1 .chip", has_text="challenger").count() == 0
    shot(page, "deployment-model-history")
    done(page)
    wait_for_variants(site, {"main"})


def test_a_read_key_sees_no_buttons_and_cannot_post(browser: Any, site: Site) -> None:
    rollout = ensure_rollout(site.registry)
    page = login(browser, site.base, site.keys.read, color_scheme="dark")
    page.goto(f"/ui/deployments/{ENDPOINT}")
    for name in ("Promote", "Roll back", "Pause", "Resume"):
        assert page.get_by_role("button", name=name).count() == 0
    assert "can only read" in page.locator("#read-only").inner_text()
    shot(page, "deployment-read-dark")
    token = page.locator("input[name=csrf]").first.input_value()
    refused = page.request.post(
        f"{site.base}/ui/deployments/{ENDPOINT}/rollback",
        form={"csrf": token, "confirm": "yes"},
        max_redirects=0,
    )
    assert refused.status == 403 and "write" in refused.text()
    still = RolloutStore(site.registry.db).active(ENDPOINT)
    assert still is not None and still.id == rollout.id
    done(page)


def test_first_load_is_under_the_budget(browser: Any, site: Site) -> None:
    ensure_rollout(site.registry)
    page = login(browser, site.base, site.keys.write)
    sizes: dict[str, int] = {}
    for name, path in (
        ("deployments", "/ui/deployments"),
        ("deployment", f"/ui/deployments/{ENDPOINT}"),
    ):
        sizes[name] = first_load(page, site.base, path)
    print("compressed first load (bytes):", sizes)
    assert all(size <= BUDGET for size in sizes.values()), sizes
    done(page)
