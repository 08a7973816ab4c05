"""The console in a real headless Chromium (Debian's package, driven by Playwright).

The browser is found on PATH, else installed by ``scripts/browser.sh``; without one (or without
Playwright) these tests skip and say why. Screenshots of every page go to
``tests/console/_screenshots/`` (git-ignored by the ``.gitignore`` the tests write there).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _browser import BUDGET, done, first_load, launched, login, shot, watch
from _console_data import Keys, make_keys, populate_home
from _live import live_server

from shipyard.console import console_app
from shipyard.settings import Settings

PAGES = {
    "models": "/ui/models",
    "model": "/ui/models/churn",
    "version": "/ui/models/churn/versions/2",
    "audit": "/ui/audit",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys, Any]]:
    from shipyard.registry.client import Registry

    home = tmp_path_factory.mktemp("ui") / "home"
    populate_home(home)
    registry = Registry(Settings(home=home, actor="tester"))
    keys = make_keys(registry)
    with live_server(console_app(registry, auth_required=False, auth_ttl=0.0)) as base:
        yield base, keys, registry
    registry.close()


def test_login_then_every_page_renders_real_data(browser: Any, site: Any) -> None:
    base, keys, _ = site
    context = browser.new_context(base_url=base)
    page = watch(context.new_page())
    page.goto("/ui/login")
    page.get_by_label("API key").fill("shp_000000000000_wrong")
    page.get_by_role("button", name="Log in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    shot(page, "login")
    done(page)

    page = login(browser, base, keys.write)
    assert page.get_by_role("row", name="churn").count() == 1
    assert page.locator("table.grid tbody tr").count() == 2
    shot(page, "models")

    page.get_by_role("link", name="churn").click()
    page.wait_for_url("**/ui/models/churn")
    assert page.get_by_role("heading", level=1).inner_text() == "churn"
    assert page.locator("#versions tbody tr").count() == 3
    assert page.locator("svg.chart circle").count() == 3
    shot(page, "model")

    page.get_by_role("link", name="v2", exact=True).first.click()
    page.wait_for_url("**/versions/2")
    assert page.locator("#signature tbody tr").count() >= 5
    assert page.locator("#profile svg.hist").count() >= 5
    assert "Converted to ONNX" in page.locator("#onnx-title + p").inner_text()
    shot(page, "version")
    page.goto("/ui/models/churn/versions/3")
    assert "FAIL" in page.locator("#gates").inner_text()
    shot(page, "version-rejected")

    page.get_by_role("link", name="Audit").click()
    page.wait_for_url("**/ui/audit")
    assert page.locator("#audit tbody tr").count() >= 13
    shot(page, "audit")
    done(page)


def test_the_pages_work_from_the_keyboard_in_the_dark(browser: Any, site: Any) -> None:
    base, keys, _ = site
    page = login(browser, base, keys.read, color_scheme="dark")
    page.goto("/ui/models/churn")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 26)"  # the dark palette applies
    # The metric picker is reachable and swaps the chart in place.
    page.get_by_label("Metric", exact=True).select_option("auc")
    page.wait_for_selector('svg.chart[aria-label="auc across 3 versions"]')
    assert page.url.endswith("?metric=auc")
    shot(page, "model-dark")
    done(page)


def test_an_inline_alias_edit_shows_in_the_alias_history(browser: Any, site: Any) -> None:
    base, keys, registry = site
    page = login(browser, base, keys.write)
    page.goto("/ui/models/churn")
    history = page.locator("#alias-history tbody tr")
    before = history.count()
    page.get_by_label("Alias to point at v1").fill("canary")
    page.get_by_label("Alias to point at v1").press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#alias-history tbody tr').length > {before}"
    )
    first = history.first.inner_text()
    assert "canary" in first and "operator-ann" in first and "v1" in first
    assert page.locator("#v1 .chip", has_text="canary").count() == 1
    assert registry.get_model("churn").aliases["canary"] == 1
    shot(page, "model-after-edit")

    # Removing it is one keyboard-reachable button, and audited too.
    page.get_by_role("button", name="Remove alias canary from v1").click()
    page.wait_for_function(
        f"document.querySelectorAll('#alias-history tbody tr').length > {before + 1}"
    )
    assert "canary" not in registry.get_model("churn").aliases
    assert registry.alias_history("churn", "canary")[-1].actor == "operator-ann"

    # A refused change (the rejected v3 as champion) shows the reason and changes nothing.
    page.get_by_label("Alias to point at v3").fill("champion")
    page.get_by_label("Alias to point at v3").press("Enter")
    page.wait_for_selector("#action-error")
    assert "was rejected" in page.locator("#action-error").inner_text()
    assert registry.get_model("churn").aliases["champion"] == 2
    done(page)


def test_a_read_key_cannot_act(browser: Any, site: Any) -> None:
    base, keys, registry = site
    page = login(browser, base, keys.read)
    page.goto("/ui/models/churn")
    assert page.get_by_role("button", name="Set").count() == 0
    assert page.locator("form[action$='/aliases']").count() == 0
    assert page.get_by_role("button", name="Log out").count() == 1
    token = page.locator("input[name=csrf]").first.input_value()
    refused = page.request.post(
        f"{base}/ui/models/churn/aliases",
        form={"csrf": token, "alias": "champion", "version": "1"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "write" in refused.text()
    assert registry.get_model("churn").aliases["champion"] == 2
    done(page)


def test_verify_the_audit_chain_from_the_page(browser: Any, site: Any) -> None:
    base, keys, _ = site
    page = login(browser, base, keys.read)
    page.goto("/ui/audit")
    page.get_by_role("button", name="Verify chain").click()
    status = page.get_by_role("status")
    status.locator("p").wait_for()
    assert "audit chain intact" in status.inner_text()
    shot(page, "audit-verified")
    done(page)


def test_the_audit_page_is_live(browser: Any, site: Any) -> None:
    base, keys, registry = site
    page = login(browser, base, keys.read)
    page.goto("/ui/audit")
    rows = page.locator("#audit tbody tr")
    before = rows.count()
    page.wait_for_timeout(300)  # let the event stream connect
    registry.set_tag("house/1", "seen-live", "yes")  # a change made elsewhere (the CLI, say)
    page.wait_for_function(
        f"document.querySelectorAll('#audit tbody tr').length > {before}", timeout=20_000
    )
    assert "seen-live" in rows.first.inner_text()
    done(page)


def test_the_model_page_follows_changes_made_elsewhere(browser: Any, site: Any) -> None:
    base, keys, registry = site
    page = login(browser, base, keys.read)
    page.goto("/ui/models/house")
    page.wait_for_timeout(300)  # let the event stream connect
    registry.set_alias("house", "shadow", 2)  # moved by someone else: the CLI, a rollout
    page.wait_for_selector("#v2 .chip:has-text('shadow')", timeout=20_000)
    assert "shadow" in page.locator("#alias-history tbody tr").first.inner_text()
    done(page)


def test_first_load_of_every_page_is_under_the_budget(browser: Any, site: Any) -> None:
    base, keys, _ = site
    page = login(browser, base, keys.read)
    sizes: dict[str, int] = {}
    for name, path in PAGES.items():
        sizes[name] = first_load(page, base, path)
    assert all(size <= BUDGET for size in sizes.values()), sizes
    print("compressed first load (bytes):", sizes)
    done(page)
