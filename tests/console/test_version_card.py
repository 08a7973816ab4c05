"""The Version page carries the version's model card, and the card downloads in each format;
a page view computes nothing (the global importance is shown only once stored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _console_data import populate_home
from _live import live_server

from shipyard.console import console_app
from shipyard.settings import Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    from shipyard.registry.client import Registry

    home = tmp_path_factory.mktemp("card-ui") / "home"
    populate_home(home)
    registry = Registry(Settings(home=home, actor="tester", importance="off"))
    registry.set_tag("churn/2", "card.intended_use", "Rank customers for retention calls")
    with live_server(console_app(registry, auth_required=False)) as base:
        yield base, registry
    registry.close()


def test_the_version_page_shows_the_card(site: tuple[str, Any]) -> None:
    base, registry = site
    page = httpx.get(f"{base}/ui/models/churn/versions/2", timeout=30)
    assert page.status_code == 200
    card = page.text.split('id="card"', 1)[1].split("</details>", 1)[0]
    for heading in ("Model Details", "Uses", "Bias, Risks, and Limitations", "Evaluation"):
        assert heading in card, heading
    assert "Rank customers for retention calls" in card  # from the card.intended_use tag
    assert "not computed yet" in card  # importance off, and a GET starts no SHAP work
    assert not [a for a in registry.attachments("churn/2") if a.kind == "importance"]


def test_the_card_downloads_in_each_format(site: tuple[str, Any]) -> None:
    base, registry = site
    url = f"{base}/ui/models/churn/versions/2/card"
    md = httpx.get(f"{url}/md", timeout=30)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Model Card for churn/2")
    assert 'filename="churn-2.md"' in md.headers["content-disposition"]
    html = httpx.get(f"{url}/html", timeout=30)
    assert html.status_code == 200 and "<h1>Model Card for churn/2</h1>" in html.text
    data = httpx.get(f"{url}/json", timeout=30).json()
    assert data["model_details"]["name"] == "churn/2"
    assert data == json.loads(httpx.get(f"{url}/json", timeout=30).text)
    version = registry.get_version("churn/2")
    assert data["model_details"]["version"]["name"] == str(version.version)


def test_an_unknown_card_format_or_version_is_a_clear_404(site: tuple[str, Any]) -> None:
    base, _ = site
    wrong = httpx.get(f"{base}/ui/models/churn/versions/2/card/pdf", timeout=30)
    assert wrong.status_code == 404 and "use md, html or json" in wrong.text
    missing = httpx.get(f"{base}/ui/models/churn/versions/9/card/md", timeout=30)
    assert missing.status_code == 404
