"""The little HTTP the console needs, over bare ASGI: a parsed request and a response to send.

Like the server, the console uses no web framework: requests are parsed once into
:class:`Request` (query, cookies, an url-encoded form of bounded size) and answers are
:class:`Response` values, gzip-compressed when the browser accepts it.
"""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from shipyard.errors import InvalidInputError

__all__ = ["MAX_FORM_BYTES", "Receive", "Request", "Response", "Scope", "Send"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_FORM_BYTES = 64 * 1024
_COMPRESS_FROM = 512  # bytes; smaller bodies are not worth a gzip header


class Request:
    """One HTTP request to the console; ``path`` is relative to the console's prefix."""

    def __init__(self, scope: Scope, receive: Receive, path: str) -> None:
        self.scope = scope
        self._receive = receive
        self.method: str = scope["method"]
        self.path = path
        self.headers: dict[bytes, bytes] = {k.lower(): v for k, v in scope.get("headers", [])}
        raw = scope.get("query_string", b"").decode("latin-1")
        self.query = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        self.cookies = _cookies(self.headers.get(b"cookie", b"").decode("latin-1"))

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.encode())
        return None if value is None else value.decode("latin-1")

    @property
    def secure(self) -> bool:
        return self.scope.get("scheme") == "https"

    async def body(self, limit: int = MAX_FORM_BYTES) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise InvalidInputError(f"the form is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def disconnected(self) -> None:
        """Return once the client has gone (for a response that streams)."""
        while (await self._receive())["type"] != "http.disconnect":
            pass

    async def form(self) -> dict[str, str]:
        """The url-encoded form fields (first value of each)."""
        kind = (self.header("content-type") or "").split(";")[0].strip().lower()
        raw = await self.body()
        if raw and kind not in ("application/x-www-form-urlencoded", ""):
            raise InvalidInputError(
                f"the console takes url-encoded forms, not {kind!r}; use the /api/v1 JSON API "
                "for scripts"
            )
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def redirect(cls, location: str, status: int = 303) -> Response:
        return cls(status, b"", headers=[(b"location", quote(location, safe="/?=&%:#").encode())])

    def set_cookie(
        self, name: str, value: str, *, path: str, max_age: int | None, secure: bool
    ) -> None:
        parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        self.headers.append((b"set-cookie", "; ".join(parts).encode()))

    async def send(self, send: Send, accept_encoding: str = "", head: bool = False) -> None:
        body = self.body
        headers = [
            (b"content-type", self.content_type.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            *self.headers,
        ]
        if not any(k == b"cache-control" for k, _ in self.headers):
            headers.append((b"cache-control", b"no-store"))
        if len(body) >= _COMPRESS_FROM and "gzip" in accept_encoding.lower():
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})
