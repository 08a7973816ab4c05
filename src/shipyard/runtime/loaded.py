"""A loaded version: the native model, its flavor and its signature, behind one ``predict``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from shipyard.explain.explanation import Explanation
    from shipyard.flavors.base import Flavor
    from shipyard.registry.entities import ModelVersion
    from shipyard.registry.signature import Signature

__all__ = ["LoadedModel"]


@dataclass
class LoadedModel:
    """``predict`` and ``predict_proba`` accept a pandas DataFrame, a dict of columns, one record
    (a dict of scalars), a list of records or a 2-D array in signature order, and validate it
    against the version's signature; errors name the feature."""

    version: ModelVersion
    native: Any
    flavor: Flavor
    signature: Signature | None = field(init=False)
    reference: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        from shipyard.registry.signature import Signature

        raw = self.version.signature
        self.signature = Signature.from_dict(raw) if raw else None

    @property
    def ref(self) -> str:
        return self.version.ref

    def frame(self, data: Any) -> pd.DataFrame:
        """The validated, ordered input frame the model will see."""
        import pandas as pd

        if self.signature is not None:
            from shipyard.registry.coerce import to_frame

            return to_frame(self.signature, data)
        if isinstance(data, pd.DataFrame):
            return data
        try:
            return pd.DataFrame(data)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"{self.ref} has no signature and its input could not be read as a table: {exc}"
            ) from exc

    def predict(self, data: Any) -> np.ndarray:
        return self.flavor.predict(self.native, self.frame(data))

    def predict_proba(self, data: Any) -> np.ndarray:
        result = self.flavor.predict_proba(self.native, self.frame(data))
        if result is None:
            raise InvalidInputError(
                f"{self.ref} ({self.version.flavor}) gives no class probabilities; use predict"
            )
        return result

    def explain(self, data: Any, **options: Any) -> Explanation:
        """Feature attributions for ``data``: see :func:`shipyard.explain.explain`."""
        from shipyard.explain.api import explain

        return explain(self, data, **options)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.ref} flavor={self.version.flavor}>"
