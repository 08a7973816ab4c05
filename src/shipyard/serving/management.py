"""The management API under ``/api/v1``: the registry over HTTP, for operators and the CLI.

- ``GET /api/v1/models``: every model (those a restricted key reaches)
- ``GET /api/v1/models/{name}``: one model, with its aliases and tags
- ``GET /api/v1/models/{name}/versions``: its versions, oldest first
- ``PUT /api/v1/models/{name}/aliases/{alias}`` with ``{"version": N}``: move (or set) an alias;
  audited with the API key's name as the actor. Servers following the alias pick the move up on
  their next poll, like any other move.

Reads need the ``read`` scope and the move needs ``write`` (the server checks both before a
handler runs). Bodies are JSON (orjson); errors are ``{"error": "..."}`` with the statuses of the
rest of the server. Registry calls are blocking SQL, so they run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import ApiKey

__all__ = ["PREFIX", "ApiError", "Management"]

PREFIX = "/api/v1/"

Body = Callable[[], Awaitable[bytes]]
Result = tuple[int, bytes]


class ApiError(Exception):
    """No such route (404), or the wrong method on one (405, with the methods it allows)."""

    def __init__(self, status: int, message: str, allow: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.headers = [(b"allow", allow.encode())] if allow else []


class Management:
    """The ``/api/v1`` routes over one :class:`~shipyard.registry.client.Registry`."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @staticmethod
    def model_in(path: str) -> str | None:
        """The model a management path names, if any (for a key's model restriction)."""
        parts = path.split("/")  # "", "api", "v1", "models", NAME, ...
        if len(parts) >= 5 and parts[3] == "models" and parts[4]:
            return parts[4]
        return None

    async def handle(self, method: str, path: str, body: Body, key: ApiKey | None) -> Result:
        """Answer one request under ``/api/v1/``; ``key`` is the caller's (None: auth off)."""
        parts = tuple(path[len(PREFIX) :].rstrip("/").split("/"))
        run: Callable[[], Awaitable[Result]]
        match parts:
            case ("models",):
                allow, run = "GET", lambda: self._models(key)
            case ("models", name):
                allow, run = "GET", lambda: self._model(name)
            case ("models", name, "versions"):
                allow, run = "GET", lambda: self._versions(name)
            case ("models", name, "aliases", alias):
                allow, run = "PUT", lambda: self._set_alias(name, alias, body, key)
            case _:
                raise ApiError(
                    404,
                    f"no route {path}; the management API has /api/v1/models, "
                    "/api/v1/models/{name}, /api/v1/models/{name}/versions and "
                    "PUT /api/v1/models/{name}/aliases/{alias}",
                )
        if method != allow:
            raise ApiError(405, f"{method} is not allowed on {path}; use {allow}", allow)
        return await run()

    async def _models(self, key: ApiKey | None) -> Result:
        models = await asyncio.to_thread(self.registry.list_models)
        if key is not None:
            models = [m for m in models if key.reaches((m.name,))]
        return 200, _json({"models": [m.to_dict() for m in models]})

    async def _model(self, name: str) -> Result:
        model = await asyncio.to_thread(self.registry.get_model, name)
        return 200, _json(model.to_dict())

    async def _versions(self, name: str) -> Result:
        versions = await asyncio.to_thread(self.registry.list_versions, name)
        return 200, _json({"versions": [v.to_dict() for v in versions]})

    async def _set_alias(self, name: str, alias: str, body: Body, key: ApiKey | None) -> Result:
        data = _parse(await body())
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidInputError(
                'the body must be a JSON object with a positive integer version, as in {"version": 3}'
            )
        actor = self.registry.actor if key is None else key.name
        move = await asyncio.to_thread(self.registry.store.set_alias, name, alias, version, actor)
        return 200, _json(move.to_dict())


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None


def _json(data: Any) -> bytes:
    return orjson.dumps(data)
