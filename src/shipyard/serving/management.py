"""The management API under ``/api/v1``: the registry over HTTP, for operators and the CLI.

- ``GET /api/v1/models``: every model (those a restricted key reaches)
- ``GET /api/v1/models/{name}``: one model, with its aliases and tags
- ``GET /api/v1/models/{name}/versions``: its versions, oldest first
- ``PUT /api/v1/models/{name}/aliases/{alias}`` with ``{"version": N}``: move (or set) an alias;
  audited with the API key's name as the actor. Servers following the alias pick the move up on
  their next poll, like any other move.
- ``GET /api/v1/endpoints``, ``POST /api/v1/endpoints`` with ``{"name", "model", "ref"?}``
  (201), ``GET /api/v1/endpoints/{name}`` (its variants, policy and active rollout)
- ``POST /api/v1/endpoints/{name}/rollout`` with ``{"version", "mode"?: canary|ab|shadow,
  "share"?: percent, "key"?: "header:NAME"|"field:NAME", "plan"?: {...}}`` (201), ``GET`` the
  same path for the newest rollout's status, and ``POST .../rollout/{promote|rollback|pause|
  resume}``
- ``POST /api/v1/feedback``: actual outcomes for logged predictions (``predict`` scope; 404
  while the prediction log is off)

Reads need the ``read`` scope and the move needs ``write`` (the server checks both before a
handler runs). Bodies are JSON (orjson); errors are ``{"error": "..."}`` with the statuses of the
rest of the server. Registry calls are blocking SQL, so they run in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.errors import AccessDeniedError, InvalidInputError
from shipyard.registry.endpoints import Endpoint, EndpointStore
from shipyard.registry.refs import parse_ref
from shipyard.rollouts.store import MODES, RolloutStore

if TYPE_CHECKING:
    from shipyard.predlog import PredictionStore
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import ApiKey

__all__ = ["FEEDBACK", "PREFIX", "ApiError", "Management"]

PREFIX = "/api/v1/"
FEEDBACK = "/api/v1/feedback"
_ACTIONS = ("promote", "rollback", "pause", "resume")

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

    def __init__(self, registry: Registry, prediction_store: PredictionStore | None = None) -> None:
        self.registry = registry
        self.prediction_store = prediction_store  # None: the prediction log is off
        self.endpoints = EndpointStore(registry.db)
        self.rollouts = RolloutStore(registry.db)

    @staticmethod
    def model_in(path: str) -> str | None:
        """The model (or endpoint) a management path names, if any (for a key's model
        restriction: a key restricted to ``churn`` reaches the endpoint ``churn``)."""
        parts = path.split("/")  # "", "api", "v1", "models"|"endpoints", NAME, ...
        if len(parts) >= 5 and parts[3] in ("models", "endpoints") and parts[4]:
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
            case ("endpoints",):
                if method == "POST":
                    allow, run = "GET, POST", lambda: self._create_endpoint(body, key)
                else:
                    allow, run = "GET, POST", lambda: self._endpoints(key)
            case ("endpoints", name):
                allow, run = "GET", lambda: self._endpoint(name)
            case ("endpoints", name, "rollout"):
                if method == "POST":
                    allow, run = "GET, POST", lambda: self._start(name, body, key)
                else:
                    allow, run = "GET, POST", lambda: self._status(name)
            case ("endpoints", name, "rollout", action) if action in _ACTIONS:
                allow, run = "POST", lambda: self._act(name, action, key)
            case ("feedback",):
                allow, run = "POST", lambda: self._feedback(body)
            case _:
                raise ApiError(
                    404,
                    f"no route {path}; the management API has /api/v1/models, "
                    "/api/v1/models/{name}, /api/v1/models/{name}/versions, "
                    "PUT /api/v1/models/{name}/aliases/{alias}, /api/v1/endpoints, "
                    "/api/v1/endpoints/{name}, /api/v1/endpoints/{name}/rollout, "
                    "POST /api/v1/endpoints/{name}/rollout/{promote|rollback|pause|resume} "
                    "and POST /api/v1/feedback",
                )
        if method not in allow.split(", "):
            raise ApiError(405, f"{method} is not allowed on {path}; use {allow}", allow)
        return await run()

    # -- endpoints and rollouts ---------------------------------------------------------------

    async def _endpoints(self, key: ApiKey | None) -> Result:
        endpoints = await asyncio.to_thread(self.endpoints.list)
        if key is not None:
            endpoints = [e for e in endpoints if key.reaches((e.name, e.model))]
        return 200, _json({"endpoints": [e.to_dict() for e in endpoints]})

    async def _create_endpoint(self, body: Body, key: ApiKey | None) -> Result:
        data = _object(await body(), '{"name": "churn", "model": "churn"}')
        name, model, ref = data.get("name"), data.get("model"), data.get("ref")
        if not isinstance(name, str) or not isinstance(model, str):
            raise InvalidInputError(
                'the body needs "name" and "model" (strings), as in '
                '{"name": "churn", "model": "churn", "ref": "churn@champion"}'
            )
        if ref is not None and not isinstance(ref, str):
            raise InvalidInputError('"ref" must be a reference such as "churn@champion"')
        if key is not None and not key.reaches((name, model)):
            raise AccessDeniedError(f"this API key may not act on model {model!r}")
        actor = self._actor(key)

        def create() -> Endpoint:
            # A given reference must name a version that exists now (404 naming it otherwise);
            # the default, MODEL@champion, may be set later.
            if ref is not None and parse_ref(ref).model == model:
                self.registry.get_version(ref)
            return self.endpoints.create(name, model, ref, actor)

        endpoint = await asyncio.to_thread(create)
        return 201, _json(endpoint.to_dict())

    async def _endpoint(self, name: str) -> Result:
        def show() -> dict[str, Any]:
            endpoint = self.endpoints.get(name)
            active = self.rollouts.active(name)
            return {**endpoint.to_dict(), "rollout": None if active is None else active.to_dict()}

        return 200, _json(await asyncio.to_thread(show))

    async def _start(self, name: str, body: Body, key: ApiKey | None) -> Result:
        from shipyard.rollouts.controller import start_rollout
        from shipyard.rollouts.plan import RolloutPlan

        data = _object(await body(), '{"version": 4, "mode": "canary", "share": 10}')
        version, mode = data.get("version"), data.get("mode", "canary")
        share, routing_key, plan = data.get("share"), data.get("key"), data.get("plan")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidInputError('"version" must be a positive integer, as in {"version": 4}')
        if mode not in MODES:
            raise InvalidInputError(f'"mode" must be one of {", ".join(MODES)}, got {mode!r}')
        if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)):
            raise InvalidInputError('"share" must be a percentage, as in {"share": 10}')
        if routing_key is not None and not isinstance(routing_key, str):
            raise InvalidInputError('"key" must be "header:NAME" or "field:NAME"')
        parsed = None if plan is None else RolloutPlan.from_dict(plan)
        actor = self._actor(key)
        rollout = await asyncio.to_thread(
            start_rollout,
            self.registry,
            name,
            version,
            mode=mode,
            share=None if share is None else float(share),
            key=routing_key,
            plan=parsed,
            actor=actor,
        )
        return 201, _json(rollout.to_dict())

    async def _status(self, name: str) -> Result:
        rollout = await asyncio.to_thread(self.rollouts.latest, name)
        return 200, _json(rollout.to_dict())

    async def _act(self, name: str, action: str, key: ApiKey | None) -> Result:
        from shipyard.rollouts.controller import act

        actor = self._actor(key)
        rollout = await asyncio.to_thread(act, self.registry, name, action, actor=actor)
        return 200, _json(rollout.to_dict())

    async def _feedback(self, body: Body) -> Result:
        store = self.prediction_store
        if store is None:
            raise ApiError(
                404,
                "the prediction log is off on this server, so there is nothing to attach "
                "feedback to; set predlog_mode to buffered or durable",
            )
        # Imported by name: the feedback module is another part's, and optional here.
        try:
            module = importlib.import_module("shipyard.serving.feedback_api")
        except ModuleNotFoundError:
            raise ApiError(404, "this server cannot take feedback (no feedback support)") from None
        post: Callable[[PredictionStore, bytes], Awaitable[Result]] = module.post_feedback
        return await post(store, await body())

    def _actor(self, key: ApiKey | None) -> str:
        return self.registry.actor if key is None else key.name

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
        # Through the Registry, so a rejected version cannot become champion over HTTP either.
        move = await asyncio.to_thread(
            functools.partial(self.registry.set_alias, name, alias, version, actor=actor)
        )
        return 200, _json(move.to_dict())


def _object(body: bytes, example: str) -> dict[str, Any]:
    data = _parse(body)
    if not isinstance(data, dict):
        raise InvalidInputError(f"the body must be a JSON object, as in {example}")
    return data


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None


def _json(data: Any) -> bytes:
    return orjson.dumps(data)
