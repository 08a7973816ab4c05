"""One request's state as the server's handlers pass it along, and the errors that end it.

:class:`Call` is what a handler gets; :class:`Reply` is an answer decided before the handler
finished (a 404, 405, 413 or 503 with its message); :data:`STATUS` maps the error tree
(:mod:`shipyard.errors`) to HTTP statuses, looked up along the exception's class hierarchy by
:func:`status_for`; :func:`new_request_id` makes the ids of requests that brought none.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from shipyard.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SignatureError,
    StoreError,
)

if TYPE_CHECKING:
    from shipyard.serving.hosts import ModelHost
    from shipyard.serving.routing import Route

__all__ = [
    "SAFE_ID",
    "STATUS",
    "Call",
    "Disconnected",
    "Handler",
    "Headers",
    "Receive",
    "Reply",
    "Result",
    "Scope",
    "Send",
    "new_request_id",
    "status_for",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

STATUS: dict[type[BaseException], int] = {
    SignatureError: 422,
    InvalidInputError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    StoreError: 503,
    AccessDeniedError: 403,
}
SAFE_ID = re.compile(r"[\x21-\x7e]{1,128}")
"""A request id a client may give (header or V2 ``id``): 1-128 printable ASCII characters."""

_ID_PROCESS = f"{random.SystemRandom().getrandbits(40):010x}"
_ID_COUNTER = itertools.count(random.SystemRandom().getrandbits(40))
_ID_PREFIX: tuple[int, str] = (-1, "")  # (millisecond, its first 22 hex digits): made once a ms


def new_request_id() -> str:
    """A time-ordered id, 32 hex digits: 48 bits of milliseconds since the epoch, 40 random
    bits drawn once per process, and a 40-bit counter (random start): unique across replicas
    and restarts without a random draw per request."""
    global _ID_PREFIX
    count = next(_ID_COUNTER) & 0xFF_FFFF_FFFF
    ms = time.time_ns() // 1_000_000
    cached = _ID_PREFIX
    if cached[0] != ms:
        cached = _ID_PREFIX = (ms, f"{ms:012x}{_ID_PROCESS}")
    return f"{cached[1]}{count:010x}"


def status_for(exc: BaseException) -> int:
    """The HTTP status of an error: :data:`STATUS` along its class hierarchy, else 500."""
    for cls in type(exc).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


class Reply(Exception):
    """An answer decided before the handler finished (404, 405, 413, 503)."""

    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


class Disconnected(Exception):
    """The client went away while sending its body: there is no one to answer."""


class Call:
    """One request's state, handed to a handler."""

    __slots__ = (
        "answered",
        "binary_length",
        "content_length",
        "headers",
        "host",
        "receive",
        "request_headers",
        "request_id",
        "route",
        "started",
        "variant",
        "version",
    )

    def __init__(self, receive: Receive, started: float = 0.0) -> None:
        self.receive = receive
        self.started = started  # time.perf_counter() at the request's arrival
        self.host: ModelHost | None = None
        self.version: int | None = None
        self.request_id: str | None = None
        self.content_length: bytes | None = None
        self.binary_length: bytes | None = None  # Inference-Header-Content-Length (Triton's)
        self.headers: Headers = []  # extra response headers
        self.request_headers: Headers = []  # the request's, as the ASGI scope has them
        self.route: Route | None = None  # the routing table a routed request was routed by
        self.variant: str | None = None  # the variant that answered ("": not chosen yet)
        self.answered = ""  # the version number that answered, for the metrics

    def header(self, name: bytes) -> bytes | None:
        """The request header ``name`` (lower case), or None."""
        for key, value in self.request_headers:
            if key == name:
                return value
        return None


Result = tuple[int, bytes]
Handler = Callable[[Call], Awaitable[Result]]
