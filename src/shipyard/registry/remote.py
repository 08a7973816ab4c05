"""The registry through a running server's management API (``/api/v1``), for ``--server URL``.

:class:`RemoteRegistry` answers the calls the read commands and ``alias set`` make on a
:class:`~shipyard.registry.client.Registry` — list and show models and versions, move an alias —
over HTTP with an API key, so an operator can work against a remote deployment without a database
URL. Errors come back as the same :class:`~shipyard.errors.ShipyardError` classes the local
registry raises (so the CLI's exit codes do not change); anything else a command needs from the
registry directly says it is not available over ``--server``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

from shipyard.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ShipyardError,
    StoreError,
)
from shipyard.registry.entities import AliasMove, Model, ModelVersion

__all__ = ["RemoteRegistry"]

_ERRORS: dict[int, type[ShipyardError]] = {
    400: InvalidInputError,
    401: AccessDeniedError,
    403: AccessDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidInputError,
}


class RemoteRegistry:
    """A registry served at ``url`` (``http://host:port``), read and moved with ``api_key``."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 30.0) -> None:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(
                f"invalid --server {url!r}: give the server's base URL, as in "
                "--server http://127.0.0.1:8080"
            )
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    # -- the Registry calls the CLI makes ------------------------------------------------------

    def list_models(self) -> list[Model]:
        return [Model.from_dict(m) for m in self._call("GET", "models")["models"]]

    def get_model(self, name: str) -> Model:
        return Model.from_dict(self._call("GET", f"models/{quote(name)}"))

    def list_versions(self, name: str) -> list[ModelVersion]:
        data = self._call("GET", f"models/{quote(name)}/versions")
        return [ModelVersion.from_dict(v) for v in data["versions"]]

    def set_alias(
        self, name: str, alias: str, version: int | str, *, force: bool = False
    ) -> AliasMove:
        """Point ``alias`` at ``version``: a number, or another alias of the model to copy."""
        if force:
            raise InvalidInputError(
                "--force is not available with --server (it is an operator's decision, "
                "audited on the registry itself); run it where the registry is configured"
            )
        if isinstance(version, int) or version.isdigit():
            number = int(version)
        else:  # another alias to copy: needs the read scope too
            number = _aliased(self.get_model(name), version)
        path = f"models/{quote(name)}/aliases/{quote(alias)}"
        return AliasMove.from_dict(self._call("PUT", path, {"version": number}))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise InvalidInputError(
            f"this command is not available with --server (it needs the registry's database: "
            f"{name}); run it where SHIPYARD_DATABASE_URL is configured"
        )

    # -- HTTP ----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        try:
            reply = self._http.request(method, f"/api/v1/{path}", json=body)
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the server {self.url}: {exc}") from exc
        try:
            data = reply.json()
        except ValueError:
            data = None
        if reply.status_code == 200 and data is not None:
            return data
        message = data.get("error") if isinstance(data, dict) else None
        message = message or f"{reply.status_code} {reply.reason_phrase}"
        error = _ERRORS.get(reply.status_code, StoreError)
        raise error(f"the server {self.url} answered {reply.status_code}: {message}")


def _aliased(model: Model, version: str) -> int:
    if version in model.aliases:
        return model.aliases[version]
    raise NotFoundError(
        f"model {model.name!r} has no alias {version!r} to copy; give a version number or one "
        f"of its aliases ({', '.join(sorted(model.aliases)) or 'none yet'})"
    )
