"""Module-level functions over a default :class:`Registry` configured from the environment.

The default registry is built on first use from :meth:`Settings.load` and rebuilt when the
settings change (a test or notebook that changes ``SHIPYARD_HOME`` gets a fresh one).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.settings import Settings

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import AliasMove, Model, ModelVersion
    from shipyard.runtime.loaded import LoadedModel

__all__ = [
    "get_model",
    "get_registry",
    "get_version",
    "list_models",
    "list_versions",
    "load",
    "register",
    "search_versions",
    "set_alias",
    "set_tag",
]

_lock = threading.Lock()
_current: tuple[Settings, Registry] | None = None


def get_registry(settings: Settings | None = None) -> Registry:
    """The registry for ``settings`` (default: the environment's), reused while they hold."""
    global _current
    from shipyard.registry.client import Registry

    wanted = settings if settings is not None else Settings.load()
    with _lock:
        if _current is None or _current[0] != wanted:
            if _current is not None:
                _current[1].close()
            _current = (wanted, Registry(wanted))
        return _current[1]


def register(model: Any, name: str, **kwargs: Any) -> ModelVersion:
    """Register ``model`` as the next version of ``name``; see :meth:`Registry.register`."""
    return get_registry().register(model, name, **kwargs)


def load(ref: str) -> LoadedModel:
    """Load ``"churn/3"``, ``"churn@champion"`` or ``"churn"``, verified by digest."""
    return get_registry().load(ref)


def set_alias(name: str, alias: str, version: int | str) -> AliasMove:
    return get_registry().set_alias(name, alias, version)


def set_tag(ref: str, key: str, value: str) -> None:
    get_registry().set_tag(ref, key, value)


def get_model(name: str) -> Model:
    return get_registry().get_model(name)


def get_version(ref: str) -> ModelVersion:
    return get_registry().get_version(ref)


def list_models() -> list[Model]:
    return get_registry().list_models()


def list_versions(name: str | None = None) -> list[ModelVersion]:
    return get_registry().list_versions(name)


def search_versions(
    model: str | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    metrics: Sequence[str] = (),
    status: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
) -> list[ModelVersion]:
    return get_registry().search_versions(
        model, tags=tags, metrics=metrics, status=status, order_by=order_by, limit=limit
    )
