"""Attribution drift of one window: do the features the model leans on live match training's?

:func:`window_attribution` explains a bounded sample of the window's logged rows (at most
``attribution_rows``, 200 by default, drawn at random; explained a few rows at a time and cut
off at ``attribution_seconds``, 5 s by default, so a big forest explains fewer rows rather than
stall the pass), takes the mean ``|attribution|`` per feature and ranks it against the
version's training importance (its ``importance`` attachment, computed now if the server has
not done so yet) with the NDCG of :mod:`shipyard.explain.drift`. The figures are
``attribution.ndcg`` (watched by the default rule ``attribution-drift``: below 0.9),
``attribution.rows`` and ``attribution.truncated`` (1 when the time budget cut the sample).

Left out, with a note: versions without reference data, logs that do not hold every feature
as served (dropped or hashed as sensitive), and models shap cannot explain.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError
from shipyard.explain.drift import ATTRIBUTION_DRIFT_THRESHOLD, attribution_drift

if TYPE_CHECKING:
    from shipyard.predlog.window import Window
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion
    from shipyard.runtime.loaded import LoadedModel

__all__ = ["AttributionReport", "window_attribution"]

log = logging.getLogger("shipyard.monitor")

TOP = 10  # features shown per ranking in the report
# (ref, artifact digest, sample digest) -> loaded model
_MODELS: OrderedDict[tuple[str, str, str], LoadedModel] = OrderedDict()
_MODELS_LOCK = threading.Lock()
_MODELS_SIZE = 4


@dataclass(frozen=True)
class AttributionReport:
    """One window's attribution drift: the NDCG, its threshold, both importances (top
    features), and the rows explained (``truncated`` when the time budget cut them)."""

    ndcg: float
    threshold: float
    rows: int
    available: int
    truncated: bool
    seconds: float
    method: str
    output_space: str
    live: dict[str, float]
    training: dict[str, float]
    training_rows: int

    @property
    def alert(self) -> bool:
        return self.ndcg < self.threshold

    def figures(self) -> dict[str, float]:
        return {
            "attribution.ndcg": self.ndcg,
            "attribution.rows": float(self.rows),
            "attribution.truncated": float(self.truncated),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "ndcg": self.ndcg,
            "threshold": self.threshold,
            "alert": self.alert,
            "rows": self.rows,
            "available": self.available,
            "truncated": self.truncated,
            "seconds": self.seconds,
            "method": self.method,
            "output_space": self.output_space,
            "live": _top(self.live),
            "training": _top(self.training),
            "training_rows": self.training_rows,
        }

    def summary(self) -> str:
        live = ", ".join(list(_top(self.live))[:3])
        training = ", ".join(list(_top(self.training))[:3])
        cut = " (time budget reached)" if self.truncated else ""
        return (
            f"attribution drift: NDCG {self.ndcg:.3f} over {self.rows} rows{cut} "
            f"(alert below {self.threshold:g}); top live: {live}; training: {training}"
        )


def window_attribution(
    registry: Registry,
    version: ModelVersion,
    window: Window,
    notes: list[str],
    *,
    rows: int | None = None,
    seconds: float | None = None,
) -> AttributionReport | None:
    """The attribution drift of ``window`` (rows of ``version``), or None with a note saying
    why there is none. ``rows``/``seconds`` default to the ``attribution_rows`` and
    ``attribution_seconds`` settings; 0 rows turns it off."""
    from shipyard.explain.backfill import ensure_importance
    from shipyard.explain.importance import live_sample_importance

    settings = registry.settings
    rows = settings.attribution_rows if rows is None else rows
    seconds = settings.attribution_seconds if seconds is None else seconds
    if rows <= 0 or len(window) == 0:
        return None
    if version.sample_digest is None or not version.signature:
        return None  # load_reference has said so already
    features = [str(f["name"]) for f in version.signature.get("inputs", [])]
    missing = [n for n in features if n not in window.inputs.columns]
    if missing:
        notes.append(
            "no attribution drift: the log does not hold every feature as served "
            f"(missing: {', '.join(missing)})"
        )
        return None
    hashed = [n for n in features if _hashed(window.inputs[n])]
    if hashed:
        notes.append(f"no attribution drift: hashed in the log as sensitive: {', '.join(hashed)}")
        return None
    try:
        loaded = _load(registry, version)
        training = ensure_importance(registry, version, loaded=loaded)
        if training is None:
            notes.append(
                "no attribution drift this pass: another process is computing the training "
                "importance"
            )
            return None
        live = live_sample_importance(
            loaded, window.inputs[features], max_rows=rows, seconds=seconds
        )
    except ShipyardError as exc:
        notes.append(f"no attribution drift: {exc}")
        return None
    except Exception as exc:  # a flavor the explainers cannot read must not fail the pass
        log.warning("%s: attribution drift failed", version.ref, exc_info=True)
        notes.append(f"no attribution drift: {version.flavor} model cannot be explained ({exc})")
        return None
    drift = attribution_drift(live.features, training["features"])
    return AttributionReport(
        ndcg=drift.ndcg,
        threshold=ATTRIBUTION_DRIFT_THRESHOLD,
        rows=live.rows,
        available=live.available,
        truncated=live.truncated,
        seconds=live.seconds,
        method=live.method,
        output_space=live.output_space,
        live=_ranked(live.features),
        training=_ranked(training["features"]),
        training_rows=int(training.get("rows", 0)),
    )


def _load(registry: Registry, version: ModelVersion) -> LoadedModel:
    """The loaded model, kept across passes (its explainer, built once, lives on it)."""
    key = (version.ref, version.artifact_digest, version.sample_digest or "")
    with _MODELS_LOCK:
        found = _MODELS.get(key)
        if found is not None:
            _MODELS.move_to_end(key)
            return found
    loaded = registry.load(version.ref)
    with _MODELS_LOCK:
        _MODELS[key] = loaded
        while len(_MODELS) > _MODELS_SIZE:
            _MODELS.popitem(last=False)
    return loaded


def _hashed(column: Any) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    present = column.dropna()
    if len(present) == 0 or is_numeric_dtype(present.dtype) or is_bool_dtype(present.dtype):
        return False
    return bool(present.map(lambda v: isinstance(v, str) and v.startswith("sha256:")).all())


def _ranked(values: Mapping[str, float]) -> dict[str, float]:
    """Most important first (ties by name)."""
    return dict(sorted(values.items(), key=lambda item: (-float(item[1]), item[0])))


def _top(values: dict[str, float]) -> dict[str, float]:
    return dict(list(_ranked(values).items())[:TOP])
