"""The email channel: one message per alert over SMTP, plain text with an HTML alternative.

``starttls: true`` upgrades the connection before anything is sent (and before the login,
if ``username`` is set, whose password comes from the variable named by ``password_env``).
Connection failures and 4xx replies are retried; 5xx replies are final.
"""

from __future__ import annotations

import html
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from shipyard.errors import ConfigError
from shipyard.monitoring.alerts.channels._retry import Transient, with_retries
from shipyard.monitoring.alerts.channels.base import (
    ChannelError,
    Settings,
    check_keys,
    get_setting,
    positive,
    retries_setting,
    secret_from,
)
from shipyard.monitoring.alerts.events import AlertEvent, format_value, iso_time

__all__ = ["EmailChannel", "email_message"]

_KEYS = (
    "type",
    "host",
    "port",
    "sender",
    "recipients",
    "starttls",
    "cafile",
    "username",
    "password_env",
    "timeout",
    "retries",
    "backoff",
    "subject_prefix",
)


def email_message(
    alert: AlertEvent, sender: str, recipients: Sequence[str], subject_prefix: str = "[shipyard]"
) -> EmailMessage:
    """The message of one alert: the summary as subject, the details as text and HTML."""
    rows = _rows(alert)
    msg = EmailMessage()
    msg["Subject"] = f"{subject_prefix} {alert.summary}".strip()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(alert.time, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="shipyard.alerts")
    msg["X-Shipyard-Alert-Id"] = alert.id
    msg["X-Shipyard-Event"] = alert.state
    width = max(len(k) for k, _ in rows)
    text = "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
    msg.set_content(f"{alert.summary}\n\n{text}\n")
    cells = "\n".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    msg.add_alternative(
        "<!doctype html><html><body>"
        f"<p><strong>{html.escape(alert.summary)}</strong></p>"
        f"<table cellpadding='4'>\n{cells}\n</table></body></html>\n",
        subtype="html",
    )
    return msg


def _rows(alert: AlertEvent) -> list[tuple[str, str]]:
    rows = [
        ("Rule", alert.rule),
        ("State", alert.state),
        ("Severity", alert.severity),
        ("Figure", alert.figure),
        ("Value", format_value(alert.value)),
        ("Threshold", f"{alert.op} {format_value(alert.threshold)}"),
        *((f"Label {k}", v) for k, v in sorted(alert.labels.items())),
        ("Since", iso_time(alert.since)),
        ("At", iso_time(alert.time)),
        ("Alert id", alert.id),
    ]
    if alert.description:
        rows.append(("Description", alert.description))
    return rows


class EmailChannel:
    """Sends each alert as an email through an SMTP server."""

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        recipients: Sequence[str],
        port: int = 25,
        starttls: bool = False,
        cafile: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        subject_prefix: str = "[shipyard]",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not recipients:
            raise ConfigError("email channel: recipients must name at least one address")
        if (username is None) != (password is None):
            raise ConfigError("email channel: username and password_env go together")
        self.host, self.port = host, port
        self.sender, self.recipients = sender, tuple(recipients)
        self.starttls, self.cafile = starttls, cafile
        self.username, self._password = username, password
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.subject_prefix = subject_prefix
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"EmailChannel({self.host}:{self.port}, to={list(self.recipients)})"

    @classmethod
    def from_config(cls, settings: Settings, environ: Mapping[str, str]) -> EmailChannel:
        where = "email channel"
        check_keys(settings, _KEYS, where)
        recipients = get_setting(settings, "recipients", (list, tuple, str), where)
        recipients = [recipients] if isinstance(recipients, str) else list(recipients)
        if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
            raise ConfigError(f"{where}: recipients must be a list of email addresses")
        sender = get_setting(settings, "sender", str, where)
        if "@" not in sender:
            raise ConfigError(f"{where}: sender must be an email address, got {sender!r}")
        port = get_setting(settings, "port", int, where, 25)
        if not 0 < port < 65536:
            raise ConfigError(f"{where}: port must be 1-65535, got {port!r}")
        return cls(
            get_setting(settings, "host", str, where),
            sender=sender,
            recipients=recipients,
            port=port,
            starttls=get_setting(settings, "starttls", bool, where, False),
            cafile=get_setting(settings, "cafile", str, where, None),
            username=get_setting(settings, "username", str, where, None),
            password=secret_from(settings, "password_env", environ, where),
            timeout=positive(
                get_setting(settings, "timeout", (int, float), where, 10.0), "timeout", where
            ),
            retries=retries_setting(settings, where),
            backoff=float(get_setting(settings, "backoff", (int, float), where, 0.5)),
            subject_prefix=get_setting(settings, "subject_prefix", str, where, "[shipyard]"),
        )

    def send(self, alert: AlertEvent) -> None:
        msg = email_message(alert, self.sender, self.recipients, self.subject_prefix)
        what = f"email via {self.host}:{self.port}"
        with_retries(
            lambda: self._attempt(msg, what),
            what=what,
            retries=self.retries,
            backoff=self.backoff,
            sleep=self._sleep,
        )

    def _attempt(self, msg: EmailMessage, what: str) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=self.cafile))
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(msg, self.sender, list(self.recipients))
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelError(
                f"{what}: the server does not offer STARTTLS; set starttls: false only if the "
                "network path is trusted, or use a server that offers it"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            _reply(what, min(codes), f"every recipient refused: {_refusals(exc.recipients)}")
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            _reply(what, exc.smtp_code, text)
        except ssl.SSLError as exc:
            raise ChannelError(
                f"{what}: TLS failed: {exc}; check cafile and the server's certificate"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, disconnected
            raise Transient(f"{type(exc).__name__}: {exc or 'no reply'}") from exc
        if refused:
            raise ChannelError(f"{what}: some recipients were refused: {_refusals(refused)}")


def _reply(what: str, code: int, text: str) -> None:
    message = f"the server replied {code} {text}"
    if 400 <= code < 500:
        raise Transient(message)
    raise ChannelError(f"{what}: {message} (not retried)")


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{addr} ({code} {text.decode(errors='replace')})" for addr, (code, text) in refused.items()
    )
