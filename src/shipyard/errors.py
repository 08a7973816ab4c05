"""The one error tree of shipyard.

Every error a user can trigger is a ``ShipyardError`` whose message says what was wrong and what
to do about it. Only the edges (the CLI, the server) turn these into exit codes or HTTP statuses,
each with one table keyed by class.

::

    ShipyardError
    ├── ConfigError (ValueError)            a setting is malformed
    ├── InvalidInputError (ValueError)      an argument, file or request is malformed
    │   ├── InvalidNameError                a model, alias or tag name breaks the naming rule
    │   ├── InvalidReferenceError           "churn/3", "churn@champion", "churn" could not be parsed
    │   └── SignatureError                  data does not match a version's signature
    ├── NotFoundError (LookupError)         a model, version, alias or artifact does not exist
    ├── ConflictError                       the operation clashes with the current state
    ├── UnsafeFormatError                   a pickle-based artifact without the operator's opt-in
    ├── UnsupportedModelError (TypeError)   no flavor can save or load this object or file
    ├── IntegrityError                      artifact bytes or the audit chain do not check out
    ├── MissingDependencyError (ImportError) an optional extra is not installed
    ├── StoreError                          the metadata store failed (connection, migration)
    └── AccessDeniedError                   a server refused: no API key, or too narrow a scope
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidReferenceError",
    "MissingDependencyError",
    "NotFoundError",
    "ShipyardError",
    "SignatureError",
    "StoreError",
    "UnsafeFormatError",
    "UnsupportedModelError",
]


class ShipyardError(Exception):
    """Root of every error shipyard raises on purpose."""


class ConfigError(ShipyardError, ValueError):
    """A configuration value (file or ``SHIPYARD_*`` variable) is malformed."""


class InvalidInputError(ShipyardError, ValueError):
    """An argument, file or request given by the user is malformed."""


class InvalidNameError(InvalidInputError):
    """A model, alias or tag name does not follow the naming rule."""


class InvalidReferenceError(InvalidInputError):
    """A model reference could not be parsed."""


class SignatureError(InvalidInputError):
    """Input data does not match a version's signature; the message names the feature."""

    def __init__(self, message: str, *, feature: str | None = None) -> None:
        super().__init__(message)
        self.feature = feature


class NotFoundError(ShipyardError, LookupError):
    """A model, version, alias or artifact does not exist."""


class ConflictError(ShipyardError):
    """The operation clashes with the current state (for example, a duplicate name)."""


class UnsafeFormatError(ShipyardError):
    """An artifact format that can run code on load, without the operator's explicit opt-in."""


class UnsupportedModelError(ShipyardError, TypeError):
    """No flavor knows how to save or load this object or file."""


class IntegrityError(ShipyardError):
    """Stored bytes do not match their recorded digest, or a record chain was tampered with."""


class MissingDependencyError(ShipyardError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` to run."""


class StoreError(ShipyardError):
    """The metadata store could not be reached or migrated."""


class AccessDeniedError(ShipyardError):
    """A server refused the request: no API key, or one without the scope it needs."""


def require(module: str, extra: str) -> object:
    """Import an optional dependency, or raise an error naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed; install it with: pip install 'shipyard[{extra}]'"
        ) from exc
