"""The console's session cookie and CSRF tokens: signed values, no server-side state (pure).

A session is a small JSON object — a random session id, the API key id the visitor logged in
with (or none), and an expiry — signed with HMAC-SHA256 under a secret the console holds
(given by the operator, else random per process, so a restart logs everyone out). The token
itself never enters the cookie: each request re-reads the key by its id, so a revoked key stops
working at once, not when the cookie expires.

CSRF: every form carries ``HMAC(secret, "csrf:" + session id)``; a POST whose field does not
match is refused. With the cookie's ``SameSite=Strict`` that is two independent defences.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

__all__ = ["COOKIE", "Session", "SessionCodec"]

COOKIE = "shipyard_console"
MAX_AGE = 12 * 3600
"""Seconds a session lasts after login (then the key is asked for again)."""


@dataclass(frozen=True)
class Session:
    sid: str
    key_id: str | None
    expires: float

    def expired(self, now: float) -> bool:
        return now >= self.expires


class SessionCodec:
    """Signs and checks session cookies and CSRF tokens under one secret."""

    def __init__(self, secret: bytes | None = None, *, max_age: float = MAX_AGE) -> None:
        self._secret = secret if secret else secrets.token_bytes(32)
        self.max_age = max_age

    def new(self, now: float, key_id: str | None = None) -> Session:
        """A fresh session (a new id on every login, so a planted cookie cannot be upgraded)."""
        return Session(secrets.token_urlsafe(18), key_id, now + self.max_age)

    def dump(self, session: Session) -> str:
        body = json.dumps(
            {"s": session.sid, "k": session.key_id, "e": round(session.expires)},
            separators=(",", ":"),
        ).encode()
        payload = base64.urlsafe_b64encode(body).rstrip(b"=")
        return f"{payload.decode()}.{self._mac(payload)}"

    def load(self, value: str | None, now: float) -> Session | None:
        """The session in a cookie value, or None when it is absent, forged or expired."""
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.encode().split(b".")
        if not hmac.compare_digest(self._mac(payload).encode(), mac):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            session = Session(str(data["s"]), data["k"], float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.key_id is not None and not isinstance(session.key_id, str):
            return None
        return None if session.expired(now) else session

    def csrf_token(self, session: Session) -> str:
        return self._mac(b"csrf:" + session.sid.encode())

    def check_csrf(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), token)

    def _mac(self, data: bytes) -> str:
        digest = hmac.new(self._secret, data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
