"""Global importance: the mean ``|attribution|`` per feature over the reference sample.

Computed from up to 1,000 rows of a version's stored reference sample and kept as the
version's ``importance`` attachment, so it is computed once. Exact TreeSHAP costs tens of
milliseconds per row for the quickstart forest, far over the two seconds registration may
spend, so :func:`global_importance` runs on first request (a model card, the monitor) and
caches its answer; :func:`stored_importance` only reads.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.registry.client import Registry
    from shipyard.runtime.loaded import LoadedModel

__all__ = [
    "IMPORTANCE",
    "IMPORTANCE_ROWS",
    "compute_importance",
    "global_importance",
    "live_importance",
    "stored_importance",
]

IMPORTANCE = "importance"
IMPORTANCE_ROWS = 1_000


def compute_importance(
    loaded: LoadedModel, sample: pd.DataFrame, *, rows: int = IMPORTANCE_ROWS, seed: int = 0
) -> dict[str, Any]:
    """Mean ``|attribution|`` of ``loaded`` over at most ``rows`` rows of ``sample``, as the
    JSON the attachment holds: features most important first."""
    from shipyard.explain.api import explainer_for

    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidInputError(f"importance rows must be a positive integer, got {rows!r}")
    explainer = explainer_for(loaded)
    table = sample.loc[:, list(explainer.features)]
    if len(table) > rows:
        table = table.sample(n=rows, random_state=seed).sort_index()
    started = time.perf_counter()
    explanation = explainer.explain(table.reset_index(drop=True))
    means = explanation.mean_abs()
    return {
        "features": dict(sorted(means.items(), key=lambda item: (-item[1], item[0]))),
        "rows": len(table),
        "method": explanation.method,
        "output_space": explanation.output_space,
        "seconds": round(time.perf_counter() - started, 3),
    }


def stored_importance(registry: Registry, ref: str) -> dict[str, Any] | None:
    """The version's ``importance`` attachment (the newest), or None."""
    found = [a for a in registry.attachments(ref) if a.kind == IMPORTANCE]
    return dict(found[-1].data) if found else None


def global_importance(
    registry: Registry, ref: str, *, rows: int = IMPORTANCE_ROWS
) -> dict[str, Any]:
    """The version's global importance: the stored attachment, or computed now and attached."""
    stored = stored_importance(registry, ref)
    if stored is not None:
        return stored
    version = registry.get_version(ref)
    loaded = registry.load(version.ref)
    data = compute_importance(loaded, registry.reference_sample(version.ref), rows=rows)
    registry.store.attach(version.model, version.version, IMPORTANCE, None, data, registry.actor)
    return data


def live_importance(
    loaded: LoadedModel, rows: Any, *, max_rows: int = IMPORTANCE_ROWS, seed: int = 0
) -> dict[str, float]:
    """Mean ``|attribution|`` per feature over (at most ``max_rows`` of) live ``rows``: the
    figure the monitor ranks against the stored training importance with
    :func:`shipyard.explain.drift.attribution_drift`."""
    from shipyard.explain.api import explainer_for

    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise InvalidInputError(f"max_rows must be a positive integer, got {max_rows!r}")
    frame = loaded.frame(rows)
    if len(frame) == 0:
        raise InvalidInputError("no live rows to explain")
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed).sort_index()
    return explainer_for(loaded).explain(frame.reset_index(drop=True)).mean_abs()
