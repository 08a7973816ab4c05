"""What a build or an export serves: an endpoint's name, the reference it follows, and the
versions and flavors behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.registry.endpoints import EndpointStore
from shipyard.registry.refs import check_name, parse_ref

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion

__all__ = ["Served", "resolve_endpoint", "resolve_target"]


@dataclass(frozen=True)
class Served:
    endpoint: str
    """The endpoint's name (``shipyard serve REF`` serves REF through the endpoint named after
    its model)."""
    ref: str
    """The reference the server follows: ``churn@champion``, ``churn/3`` or ``churn``."""
    versions: tuple[ModelVersion, ...]
    """The versions the reference can resolve to now: the one it points at."""

    @property
    def flavors(self) -> tuple[str, ...]:
        """Flavors to load, counting an ``onnx`` attachment (served by onnxruntime)."""
        names = {v.flavor for v in self.versions}
        names |= {"onnx" for v in self.versions if "onnx" in v.attachments}
        return tuple(sorted(names))


def resolve_endpoint(registry: Registry, name: str) -> Served:
    """An existing endpoint; ``NotFoundError`` names the endpoints there are."""
    try:
        check_name(name, "endpoint name")
    except InvalidInputError as exc:
        raise InvalidInputError(f"invalid ENDPOINT {name!r}: {exc}") from None
    endpoint = EndpointStore(registry.db).get(name)
    ref = endpoint.main.ref
    return Served(endpoint.name, ref, (registry.get_version(ref),))


def resolve_target(registry: Registry, text: str) -> Served:
    """An endpoint name, else a model reference (``churn@champion``, ``churn/3``, ``churn``)."""
    if "/" not in text and "@" not in text:
        try:
            return resolve_endpoint(registry, text)
        except (NotFoundError, InvalidInputError):
            pass  # not an endpoint: a bare model name, served at its latest version
    ref = parse_ref(text)
    try:
        version = registry.get_version(ref)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}; name an endpoint or a model reference to build") from None
    return Served(ref.model, str(ref), (version,))
