"""The browser tests' shared set-up: Debian's Chromium driven by Playwright (no browser
download), screenshots, and a login; as ``test_console_browser.py`` does it."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "_screenshots"
BUDGET = 150 * 1024
"""First load of any page, compressed: the HTML and every asset it loads (issue 9)."""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOAD = {"document", "stylesheet", "script", "image", "font", "fetch"}
"""What a page needs to show (the live event stream, which never ends, is not part of it)."""


def chromium() -> str:
    """The Chromium executable: on PATH, else installed by ``scripts/browser.sh``; skip if none."""
    found = os.environ.get("SHIPYARD_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    script = ROOT / "scripts" / "browser.sh"
    try:
        done = subprocess.run(
            [str(script)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no chromium, and scripts/browser.sh could not run: {exc}")
    if done.returncode != 0 or not done.stdout.strip():
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"no chromium, and scripts/browser.sh could not install it: {reason}")
    return done.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium for the block."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
    )
    executable = chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / ".gitignore").write_text("*\n")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def watch(page: Any) -> Any:
    """Collect the page's script errors (uncaught exceptions and console errors)."""
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def on_console(message: Any) -> None:
        # Refusals (401, 403, 409) are on purpose; statuses are checked where they matter.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            page.errors.append(message.text)

    page.on("console", on_console)
    return page


def done(page: Any) -> None:
    """Close the page's browser context, after checking its scripts raised nothing."""
    errors = list(page.errors)
    page.context.close()
    assert errors == []


def login(browser: Any, base: str, token: str, **options: Any) -> Any:
    context = browser.new_context(base_url=base, **options)
    page = watch(context.new_page())
    page.goto("/ui/models")
    assert "/ui/login" in page.url  # sent to log in first
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/models")
    return page


def first_load(page: Any, base: str, path: str) -> int:
    """The compressed bytes a browser fetches to show ``path`` with an empty cache: the
    document and its assets (the live event stream, which never ends, is not part of a load).
    Everything must come from ``base`` (the console works offline) and be only the document,
    one stylesheet and one script."""
    fresh = page.context.new_page()
    fresh.route("**/*", lambda route: route.continue_())  # routing disables the cache
    loaded: list[Any] = []
    fresh.on("response", lambda response: loaded.append(response))
    fresh.goto(path, wait_until="load")
    counted = [r for r in loaded if r.request.resource_type in LOAD and r.ok]
    assert all(r.url.startswith(base) for r in counted), [r.url for r in counted]
    assert sorted(r.request.resource_type for r in counted) == ["document", "script", "stylesheet"]
    total = sum(len(gzip.compress(r.body())) for r in counted)
    fresh.close()
    return total
