"""The background data attributions are measured against, summarised from a reference sample.

shap advises 50-100 background rows: enough to stand for the training distribution, few enough
to keep explanations fast. :func:`summarise` keeps the feature columns of the version's stored
reference sample and draws at most ``rows`` of them uniformly with a fixed seed, so the same
version always gets the same background (and the same attributions).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from shipyard.errors import InvalidInputError

__all__ = ["BACKGROUND_ROWS", "summarise"]

BACKGROUND_ROWS = 100


def summarise(
    sample: pd.DataFrame, features: Sequence[str], *, rows: int = BACKGROUND_ROWS, seed: int = 0
) -> pd.DataFrame:
    """At most ``rows`` rows of ``sample``'s ``features`` columns, drawn with ``seed``."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidInputError(f"background rows must be a positive integer, got {rows!r}")
    missing = [name for name in features if name not in sample.columns]
    if missing:
        raise InvalidInputError(
            f"the reference sample lacks feature(s) {', '.join(missing)}; re-register the "
            "version with reference data that has every feature"
        )
    if len(sample) == 0:
        raise InvalidInputError("the reference sample has no rows to summarise")
    table = sample.loc[:, list(features)]
    if len(table) > rows:
        table = table.sample(n=rows, random_state=seed).sort_index()
    return table.reset_index(drop=True)
