"""The console over real HTTP (uvicorn on loopback, httpx): login, every page with real data,
inline changes audited with the key's name, and every refusal a clear 4xx.

The browser tests (test_console_browser.py) drive the same pages in Chromium; these run
everywhere, browser or not."""

from __future__ import annotations

import contextlib
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _console_data import Keys, make_keys, populate, populate_home
from _live import live_server

from shipyard.console import console_app
from shipyard.registry.keys import KeyStore
from shipyard.settings import Settings

BUDGET = 150 * 1024
"""First load of any page, compressed: the HTML and every asset it loads (issue 9)."""


class Console:
    def __init__(self, registry: Any, base: str, keys: Keys | None) -> None:
        self.registry = registry
        self.base = base
        self.keys = keys

    @contextlib.contextmanager
    def client(self, token: str | None = None) -> Iterator[httpx.Client]:
        """A browser-like client, logged in with ``token`` when given."""
        with httpx.Client(base_url=self.base, follow_redirects=False, timeout=30) as http:
            if token is not None:
                page = http.get("/ui/login")
                answer = http.post(
                    "/ui/login", data={"csrf": csrf(page.text), "token": token, "next": "/models"}
                )
                assert answer.status_code == 303, answer.text
            yield http


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Two models, keys of each kind (so authentication is on), and the console serving them."""
    from shipyard.registry.client import Registry

    home = tmp_path_factory.mktemp("console") / "home"
    populate_home(home)
    registry = Registry(Settings(home=home, actor="tester"))
    keys = make_keys(registry)
    app = console_app(registry, auth_required=False, auth_ttl=0.0)
    with live_server(app) as base:
        yield Console(registry, base, keys)
    registry.close()


def test_without_a_key_every_page_redirects_to_the_login(console: Console) -> None:
    with console.client() as http:
        for path in ("/ui/models", "/ui/models/churn", "/ui/models/churn/versions/1", "/ui/audit"):
            answer = http.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/ui/login?next=")
        refused = http.post("/ui/models/churn/aliases", data={"alias": "x", "version": "1"})
        assert refused.status_code == 401
        login = http.get("/ui/login")
        assert login.status_code == 200 and 'name="token"' in login.text


def test_login_refuses_bad_keys_with_the_reason(console: Console) -> None:
    with console.client() as http:
        token = csrf(http.get("/ui/login").text)
        wrong = http.post("/ui/login", data={"csrf": token, "token": "shp_000000000000_nope"})
        assert wrong.status_code == 401 and "not valid (unknown or revoked)" in wrong.text
        empty = http.post("/ui/login", data={"csrf": token, "token": " "})
        assert empty.status_code == 400 and "field &#39;token&#39;" in empty.text
        stale = http.post("/ui/login", data={"csrf": "forged", "token": console.keys.read})
        assert stale.status_code == 403 and "expired" in stale.text
        assert "set-cookie" not in stale.headers


def test_the_session_cookie_is_signed_httponly_and_strict(console: Console) -> None:
    with console.client() as http:
        token = csrf(http.get("/ui/login").text)
        answer = http.post(
            "/ui/login", data={"csrf": token, "token": console.keys.read, "next": "/audit"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/audit"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
        assert console.keys.read not in cookie  # the token never leaves the login form
        assert http.get("/ui/audit").status_code == 200
        # An edited cookie is no session at all.
        value = http.cookies["shipyard_console"]
        http.cookies.set("shipyard_console", value[:-2] + "xx", path="/ui")
        assert http.get("/ui/audit").status_code == 303


def test_login_does_not_redirect_off_site(console: Console) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        with console.client() as http:  # a fresh session each time: a login renews it
            token = csrf(http.get("/ui/login").text)
            answer = http.post(
                "/ui/login", data={"csrf": token, "token": console.keys.read, "next": target}
            )
            assert answer.headers["location"] == "/ui/models"


def test_the_pages_show_the_registry(console: Console) -> None:
    with console.client(console.keys.read) as http:
        models = http.get("/ui/models").text
        rows = re.findall(r'<tr>\s*<th scope="row"><a href="/ui/models/(\w+)">', models)
        assert rows == ["churn", "house"]
        assert 'href="/ui/models/churn/versions/2">v2</a>' in models  # the champion

        model = http.get("/ui/models/churn").text
        assert [int(v) for v in re.findall(r'<tr id="v(\d+)">', model)] == [3, 2, 1]
        assert (
            '<span class="badge rejected">rejected</span><div class="muted">gates failed' in model
        )
        assert model.count("<circle") == 3  # the first metric (accuracy) for each version
        assert "v2: accuracy = 0.83 (champion)" in model
        assert "ONNX ✓" in model
        history = model.split('id="alias-history"')[1]
        assert "champion" in history and "tester" in history

        chart = http.get("/ui/models/churn/chart", params={"metric": "auc"}).text
        assert 'aria-label="auc across 3 versions"' in chart and "<html" not in chart
        assert "v2: auc = 0.78 (champion)" in chart

        v2 = http.get("/ui/models/churn/versions/2").text
        assert re.search(r'<th scope="row">tenure_months</th>', v2)
        assert v2.count('<svg class="hist"') >= 5  # a histogram per profiled feature
        assert "Converted to ONNX and checked on" in v2
        assert "version.register" in v2 and "version.attach" in v2  # its audit entries

        v3 = http.get("/ui/models/churn/versions/3").text
        assert "auc 0.69 is below the floor 0.70" in v3 and "FAIL" in v3

        audit = http.get("/ui/audit").text
        assert 'data-stream="/ui/audit/stream?after=' in audit
        assert "alias.set" in audit


def test_a_read_key_sees_no_controls_and_its_posts_are_refused(console: Console) -> None:
    with console.client(console.keys.read) as http:
        page = http.get("/ui/models/churn").text
        assert 'action="/ui/models/churn/aliases"' not in page
        assert "aliases/delete" not in page and "/tags" not in page
        token = csrf(page)  # the logout form's
        for path, data in (
            ("/ui/models/churn/aliases", {"alias": "staging", "version": "1"}),
            ("/ui/models/churn/aliases/delete", {"alias": "champion"}),
            ("/ui/models/churn/versions/1/tags", {"key": "k", "value": "v"}),
        ):
            refused = http.post(path, data={"csrf": token, **data})
            assert refused.status_code == 403
            assert "need a key with the &#39;write&#39; scope" in refused.text
    assert console.registry.get_model("churn").aliases == {"champion": 2}


def test_a_write_key_moves_aliases_and_tags_audited_with_its_name(console: Console) -> None:
    with console.client(console.keys.write) as http:
        token = csrf(http.get("/ui/models/churn").text)
        moved = http.post(
            "/ui/models/churn/aliases", data={"csrf": token, "alias": "staging", "version": "1"}
        )
        assert moved.status_code == 303 and moved.headers["location"] == "/ui/models/churn"
        tagged = http.post(
            "/ui/models/churn/versions/1/tags", data={"csrf": token, "key": "ok", "value": "yes"}
        )
        assert tagged.status_code == 303
        page = http.get("/ui/models/churn").text
        history = page.split('id="alias-history"')[1]
        assert re.search(
            r"<td>staging</td>\s*<td>-</td>\s*<td>v1</td>\s*<td>operator-ann</td>", history
        )
        assert "ok=yes" in page
        untagged = http.post(
            "/ui/models/churn/versions/1/tags/delete", data={"csrf": token, "key": "ok"}
        )
        removed = http.post(
            "/ui/models/churn/aliases/delete", data={"csrf": token, "alias": "staging"}
        )
        assert untagged.status_code == removed.status_code == 303
    entries = console.registry.audit_log(limit=4)
    assert [e.actor for e in entries] == ["operator-ann"] * 4
    assert [e.action.split(".")[0] for e in entries] == ["alias", "tag", "tag", "alias"]
    assert console.registry.get_version("churn/1").tags == {"team": "growth"}


def test_bad_input_is_a_clear_4xx(console: Console) -> None:
    with console.client(console.keys.write) as http:
        token = csrf(http.get("/ui/models/churn").text)

        def post(path: str, **data: str) -> httpx.Response:
            return http.post(path, data={"csrf": token, **data})

        answer = post("/ui/models/churn/aliases", alias="x", version="three")
        assert (
            answer.status_code == 400
            and "field &#39;version&#39; must be a version number" in answer.text
        )
        answer = post("/ui/models/churn/aliases", alias="", version="1")
        assert answer.status_code == 400 and "field &#39;alias&#39; is required" in answer.text
        answer = post("/ui/models/churn/aliases", alias="Bad Alias", version="1")
        assert answer.status_code == 400 and "invalid alias" in answer.text
        answer = post("/ui/models/churn/aliases", alias="champion", version="3")
        assert answer.status_code == 409 and "was rejected" in answer.text
        assert 'role="alert"' in answer.text and 'id="versions"' in answer.text  # the page stays
        answer = post("/ui/models/churn/aliases", alias="x", version="99")
        assert answer.status_code == 404
        assert http.get("/ui/models/fraud").status_code == 404
        assert http.get("/ui/models/churn/versions/9").status_code == 404
        assert http.get("/ui/models/churn/versions/x").status_code == 400
        assert http.get("/ui/nowhere").status_code == 404
        wrong = http.get("/ui/audit/verify")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
        assert post("/ui/models/churn/aliases", alias="x").status_code == 400
        huge = http.post("/ui/models/churn/aliases", data={"csrf": token, "alias": "a" * 70_000})
        assert huge.status_code == 400 and "larger than" in huge.text
    assert console.registry.get_model("churn").aliases == {"champion": 2}


def test_forms_without_the_token_or_from_another_site_are_refused(console: Console) -> None:
    with console.client(console.keys.write) as http:
        token = csrf(http.get("/ui/models/churn").text)
        data = {"alias": "staging", "version": "1"}
        assert http.post("/ui/models/churn/aliases", data=data).status_code == 403
        assert (
            http.post("/ui/models/churn/aliases", data={**data, "csrf": token[::-1]}).status_code
            == 403
        )
        cross = http.post(
            "/ui/models/churn/aliases",
            data={**data, "csrf": token},
            headers={"origin": "https://evil.example"},
        )
        assert cross.status_code == 403 and "cross-site" in cross.text
    with console.client(console.keys.write) as other:  # another session's token is no good
        assert (
            other.post("/ui/models/churn/aliases", data={**data, "csrf": token}).status_code == 403
        )
    assert "staging" not in console.registry.get_model("churn").aliases


def test_a_restricted_key_sees_only_its_models(console: Console) -> None:
    with console.client(console.keys.other) as http:
        models = http.get("/ui/models").text
        assert "/ui/models/house" in models and "/ui/models/churn" not in models
        assert http.get("/ui/models/churn").status_code == 403
        assert http.get("/ui/models/house/versions/1").status_code == 200
        audit = http.get("/ui/audit").text
        subjects = set(re.findall(r"</code></td><td>([^<]+)</td>", audit))
        assert subjects and all(s.startswith("house") for s in subjects)


def test_a_revoked_key_is_shut_out_at_once(console: Console) -> None:
    keys = KeyStore(console.registry.db)
    key, token = keys.create(["read"], name="short-lived", actor="tester")
    with console.client(token) as http:
        assert http.get("/ui/models").status_code == 200
        keys.revoke(key.key_id, actor="tester")
        assert http.get("/ui/models").status_code == 303  # back to the login


def test_verify_chain_reports_intact_then_the_tampered_entry(console: Console) -> None:
    import sqlalchemy as sa

    from shipyard.registry import schema as t

    with console.client(console.keys.read) as http:
        token = csrf(http.get("/ui/audit").text)
        ok = http.post("/ui/audit/verify", data={"csrf": token})
        assert ok.status_code == 200
        assert re.search(r'<p class="ok">✓ audit chain intact: \d+ entries</p>', ok.text)
        with console.registry.db.write() as conn:
            conn.execute(
                sa.update(t.audit_log).where(t.audit_log.c.seq == 3).values(actor="mallory")
            )
        try:
            broken = http.post("/ui/audit/verify", data={"csrf": token})
            assert '<p class="error">✗ audit chain broken at entry 3' in broken.text
        finally:
            with console.registry.db.write() as conn:
                row = conn.execute(
                    sa.select(t.audit_log.c.actor).where(t.audit_log.c.seq == 2)
                ).scalar_one()
                conn.execute(
                    sa.update(t.audit_log).where(t.audit_log.c.seq == 3).values(actor="tester")
                )
            assert row
        assert "intact" in http.post("/ui/audit/verify", data={"csrf": token}).text


def test_the_audit_filters(console: Console) -> None:
    with console.client(console.keys.read) as http:
        page = http.get("/ui/audit", params={"subject": "house", "action": "version"}).text
        actions = re.findall(r"<td><code>([^<]+)</code></td><td>([^<]+)</td>", page)
        assert ("version.register", "house/1") in actions
        assert all(a.startswith("version.") and s.startswith("house") for a, s in actions)
        exact = http.get("/ui/audit", params={"action": "alias.set", "actor": "tester"}).text
        assert re.findall(r"<td><code>([^<]+)</code>", exact)
        assert set(re.findall(r"<td><code>([^<]+)</code>", exact)) == {"alias.set"}
        assert "data-stream" not in page  # the live feed is for the unfiltered log
        none = http.get("/ui/audit", params={"actor": "nobody-at-all"}).text
        assert "No entries match." in none


def test_the_audit_stream_pushes_new_entries(console: Console) -> None:
    last = console.registry.audit_log(limit=1)[0].seq
    with console.client(console.keys.read) as http:
        url = f"/ui/audit/stream?after={last}"
        with http.stream("GET", url, timeout=30) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            console.registry.set_tag("house/2", "pushed", "1")
            seen = []
            for line in lines:
                seen.append(line)
                if line.startswith("data:"):
                    break
        assert any(line == "event: audit" for line in seen)
        assert "tag.set" in seen[-1] and "house/2" in seen[-1]


def test_first_load_of_every_page_is_under_the_budget(console: Console) -> None:
    with console.client(console.keys.read) as http:
        for path in ("/ui/models", "/ui/models/churn", "/ui/models/churn/versions/2", "/ui/audit"):
            page = http.get(path, headers={"accept-encoding": "gzip"})
            assert page.headers.get("content-encoding") == "gzip"
            assets = re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page.text)
            assert len(assets) == 2
            total = len(gzip.compress(page.content))
            for asset in assets:
                answer = http.get(asset)
                assert answer.status_code == 200
                assert "immutable" in answer.headers["cache-control"]
                total += len(gzip.compress(answer.content))
            assert total <= BUDGET, f"{path}: {total} bytes compressed"


def test_with_no_key_anywhere_the_console_is_open_and_acts_as_the_operator(
    registry: Any,
) -> None:
    """Loopback and no API keys: no login; changes are audited as the configured actor. Runs on
    SQLite and on PostgreSQL."""
    populate(registry)
    app = console_app(registry, auth_required=False)
    with live_server(app) as base, httpx.Client(base_url=base) as http:
        page = http.get("/ui/models/churn")
        assert page.status_code == 200 and "Authentication off" in page.text
        moved = http.post(
            "/ui/models/churn/aliases",
            data={"csrf": csrf(page.text), "alias": "staging", "version": "2"},
            follow_redirects=False,
        )
        assert moved.status_code == 303
    assert registry.alias_history("churn", "staging")[-1].actor == "tester"


def test_auth_required_asks_for_a_key_even_before_any_exists(tmp_path: Path) -> None:
    from shipyard.registry.client import Registry

    registry = Registry(Settings(home=tmp_path / "home", actor="tester"))
    try:
        app = console_app(registry, auth_required=True)
        with live_server(app) as base, httpx.Client(base_url=base) as http:
            assert http.get("/ui/models").status_code == 303
    finally:
        registry.close()
