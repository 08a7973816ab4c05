"""shipyard: take a trained model to a fast, secure, monitored production endpoint.

The public API. Names are imported on first use so that ``import shipyard`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "register": "shipyard.api",
    "load": "shipyard.api",
    "set_alias": "shipyard.api",
    "set_tag": "shipyard.api",
    "get_model": "shipyard.api",
    "get_version": "shipyard.api",
    "list_models": "shipyard.api",
    "list_versions": "shipyard.api",
    "search_versions": "shipyard.api",
    "get_registry": "shipyard.api",
    "Registry": "shipyard.registry.client",
    "Settings": "shipyard.settings",
    "LoadedModel": "shipyard.runtime.loaded",
    "Model": "shipyard.registry.entities",
    "ModelVersion": "shipyard.registry.entities",
    "AliasMove": "shipyard.registry.entities",
    "VersionStatus": "shipyard.registry.entities",
    "Signature": "shipyard.registry.signature",
    "ShipyardError": "shipyard.errors",
    "ConfigError": "shipyard.errors",
    "ConflictError": "shipyard.errors",
    "IntegrityError": "shipyard.errors",
    "InvalidInputError": "shipyard.errors",
    "InvalidNameError": "shipyard.errors",
    "InvalidReferenceError": "shipyard.errors",
    "MissingDependencyError": "shipyard.errors",
    "NotFoundError": "shipyard.errors",
    "SignatureError": "shipyard.errors",
    "StoreError": "shipyard.errors",
    "UnsafeFormatError": "shipyard.errors",
    "UnsupportedModelError": "shipyard.errors",
    "datasets": "shipyard.datasets",
}

__all__ = [
    "AliasMove",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidReferenceError",
    "LoadedModel",
    "MissingDependencyError",
    "Model",
    "ModelVersion",
    "NotFoundError",
    "Registry",
    "Settings",
    "ShipyardError",
    "Signature",
    "SignatureError",
    "StoreError",
    "UnsafeFormatError",
    "UnsupportedModelError",
    "VersionStatus",
    "__version__",
    "datasets",
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

if TYPE_CHECKING:
    from shipyard import datasets
    from shipyard.api import (
        get_model,
        get_registry,
        get_version,
        list_models,
        list_versions,
        load,
        register,
        search_versions,
        set_alias,
        set_tag,
    )
    from shipyard.errors import (
        ConfigError,
        ConflictError,
        IntegrityError,
        InvalidInputError,
        InvalidNameError,
        InvalidReferenceError,
        MissingDependencyError,
        NotFoundError,
        ShipyardError,
        SignatureError,
        StoreError,
        UnsafeFormatError,
        UnsupportedModelError,
    )
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import AliasMove, Model, ModelVersion, VersionStatus
    from shipyard.registry.signature import Signature
    from shipyard.runtime.loaded import LoadedModel
    from shipyard.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if name == "datasets" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
