"""Alert channels against real receivers on loopback, and the dispatcher around them.

The contract test runs over every registered channel type: each must have a receiver here
(:data:`HARNESSES`), so a new channel cannot land untested.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shipyard.errors import ConfigError
from shipyard.monitoring.alerts import (
    CHANNEL_TYPES,
    AlertDispatcher,
    AlertEvent,
    ChannelError,
    Observation,
    RuleState,
    build_channel,
    evaluate,
    parse_alert_config,
)
from shipyard.monitoring.alerts.channels.webhook import SIGNATURE_HEADER

T0 = 1_700_000_000.0
FAST = {"retries": 2, "backoff": 0.001, "timeout": 2}


def event(state: str = "firing", channels: tuple[str, ...] = ()) -> AlertEvent:
    return AlertEvent(
        id="a1b2c3",
        state=state,  # type: ignore[arg-type]
        rule="churn-drift",
        figure="drift.feature.tenure_months.statistic",
        value=0.625,
        op=">=",
        threshold=0.5,
        severity="critical",
        time=T0 + 60,
        since=T0,
        labels={"model": "churn", "version": "7", "endpoint": "churn-api"},
        channels=channels,
    )


# -- receivers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class HttpReceiver:
    """A real HTTP server on loopback; answers with ``statuses`` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                reply = b"ok" if status == 200 else b"receiver trouble"
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-path"
        # A short poll keeps shutdown() quick (its default waits up to half a second).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def bodies(self) -> list[bytes]:
        return [body for _, _, body in self.requests]


@dataclass
class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on loopback; replies ``replies`` in turn to DATA."""

    replies: list[str] = field(default_factory=list)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    attempts: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.attempts += 1
                if receiver.replies:
                    return receiver.replies.pop(0)
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                receiver.messages.append(msg)
                receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        # aiosmtpd checks that it is up by connecting to its port, so it cannot take port 0.
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def message_text(msg: EmailMessage) -> str:
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    return f"{msg['subject']}\n{plain.get_content()}\n{rich.get_content()}"


# -- the contract ------------------------------------------------------------------------


@dataclass
class Harness:
    config: dict[str, Any]
    delivered: Callable[[], list[str]]
    attempts: Callable[[], int] = lambda: 0
    fail: Callable[[], None] | None = None  # make the receiver answer with an error
    down: dict[str, Any] | None = None  # a config pointing at nothing


def http_harness(kind: str) -> Callable[[pytest.FixtureRequest], Iterator[Harness]]:
    def make(request: pytest.FixtureRequest) -> Iterator[Harness]:
        receiver = HttpReceiver()
        try:
            yield Harness(
                config={"type": kind, "url": receiver.url, **FAST},
                delivered=lambda: [b.decode() for b in receiver.bodies()],
                attempts=lambda: len(receiver.requests),
                fail=lambda: receiver.statuses.extend([500] * 10),
                down={"type": kind, "url": f"http://127.0.0.1:{free_port()}/x", **FAST},
            )
        finally:
            receiver.close()

    return make


def email_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    receiver = SmtpReceiver()
    config = {
        "type": "email",
        "host": "127.0.0.1",
        "port": receiver.port,
        "sender": "shipyard@example.org",
        "recipients": ["oncall@example.org", "ml@example.org"],
        **FAST,
    }
    try:
        yield Harness(
            config=config,
            delivered=lambda: [message_text(m) for m in receiver.messages],
            attempts=lambda: receiver.attempts,
            fail=lambda: receiver.replies.extend(["451 4.3.0 try again later"] * 10),
            down={**config, "port": free_port()},
        )
    finally:
        receiver.close()


def log_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    caplog: pytest.LogCaptureFixture = request.getfixturevalue("caplog")
    caplog.set_level(logging.INFO, logger="shipyard.alerts")

    def delivered() -> list[str]:
        return [
            f"{r.getMessage()}\n{json.dumps(r.alert)}"  # type: ignore[attr-defined]
            for r in caplog.records
            if r.name == "shipyard.alerts"
        ]

    yield Harness(config={"type": "log"}, delivered=delivered)


HARNESSES: dict[str, Callable[[pytest.FixtureRequest], Iterator[Harness]]] = {
    "webhook": http_harness("webhook"),
    "slack": http_harness("slack"),
    "email": email_harness,
    "log": log_harness,
}


@pytest.fixture(params=sorted(CHANNEL_TYPES))
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from HARNESSES[request.param](request)


def test_every_registered_channel_has_a_receiver_here() -> None:
    assert set(HARNESSES) == set(CHANNEL_TYPES)


def test_contract_delivers_firing_and_resolved(harness: Harness) -> None:
    channel = build_channel(harness.config, name="under-test")
    channel.send(event("firing"))
    channel.send(event("resolved"))
    firing, resolved = harness.delivered()
    for text in (firing, resolved):
        for part in (
            "churn-drift",
            "drift.feature.tenure_months.statistic",
            "0.625",
            "0.5",
            "critical",
            "churn-api",
            "7",
        ):
            assert part in text
    assert "firing" in firing.lower() and "resolved" not in firing.lower()
    assert "resolved" in resolved.lower()


def test_contract_failures_are_retried_then_a_channel_error(harness: Harness) -> None:
    if harness.fail is None or harness.down is None:
        pytest.skip("this channel has no remote side to fail")
    harness.fail()
    channel = build_channel(harness.config)
    with pytest.raises(ChannelError, match="failed after 3 attempts"):
        channel.send(event())
    assert harness.attempts() == 3
    with pytest.raises(ChannelError, match="failed after 3 attempts"):
        build_channel(harness.down).send(event())


# -- what each channel sends -------------------------------------------------------------


def test_webhook_sends_json_signed_with_the_secret() -> None:
    receiver = HttpReceiver()
    try:
        config = {"type": "webhook", "url": receiver.url, "secret_env": "OPS_SECRET", **FAST}
        channel = build_channel(config, environ={"OPS_SECRET": "s3cret"})
        channel.send(event())
        ((_path, headers, body),) = receiver.requests
    finally:
        receiver.close()
    data = json.loads(body)
    assert data["schema"] == "shipyard.alert/v1"
    assert {k: data[k] for k in ("state", "rule", "value", "threshold", "op", "severity")} == {
        "state": "firing",
        "rule": "churn-drift",
        "value": 0.625,
        "threshold": 0.5,
        "op": ">=",
        "severity": "critical",
    }
    assert data["labels"] == {"model": "churn", "version": "7", "endpoint": "churn-api"}
    assert data["since"] == "2023-11-14T22:13:20+00:00"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    assert headers["X-Shipyard-Event"] == "firing" and headers["X-Shipyard-Alert-Id"] == "a1b2c3"
    assert "s3cret" not in repr(channel)


def test_webhook_secret_must_be_set() -> None:
    with pytest.raises(ConfigError, match="secret_env names OPS_SECRET, which is not set"):
        build_channel({"type": "webhook", "url": "http://127.0.0.1:1/", "secret_env": "OPS_SECRET"})


def test_a_client_error_is_not_retried() -> None:
    receiver = HttpReceiver(statuses=[404])
    try:
        with pytest.raises(ChannelError, match=r"answered 404 Not Found.*not retried") as info:
            build_channel({"type": "webhook", "url": receiver.url, **FAST}).send(event())
        assert len(receiver.requests) == 1
    finally:
        receiver.close()
    assert "secret-path" not in str(info.value)  # the path of a hook URL is its secret


def test_a_server_error_that_passes_is_delivered() -> None:
    receiver = HttpReceiver(statuses=[503, 500])
    try:
        build_channel({"type": "slack", "url": receiver.url, **FAST}).send(event())
        assert len(receiver.requests) == 3
    finally:
        receiver.close()


def test_slack_payload_has_text_and_blocks() -> None:
    receiver = HttpReceiver()
    try:
        build_channel({"type": "slack", "url": receiver.url}).send(event("resolved"))
        data = json.loads(receiver.bodies()[0])
    finally:
        receiver.close()
    assert data["text"].startswith("[CRITICAL] RESOLVED churn-drift")
    kinds = [b["type"] for b in data["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    assert data["blocks"][0]["text"]["text"] == "RESOLVED: churn-drift"


def test_email_is_plain_text_and_html_to_every_recipient() -> None:
    receiver = SmtpReceiver()
    try:
        config = {
            "type": "email",
            "host": "127.0.0.1",
            "port": receiver.port,
            "sender": "shipyard@example.org",
            "recipients": ["oncall@example.org", "ml@example.org"],
        }
        build_channel(config).send(event())
    finally:
        receiver.close()
    (msg,) = receiver.messages
    assert receiver.envelopes == [
        ("shipyard@example.org", ["oncall@example.org", "ml@example.org"])
    ]
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["subject"].startswith("[shipyard] [CRITICAL] FIRING churn-drift")
    assert msg["X-Shipyard-Alert-Id"] == "a1b2c3"
    rich = msg.get_body(preferencelist=("html",))
    assert rich is not None and "<table" in rich.get_content() and "&gt;= 0.5" in rich.get_content()


def test_email_permanent_refusal_and_missing_starttls_are_final() -> None:
    receiver = SmtpReceiver(replies=["554 5.7.1 rejected"])
    config = {
        "type": "email",
        "host": "127.0.0.1",
        "port": receiver.port,
        "sender": "shipyard@example.org",
        "recipients": ["oncall@example.org"],
        **FAST,
    }
    try:
        with pytest.raises(ChannelError, match=r"replied 554 5\.7\.1 rejected"):
            build_channel(config).send(event())
        assert receiver.attempts == 1
        with pytest.raises(ChannelError, match="does not offer STARTTLS"):
            build_channel({**config, "starttls": True}).send(event())
    finally:
        receiver.close()


def test_log_level_follows_severity(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shipyard.alerts")
    channel = build_channel({"type": "log"})
    channel.send(event("firing"))
    channel.send(event("resolved"))
    firing, resolved = caplog.records
    assert (firing.levelno, resolved.levelno) == (logging.CRITICAL, logging.INFO)
    assert firing.alert["state"] == "firing"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "sms"}, "unknown type 'sms'; known types are email, log, slack, webhook"),
        ({"url": "x"}, "unknown type None"),
        ({"type": "webhook", "url": "ftp://x"}, "url must be an absolute http"),
        ({"type": "webhook", "url": "http://x", "retries": -1}, "retries must be zero or more"),
        ({"type": "webhook", "url": "http://x", "timeout": "5"}, "timeout must be int or float"),
        ({"type": "slack", "url": "http://x", "secret_env": "X"}, "unknown setting(s) secret_env"),
        ({"type": "email", "host": "h", "sender": "a@b"}, "setting 'recipients' is required"),
        (
            {"type": "email", "host": "h", "sender": "a@b", "recipients": ["nobody"]},
            "recipients must",
        ),
        ({"type": "log", "level": "debug"}, "unknown setting(s) level"),
    ],
)
def test_channel_configs_are_checked(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_channel(config, name="mine")
    assert message in str(info.value) and "channel 'mine'" in str(info.value)


# -- the dispatcher ----------------------------------------------------------------------


class Crashing:
    def send(self, alert: AlertEvent) -> None:
        raise RuntimeError("bug in a channel")


def test_one_failing_channel_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shipyard.alerts")
    good = HttpReceiver()
    try:
        dispatcher = AlertDispatcher.from_config(
            {
                "dead": {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/", **FAST},
                "good": {"type": "webhook", "url": good.url, **FAST},
                "log": {"type": "log"},
            }
        )
        dispatcher.channels["crashy"] = Crashing()
        dispatcher._clock = lambda: T0 + 61
        records = dispatcher.dispatch([event(channels=("dead", "crashy", "good", "log", "absent"))])
        assert len(good.requests) == 1
    finally:
        good.close()
    (record,) = records
    assert record["delivered"] == ["good", "log"]
    failures = {f["channel"]: f["error"] for f in record["failures"]}
    assert set(failures) == {"dead", "crashy", "absent"}
    assert "failed after 3 attempts" in failures["dead"]
    assert failures["crashy"] == "channel crashed: RuntimeError: bug in a channel"
    assert "no channel named 'absent'" in failures["absent"]
    assert record["dispatched_at"] == "2023-11-14T22:14:21+00:00"
    assert json.loads(json.dumps(record)) == record
    assert any("channel crashy crashed" in r.getMessage() for r in caplog.records)


ALERTS_YAML = {
    "channels": {"hook": {"type": "webhook", "url": "URL", **FAST}, "mail": {"type": "email"}},
    "rules": [
        {
            "name": "churn-drift",
            "figure": "drift.share",
            "op": ">=",
            "threshold": 0.5,
            "for": 2,
            "severity": "warning",
            "channels": ["hook", "mail"],
            "labels": {"model": "churn", "version": 3},
        }
    ],
}


def test_rules_to_receivers_end_to_end() -> None:
    hook, mail = HttpReceiver(), SmtpReceiver()
    try:
        data = json.loads(json.dumps(ALERTS_YAML).replace('"URL"', json.dumps(hook.url)))
        data["channels"]["mail"] = {
            "type": "email",
            "host": "127.0.0.1",
            "port": mail.port,
            "sender": "shipyard@example.org",
            "recipients": ["oncall@example.org"],
        }
        config = parse_alert_config(data)
        dispatcher = AlertDispatcher.from_config(config.channels)
        (rule,) = config.rules
        state: RuleState | None = None
        history = []
        for i, share in enumerate([0.2, 0.6, 0.7, 0.8, 0.1]):
            result = evaluate(rule, state, Observation(share, T0 + 3600 * i))
            state = result.state
            history += dispatcher.dispatch(result.events)
        bodies = [json.loads(b) for b in hook.bodies()]
        subjects = [m["subject"] for m in mail.messages]
    finally:
        hook.close()
        mail.close()
    assert [(r["state"], r["value"], r["delivered"], r["failures"]) for r in history] == [
        ("firing", 0.7, ["hook", "mail"], []),
        ("resolved", 0.1, ["hook", "mail"], []),
    ]
    assert history[0]["id"] == history[1]["id"]
    assert [b["state"] for b in bodies] == ["firing", "resolved"]
    assert bodies[0]["labels"] == {"model": "churn", "version": "3"}
    assert [s.split()[2] for s in subjects] == ["FIRING", "RESOLVED"]
