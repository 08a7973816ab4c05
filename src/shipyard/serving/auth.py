"""Bearer-token authentication for the server, with a short-lived cache of verified tokens.

A request names its key with ``Authorization: Bearer <token>``. The route decides the scope it
needs (see ``ServingApp._scope_for``) and, when it names an endpoint or model, which names a
restricted key must reach. The answers:

- no key, a malformed header, an unknown or a revoked key: 401 with ``WWW-Authenticate: Bearer``;
- a valid key without the scope, or restricted to other models: 403.

Verifying a token is one indexed lookup of its sha256 in the metadata store, run off the event
loop. The result (good or bad) is cached in memory for ``ttl`` seconds keyed by that digest, so
the request path usually pays one sha256 and one dict lookup, and a revocation is honoured within
``ttl`` seconds. If the store cannot be reached when an entry expires, a key that was valid stays
valid until the store answers again (availability over a revocation that cannot be read).

Whether auth applies at all: ``required`` (the server binds beyond loopback) enforces it always;
otherwise it is enforced once any API key exists, re-checked every ``ttl`` seconds, so keys created
while a loopback server runs take effect without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

from shipyard.errors import StoreError
from shipyard.registry.keys import PREDICT, ApiKey, KeyStore

__all__ = ["Authenticator", "Denied"]

log = logging.getLogger("shipyard.serving")

_REALM = b'Bearer realm="shipyard"'


class Denied(Exception):
    """A request the key does not admit: 401 (who are you?) or 403 (not with this key)."""

    def __init__(self, status: int, message: str, challenge: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.headers = [(b"www-authenticate", challenge)]


class Authenticator:
    """Checks bearer tokens against the key store, caching verdicts for ``ttl`` seconds."""

    def __init__(
        self,
        verify: Callable[[str], ApiKey | None],
        keys_exist: Callable[[], bool],
        *,
        required: bool = False,
        ttl: float = 5.0,
        max_cached: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verify = verify
        self._keys_exist = keys_exist
        self.required = required
        self.ttl = ttl
        self._max_cached = max_cached
        self._clock = clock
        self._cache: dict[bytes, tuple[float, ApiKey | None]] = {}
        self._enforced = required
        self._enforced_until = float("inf") if required else 0.0

    @classmethod
    def for_store(
        cls, keys: KeyStore, *, required: bool = False, ttl: float = 5.0
    ) -> Authenticator:
        return cls(keys.verify, keys.any_exist, required=required, ttl=ttl)

    @property
    def off(self) -> bool:
        """True while authentication is known to be off (no key exists, checked within the
        last ``ttl`` seconds): a request needs no check at all."""
        return not self._enforced and self._clock() < self._enforced_until

    async def enforced(self) -> bool:
        """Whether requests need a key now."""
        if self._clock() < self._enforced_until:
            return self._enforced
        try:
            now_enforced = await asyncio.to_thread(self._keys_exist)
        except StoreError as exc:  # keep the last answer; ask again on the next request
            log.warning("cannot tell whether API keys exist: %s", exc)
            return self._enforced
        if now_enforced != self._enforced:
            state = "on: API keys exist" if now_enforced else "off: no API key exists"
            log.info("authentication is %s", state)
        self._enforced = now_enforced
        self._enforced_until = self._clock() + self.ttl
        return now_enforced

    async def authenticate(
        self, authorization: bytes | None, scope: str, names: tuple[str, ...] | None
    ) -> ApiKey | None:
        """The key admitting a request that needs ``scope`` (on something called ``names``,
        when the route names an endpoint or model); None when auth is not enforced.
        Raises :class:`Denied`."""
        if not self._enforced and not await self.enforced():
            return None
        if authorization is None:
            raise Denied(
                401,
                "this server needs an API key: send the header 'Authorization: Bearer TOKEN' "
                "(create a key with: shipyard keys create --scope predict)",
                _REALM,
            )
        kind, _, token = authorization.partition(b" ")
        token = token.strip()
        if kind.lower() != b"bearer" or not token:
            raise Denied(
                401,
                "malformed Authorization header: expected 'Bearer TOKEN'",
                _REALM + b', error="invalid_request"',
            )
        key = await self._lookup(token)
        if key is None:
            raise Denied(
                401,
                "the API key is not valid (unknown or revoked)",
                _REALM + b', error="invalid_token"',
            )
        if not key.allows(scope):
            raise Denied(
                403,
                f"API key {key.key_id} ({key.name}) lacks the {scope!r} scope "
                f"(it has: {', '.join(key.scopes)})",
                _REALM + f', error="insufficient_scope", scope="{scope}"'.encode(),
            )
        if key.models:
            if names is None and scope == PREDICT:
                raise Denied(
                    403,
                    f"API key {key.key_id} ({key.name}) is restricted to "
                    f"{', '.join(key.models)}: call a route that names the model, such as "
                    f"/v2/models/{key.models[0]}/infer",
                    _REALM + b', error="insufficient_scope"',
                )
            if names is not None and not key.reaches(names):
                raise Denied(
                    403,
                    f"API key {key.key_id} ({key.name}) may not use {names[0]!r}: it is "
                    f"restricted to {', '.join(key.models)}",
                    _REALM + b', error="insufficient_scope"',
                )
        return key

    async def _lookup(self, token: bytes) -> ApiKey | None:
        digest = hashlib.sha256(token).digest()
        now = self._clock()
        entry = self._cache.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        try:
            key = await asyncio.to_thread(self._verify, token.decode("latin-1"))
        except StoreError:
            if entry is not None and entry[1] is not None:
                log.warning("cannot re-check API key %s; honouring it meanwhile", entry[1].key_id)
                return entry[1]
            raise
        if len(self._cache) >= self._max_cached:  # a flood of made-up tokens: start over
            self._cache.clear()
        self._cache[digest] = (self._clock() + self.ttl, key)
        return key
