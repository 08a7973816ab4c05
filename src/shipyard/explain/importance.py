"""Global importance: the mean ``|attribution|`` per feature over the reference sample.

Computed from up to 1,000 rows of a version's stored reference sample and kept as the
version's ``importance`` attachment, so it is computed once. Exact TreeSHAP costs milliseconds
to tens of milliseconds per row for a forest, more than registration should spend, so by
default (setting ``importance = "background"``) the server that serves a version computes it
just after loading it (:mod:`shipyard.explain.backfill`); ``"sync"`` computes it during
``Registry.register``. Anything that needs it first (a model card, the monitor) computes it
through :func:`global_importance`, which attaches its answer; :func:`stored_importance` only
reads.

Rows are explained a few at a time (:data:`ROW_CHUNK`): shap's tree code holds the GIL for a
whole call, so short calls let a server's request threads run between them, a caller can stop
between chunks, and the monitor can stop at a time budget (:func:`live_sample_importance`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.explain.explainer import Explainer
    from shipyard.registry.client import Registry
    from shipyard.runtime.loaded import LoadedModel

__all__ = [
    "IMPORTANCE",
    "IMPORTANCE_MODES",
    "IMPORTANCE_ROWS",
    "ROW_CHUNK",
    "ImportanceStopped",
    "LiveImportance",
    "compute_importance",
    "global_importance",
    "live_importance",
    "live_sample_importance",
    "stored_importance",
]

IMPORTANCE = "importance"
IMPORTANCE_ROWS = 1_000
IMPORTANCE_MODES = ("background", "sync", "off")
ROW_CHUNK = 4  # rows per explain call: shap holds the GIL ~5-40 ms a row for the forests measured


class ImportanceStopped(Exception):
    """Raised between chunks when the caller's ``stop()`` turned true (a server shutting down)."""


@dataclass(frozen=True)
class LiveImportance:
    """Mean ``|attribution|`` over ``rows`` live rows (of ``available``), with how it was
    computed; ``truncated`` when the time budget stopped it before ``max_rows``."""

    features: dict[str, float]
    rows: int
    available: int
    method: str
    output_space: str
    seconds: float
    truncated: bool


def compute_importance(
    loaded: LoadedModel,
    sample: pd.DataFrame,
    *,
    rows: int = IMPORTANCE_ROWS,
    seed: int = 0,
    stop: Callable[[], bool] | None = None,
    chunk: int = ROW_CHUNK,
    pause: float = 0.0,
) -> dict[str, Any]:
    """Mean ``|attribution|`` of ``loaded`` over at most ``rows`` rows of ``sample``, as the
    JSON the attachment holds: features most important first. ``stop`` is asked between
    chunks of ``chunk`` rows; when it answers True, :class:`ImportanceStopped` is raised.
    ``pause`` > 0 sleeps that many times each chunk's duration after it (1.0: at most half a
    core, and the GIL free half the time, for a server's request threads)."""
    from shipyard.explain.api import explainer_for

    _positive(rows, "importance rows")
    _positive(chunk, "chunk")
    explainer = explainer_for(loaded)
    table = sample.loc[:, list(explainer.features)]
    if len(table) > rows:
        table = table.sample(n=rows, random_state=seed).sort_index()
    started = time.perf_counter()
    means, used, method, space = _mean_abs(
        explainer, table.reset_index(drop=True), chunk=chunk, stop=stop, pause=pause
    )
    return {
        "features": dict(sorted(means.items(), key=lambda item: (-item[1], item[0]))),
        "rows": used,
        "method": method,
        "output_space": space,
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
    return live_sample_importance(loaded, rows, max_rows=max_rows, seed=seed).features


def live_sample_importance(
    loaded: LoadedModel,
    rows: Any,
    *,
    max_rows: int = IMPORTANCE_ROWS,
    seconds: float | None = None,
    seed: int = 0,
) -> LiveImportance:
    """:func:`live_importance` with its bookkeeping, and a time budget: with ``seconds``, rows
    (drawn at random, in random order) are explained a chunk at a time until ``max_rows`` or
    the budget is reached, whichever comes first (at least one chunk is explained)."""
    from shipyard.explain.api import explainer_for

    _positive(max_rows, "max_rows")
    if seconds is not None and not (isinstance(seconds, int | float) and seconds > 0):
        raise InvalidInputError(f"seconds must be a positive number, got {seconds!r}")
    frame = loaded.frame(rows)
    if len(frame) == 0:
        raise InvalidInputError("no live rows to explain")
    available = len(frame)
    # A random order, so that rows cut off by the budget leave a random subsample.
    frame = frame.sample(n=min(max_rows, available), random_state=seed)
    started = time.perf_counter()
    deadline = None if seconds is None else started + float(seconds)
    means, used, method, space = _mean_abs(
        explainer_for(loaded), frame.reset_index(drop=True), deadline=deadline
    )
    return LiveImportance(
        features=means,
        rows=used,
        available=available,
        method=method,
        output_space=space,
        seconds=round(time.perf_counter() - started, 3),
        truncated=used < len(frame),
    )


def _mean_abs(
    explainer: Explainer,
    table: pd.DataFrame,
    *,
    chunk: int = ROW_CHUNK,
    deadline: float | None = None,
    stop: Callable[[], bool] | None = None,
    pause: float = 0.0,
) -> tuple[dict[str, float], int, str, str]:
    """Mean ``|attribution|`` per feature over ``table``'s rows, explained ``chunk`` rows at a
    time; stops early at ``deadline`` (``perf_counter``), or raises when ``stop()``."""
    if len(table) == 0:
        raise InvalidInputError("no rows to explain")
    total = np.zeros(len(explainer.features))
    used = 0
    method = space = ""
    for begin in range(0, len(table), chunk):
        if begin and stop is not None and stop():
            raise ImportanceStopped
        if begin and deadline is not None and time.perf_counter() >= deadline:
            break
        took = time.perf_counter()
        part = explainer.explain(table.iloc[begin : begin + chunk].reset_index(drop=True))
        total += np.abs(part.values).sum(axis=0)
        used += len(part)
        method, space = part.method, part.output_space
        # let other threads take the GIL between chunks (for a while, with a pause)
        time.sleep(pause * (time.perf_counter() - took) if pause > 0 else 0)
    means = total / used
    return (
        {
            name: float(v) if math.isfinite(v) else 0.0
            for name, v in zip(explainer.features, means, strict=True)
        },
        used,
        method,
        space,
    )


def _positive(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}")
