"""Model formats, registered in one place.

Flavors are tried in the order of :data:`_FLAVORS`: the safe native formats first, pickle last.
Pickle is only a fallback, and only when the operator allowed it with ``allow_pickle``. Importing
this package imports no machine-learning library; each flavor imports its own when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.errors import NotFoundError, UnsafeFormatError, UnsupportedModelError
from shipyard.flavors.base import Flavor, LoadContext
from shipyard.flavors.composite import CompositeFlavor
from shipyard.flavors.lightgbm import LightGBMFlavor
from shipyard.flavors.onnx import OnnxFlavor
from shipyard.flavors.pickle import PickleFlavor, refusal_message
from shipyard.flavors.sklearn import SklearnFlavor
from shipyard.flavors.xgboost import XGBoostFlavor

if TYPE_CHECKING:
    from shipyard.settings import Settings

__all__ = [
    "Flavor",
    "LoadContext",
    "all_flavors",
    "flavor_for_file",
    "flavor_for_model",
    "get_flavor",
]

_FLAVORS: tuple[Flavor, ...] = (
    # Before sklearn: it claims the scikit-learn pipelines that end in a LightGBM/XGBoost model.
    CompositeFlavor(),
    SklearnFlavor(),
    OnnxFlavor(),
    XGBoostFlavor(),
    LightGBMFlavor(),
    PickleFlavor(),
)


def all_flavors() -> list[Flavor]:
    """Every registered flavor, in the order they are tried."""
    return list(_FLAVORS)


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name`` (as stored with a model version)."""
    for flavor in _FLAVORS:
        if flavor.name == name:
            return flavor
    known = ", ".join(f.name for f in _FLAVORS)
    raise NotFoundError(f"unknown flavor {name!r}; known flavors are {known}")


def flavor_for_model(model: Any, settings: Settings) -> Flavor:
    """The flavor that saves ``model``; pickle only if no safe flavor fits and it is allowed."""
    for flavor in _FLAVORS:
        if flavor.can_save(model):
            _check_allowed(flavor, settings, f"A {type(model).__qualname__} object")
            return flavor
    raise UnsupportedModelError(
        f"no flavor can save {model!r:.80}: pass a fitted model object (scikit-learn, ONNX, "
        "XGBoost, LightGBM, or any object with a predict method)"
    )


def flavor_for_file(filename: str, head: bytes, settings: Settings) -> Flavor:
    """The flavor of an uploaded file, from its name and its first bytes."""
    for flavor in _FLAVORS:
        if flavor.can_load_file(filename, head):
            _check_allowed(flavor, settings, f"The file {filename!r}")
            return flavor
    suffixes = ", ".join(s for f in _FLAVORS for s in _suffixes(f))
    raise UnsupportedModelError(
        f"{filename!r} is not a model file shipyard recognises; accepted files end in "
        f"{suffixes} and must hold that format"
    )


def _check_allowed(flavor: Flavor, settings: Settings, subject: str) -> None:
    if not flavor.safe and not settings.allow_pickle:
        raise UnsafeFormatError(refusal_message(subject))


def _suffixes(flavor: Flavor) -> tuple[str, ...]:
    suffixes: tuple[str, ...] = getattr(flavor, "accepted_suffixes", (flavor.file_suffix,))
    return suffixes
