"""The :class:`Explanation` of some predictions: one attribution per row and original feature.

For every row ``base_values[i] + values[i].sum() == outputs[i]`` (to rounding): the attributions
say how each feature moved the model's raw output away from its average over the background
data. ``output_space`` names that output (``probability``, ``log-odds``, ``margin`` or
``value``) and ``classes`` the class each row's output is about (None for a regressor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Explanation"]


@dataclass(frozen=True)
class Explanation:
    """Attributions for ``n`` rows over ``features``: ``values`` is an ``(n, features)`` array,
    ``base_values`` and ``outputs`` are ``(n,)``; ``method`` is ``tree``, ``linear`` or
    ``sampling``."""

    features: tuple[str, ...]
    values: np.ndarray[Any, np.dtype[np.float64]]
    base_values: np.ndarray[Any, np.dtype[np.float64]]
    outputs: np.ndarray[Any, np.dtype[np.float64]]
    method: str
    output_space: str
    classes: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def base_value(self) -> float:
        """The base value of the first row (all rows share it unless classes differ)."""
        return float(self.base_values[0])

    def additivity_error(self) -> float:
        """The largest ``|base + sum(attributions) - output|`` over the rows."""
        if len(self) == 0:
            return 0.0
        total = self.base_values + self.values.sum(axis=1)
        return float(np.max(np.abs(total - self.outputs)))

    def row(self, i: int) -> dict[str, Any]:
        """One row as JSON-ready data, features by decreasing ``|attribution|``."""
        order = np.argsort(-np.abs(self.values[i]), kind="stable")
        entry: dict[str, Any] = {
            "base_value": float(self.base_values[i]),
            "output": float(self.outputs[i]),
            "output_space": self.output_space,
            "method": self.method,
            "attributions": {self.features[j]: float(self.values[i, j]) for j in order},
        }
        if self.classes is not None:
            entry["class"] = _scalar(self.classes[i])
        return entry

    def to_records(self) -> list[dict[str, Any]]:
        return [self.row(i) for i in range(len(self))]

    def mean_abs(self) -> dict[str, float]:
        """Mean ``|attribution|`` per feature: the global importance of these rows."""
        means = np.abs(self.values).mean(axis=0) if len(self) else np.zeros(len(self.features))
        return {name: float(v) for name, v in zip(self.features, means, strict=True)}


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
