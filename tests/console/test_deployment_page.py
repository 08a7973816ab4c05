"""The Deployments and Deployment pages over real HTTP: the real server (``build_app`` under
uvicorn, auth on) serving a canary rollout, real predictions, the live event stream, and the
promote / rollback / pause / resume actions with their confirmation, audited with the key's
name; a read key sees no buttons and is refused."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _console_data import make_keys, populate_home
from _deployed import ENDPOINT, WAIT, Site, Traffic, deployed, ensure_rollout, wait_for_variants
from _live import live_server

from shipyard.console import console_app
from shipyard.rollouts.store import RolloutStore
from shipyard.settings import Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with deployed(tmp_path_factory.mktemp("deploy") / "home") as found:
        yield found


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


@contextlib.contextmanager
def client(base: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
        page = http.get("/ui/login")
        answer = http.post("/ui/login", data={"csrf": csrf(page.text), "token": token})
        assert answer.status_code == 303, answer.text
        yield http


def events(http: httpx.Client, path: str, wanted: Any, timeout: float = WAIT) -> list[Any]:
    """Read the event stream at ``path`` until ``wanted(events)`` holds; the events so far, as
    (name, data, id)."""
    seen: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + timeout
    with http.stream("GET", path) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        name, data, event_id = "", [], ""
        for line in answer.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and name:
                seen.append((name, "\n".join(data), event_id))
                name, data, event_id = "", [], ""
                if wanted(seen):
                    return seen
            assert time.monotonic() < deadline, f"the stream never showed it: {seen[-3:]}"
    raise AssertionError(f"the stream ended first: {seen[-3:]}")


def test_the_deployments_page_lists_endpoints_splits_and_rollouts(site: Site) -> None:
    rollout = ensure_rollout(site.registry)
    with client(site.base, site.keys.read) as http:
        page = http.get("/ui/deployments").text
    assert 'href="/ui/deployments/churn">churn</a>' in page
    assert "<strong>main</strong> churn@champion (v2): 50%" in page
    assert "<strong>candidate</strong> churn/1 (v1): 50%" in page
    assert f"#{rollout.id} canary of v1" in page and "running" in page
    assert 'aria-current="page">Deployments' in page  # in the navigation


def test_the_deployment_page_shows_split_rollout_and_guardrails(site: Site) -> None:
    rollout = ensure_rollout(site.registry)
    wait_for_variants(site, {"main", "candidate"})
    with client(site.base, site.keys.write) as http:
        page = http.get(f"/ui/deployments/{ENDPOINT}").text
    split = page.split('id="split"')[1].split("</table>")[0]
    assert re.search(r"main</th><td>churn@champion</td>\s*<td><a [^>]+>v2</a></td>", split)
    assert re.search(r"candidate</th><td>churn/1</td>\s*<td><a [^>]+>v1</a></td>", split)
    assert split.count("50.0%") == 2
    assert f"#{rollout.id}: canary of" in page
    assert re.search(r'id="rollout-step">1 of 2 at <strong>50%</strong>', page)
    guardrails = page.split('id="guardrails"')[1].split("</table>")[0]
    assert "candidate error rate" in guardrails and "≤ 5.00%" in guardrails
    assert "candidate p99 latency" in guardrails and "≤ 5000 ms" in guardrails
    statistics = page.split('id="statistics"')[1].split("</table>")[0]
    for label in ("effect (candidate - baseline)", "always-valid interval", "sequential p-value"):
        assert label in statistics
    assert 'data-live="/ui/deployments/churn/stream?rollout=' in page
    assert 'id="live-figures"' in page and 'id="live-history"' in page
    for button in (">Promote</button>", ">Roll back</button>", ">Pause</button>"):
        assert button in page
    assert ">Resume</button>" not in page  # it is running


def test_live_figures_follow_real_traffic(site: Site) -> None:
    ensure_rollout(site.registry)
    wait_for_variants(site, {"main", "candidate"})

    def moving(seen: list[tuple[str, str, str]]) -> bool:
        points = [json.loads(data) for name, data, _ in seen if name == "figures"]
        return any(
            p["variants"].get(v, {}).get("rps", 0) > 0
            and p["variants"][v]["p99_ms"] is not None
            and p["variants"][v]["error_rate"] == 0
            for p in points
            for v in ("main", "candidate")
        ) and all(v in points[-1]["variants"] for v in ("main", "candidate"))

    with client(site.base, site.keys.read) as http, Traffic(site) as traffic:
        seen = events(http, f"/ui/deployments/{ENDPOINT}/stream", moving)
        page = http.get(f"/ui/deployments/{ENDPOINT}").text
        # The page's stream goes on after the points the page carries (no point twice).
        after = re.search(r'data-live="[^"]*&amp;after=(\d+)"', page)
        assert after is not None and int(after.group(1)) > 0
        resumed = events(
            http,
            f"/ui/deployments/{ENDPOINT}/stream?after={after.group(1)}",
            lambda seen: any(name == "figures" for name, _, _ in seen),
        )
    assert traffic.statuses.get(200, 0) > 0 and set(traffic.statuses) == {200}
    assert {"main", "candidate"} <= set(traffic.variants)
    points = [json.loads(data) for name, data, _ in seen if name == "figures"]
    assert all(p["t"] > 0 for p in points)
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)
    # The page carries the points seen so far, for the chart to start from.
    history = json.loads(page.split('id="live-history">')[1].split("</script>")[0])
    assert history["window"] == 300 and len(history["points"]) >= 1
    assert all(int(i) > int(after.group(1)) for name, _, i in resumed if name == "figures")
    totals = page.split('id="live-figures"')[1].split("</table>")[0]
    assert re.search(r'data-variant="candidate">.*?data-field="total">[1-9]', totals, re.S)
    # The controller's evaluations (every 0.5 s) fill the guardrails' figures in.
    guardrails = page.split('id="guardrails"')[1].split("</table>")[0]
    assert re.search(r"<td>candidate error rate</td><td>[^<]+</td><td>0\.00%</td>", guardrails)
    assert re.search(r"<td>candidate p99 latency</td><td>[^<]+</td><td>[0-9.]+ ms</td>", guardrails)
    assert 'id="rollout-evaluation"' in page and "baking step 1 at 50%" in page


def test_a_read_key_sees_no_buttons_and_is_refused(site: Site) -> None:
    rollout = ensure_rollout(site.registry)
    with client(site.base, site.keys.read) as http:
        page = http.get(f"/ui/deployments/{ENDPOINT}").text
        assert ">Roll back</button>" not in page and ">Promote</button>" not in page
        assert 'id="read-only"' in page
        token = csrf(page)
        for action in ("rollback", "promote", "pause", "resume"):
            refused = http.post(
                f"/ui/deployments/{ENDPOINT}/{action}", data={"csrf": token, "confirm": "yes"}
            )
            assert refused.status_code == 403
            assert "&#39;write&#39; scope" in refused.text
        assert http.get(f"/ui/deployments/{ENDPOINT}/rollback").status_code == 403
    still = RolloutStore(site.registry.db).active(ENDPOINT)
    assert still is not None and (still.id, still.status) == (rollout.id, "running")


def test_a_key_for_another_model_cannot_see_the_endpoint(site: Site) -> None:
    with client(site.base, site.keys.other) as http:
        listing = http.get("/ui/deployments").text
        assert "/ui/deployments/churn" not in listing and "No endpoints yet" in listing
        refused = http.get(f"/ui/deployments/{ENDPOINT}")
        assert refused.status_code == 403 and "may not see model" in refused.text
        assert http.get(f"/ui/deployments/{ENDPOINT}/stream").status_code == 403
        assert http.get("/ui/deployments/ghost").status_code == 404


def test_pause_resume_then_roll_back_with_confirmation(site: Site) -> None:
    registry = site.registry
    rollout = ensure_rollout(registry)
    store = RolloutStore(registry.db)
    with client(site.base, site.keys.write) as http:
        # The button leads to a confirmation page; only its form acts.
        confirm = http.get(f"/ui/deployments/{ENDPOINT}/pause")
        assert confirm.status_code == 200 and "Yes, pause" in confirm.text
        assert store.active(ENDPOINT).status == "running"
        token = csrf(confirm.text)
        unconfirmed = http.post(f"/ui/deployments/{ENDPOINT}/pause", data={"csrf": token})
        assert unconfirmed.status_code == 200 and "Yes, pause" in unconfirmed.text
        assert store.active(ENDPOINT).status == "running"
        paused = http.post(
            f"/ui/deployments/{ENDPOINT}/pause", data={"csrf": token, "confirm": "yes"}
        )
        assert paused.status_code == 303
        assert paused.headers["location"] == f"/ui/deployments/{ENDPOINT}?done=pause"
        page = http.get(paused.headers["location"]).text
        assert "Paused: rollout" in page and ">Resume</button>" in page
        assert ">Pause</button>" not in page
        assert store.active(ENDPOINT).status == "paused"
        resumed = http.post(
            f"/ui/deployments/{ENDPOINT}/resume", data={"csrf": token, "confirm": "yes"}
        )
        assert resumed.status_code == 303 and store.active(ENDPOINT).status == "running"

        rolled = http.post(
            f"/ui/deployments/{ENDPOINT}/rollback", data={"csrf": token, "confirm": "yes"}
        )
        assert rolled.status_code == 303
        page = http.get(rolled.headers["location"]).text
        assert "Rolled back: rollout" in page and "rolled back" in page
        assert ">Roll back</button>" not in page  # nothing left to act on

        # Acting again says why not, and changes nothing.
        again = http.post(
            f"/ui/deployments/{ENDPOINT}/rollback", data={"csrf": token, "confirm": "yes"}
        )
        assert again.status_code == 409 and "no active rollout" in again.text
        assert (
            http.post(
                f"/ui/deployments/{ENDPOINT}/explode", data={"csrf": token, "confirm": "yes"}
            ).status_code
            == 404
        )

        # The Model page's alias history shows the rollback, by the key's name.
        model = http.get("/ui/models/churn").text
    assert store.latest(ENDPOINT).status == "rolled_back"
    assert store.latest(ENDPOINT).id == rollout.id
    history = model.split('id="alias-history"')[1]
    assert re.search(
        r"<td>challenger</td>\s*<td>v1</td>\s*<td>removed</td>\s*<td>operator-ann</td>", history
    )
    assert registry.get_model("churn").aliases == {"champion": 2}
    actions = [(e.action, e.actor) for e in registry.audit_log(subject=f"rollout:{ENDPOINT}")]
    assert actions[-3:] == [
        ("rollout.pause", "operator-ann"),
        ("rollout.resume", "operator-ann"),
        ("rollout.rollback", "operator-ann"),
    ]
    assert registry.verify_audit() == len(registry.audit_log())
    wait_for_variants(site, {"main"})  # the server routes to the champion alone again


def test_promote_from_the_page_moves_champion(site: Site) -> None:
    registry = site.registry
    ensure_rollout(registry)
    with client(site.base, site.keys.write) as http:
        token = csrf(http.get(f"/ui/deployments/{ENDPOINT}").text)
        promoted = http.post(
            f"/ui/deployments/{ENDPOINT}/promote", data={"csrf": token, "confirm": "yes"}
        )
        assert promoted.status_code == 303
    assert registry.get_model("churn").aliases == {"champion": 1}
    moves = [(m.alias, m.to_version, m.actor) for m in registry.alias_history("churn")][-2:]
    assert moves == [("challenger", None, "operator-ann"), ("champion", 1, "operator-ann")]
    registry.set_alias("churn", "champion", 2)  # back as it was, for the other tests


def test_run_alone_the_page_says_live_figures_need_the_server(tmp_path: Path) -> None:
    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import EndpointStore

    populate_home(tmp_path / "home")
    registry = Registry(Settings(home=tmp_path / "home", actor="tester"))
    try:
        keys = make_keys(registry)
        EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", "tester")
        ensure_rollout(registry)
        app = console_app(registry, auth_required=False, auth_ttl=0.0)
        with live_server(app) as base, client(base, keys.write) as http:
            listing = http.get("/ui/deployments").text
            page = http.get(f"/ui/deployments/{ENDPOINT}").text
            stream = http.get(f"/ui/deployments/{ENDPOINT}/stream")
        assert "need <code>shipyard serve</code>" in listing
        assert "Live figures need <code>shipyard serve</code>" in page
        assert "data-live" not in page and ">Roll back</button>" in page
        assert stream.status_code == 404 and "(shipyard serve)" in stream.text
    finally:
        registry.close()
