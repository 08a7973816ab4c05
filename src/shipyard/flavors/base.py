"""The one small protocol every model format implements.

A flavor turns an in-memory model into bytes and back, predicts with it, and describes it. An
artifact is a single file: its bytes are what the registry content-addresses (sha256), so a
flavor never sees a path it has to trust; it gets bytes that were already checked against their
digest.

Flavors never import their heavy library at module import: they import it inside methods, through
:func:`shipyard.errors.require`, so ``import shipyard`` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from shipyard.settings import Settings

__all__ = ["Flavor", "LoadContext"]


@dataclass(frozen=True)
class LoadContext:
    """What a flavor may consult when loading: the operator's settings, nothing from the artifact."""

    settings: Settings
    on_unsafe_load: Any = None
    """Callback ``(flavor_name: str) -> None`` that a flavor calls right before an unsafe
    (pickle) load, so the registry can write the audit entry."""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Flavor(Protocol):
    """A model format. Implementations are registered in :mod:`shipyard.flavors`."""

    name: str
    """Short identifier stored with each version: ``sklearn``, ``onnx``, ``xgboost``, ..."""
    file_suffix: str
    """Suffix of the artifact file, for humans and exports (``.skops``, ``.onnx``, ...)."""
    safe: bool
    """False when loading can run arbitrary code (pickle); such flavors need the opt-in."""

    def can_save(self, model: Any) -> bool:
        """True when ``model`` (an in-memory object) is of this flavor. Must not import heavy
        libraries that are not already imported (check ``sys.modules``)."""

    def can_load_file(self, filename: str, head: bytes) -> bool:
        """True when a file with this name whose first bytes are ``head`` is of this flavor."""

    def save(self, model: Any) -> bytes:
        """Serialize ``model`` to the artifact's bytes."""

    def load(self, data: bytes, context: LoadContext) -> Any:
        """Rebuild the native model from bytes already verified against their digest. Raises
        ``IntegrityError`` when the bytes are structurally unsafe, ``UnsafeFormatError`` when the
        format needs an opt-in that is not given."""

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for a frame whose columns are the signature's features, in order."""

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities (n_rows, n_classes), or None when the model has none."""

    def describe(self, model: Any) -> dict[str, Any]:
        """JSON-ready facts: library and version, estimator class, task, classes, n_features,
        feature names where the model knows them, and size facts (trees, nodes)."""
