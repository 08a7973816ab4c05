"""The figures of one window of logged predictions, against a version's reference.

:func:`analyse` computes, for a :class:`~shipyard.predlog.window.Window` of one version:

- feature drift (:func:`~shipyard.monitoring.drift.drift_report`) over the features the log
  holds as served (features dropped or hashed as sensitive are left out, with a note);
- prediction drift: the logged outputs against the version's own predictions on its reference
  sample (computed once per artifact and sample, then cached);
- target drift, once labels have arrived: the labels against the reference target;
- data quality (:mod:`~shipyard.monitoring.quality`) and performance
  (:mod:`~shipyard.monitoring.performance`, set against the registered metrics);
- attribution drift (:mod:`~shipyard.monitoring.attribution`): the ranking of live mean
  ``|attribution|`` over a bounded sample of the rows against the training importance (NDCG);

and every number as a named figure for the alert rules, plus binned histograms (shares, never
rows) of the features for the HTML report.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import NotFoundError, ShipyardError
from shipyard.monitoring.alerts.figures import drift_figures
from shipyard.monitoring.attribution import AttributionReport, window_attribution
from shipyard.monitoring.drift import DriftOptions, drift_report
from shipyard.monitoring.performance import PerformanceReport, labelled, performance_report
from shipyard.monitoring.quality import QualityReport, data_quality
from shipyard.monitoring.report import DriftReport, FeatureDrift

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.predlog.window import Window
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion

__all__ = ["Analysis", "Reference", "analyse", "load_reference"]

HIST_BINS = 20
HIST_LEVELS = 12
MAX_HISTOGRAMS = 50
_CACHE_SIZE = 16
_EXPECTED: dict[tuple[str, str], Any] = {}  # (artifact, sample digest) -> predictions
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Reference:
    """What a version's windows are compared with: its signature, profile and sample (None
    when it was registered without reference data)."""

    version: ModelVersion
    signature: dict[str, Any]
    profile: dict[str, Any] | None
    sample: pd.DataFrame | None


@dataclass(frozen=True)
class Analysis:
    """One window's reports and figures (``figures`` by name, as the alert rules watch them)."""

    rows: int
    drift: DriftReport | None = None
    prediction_drift: FeatureDrift | None = None
    target_drift: FeatureDrift | None = None
    quality: QualityReport | None = None
    performance: PerformanceReport | None = None
    attribution: AttributionReport | None = None
    figures: dict[str, float] = field(default_factory=dict)
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_reference(registry: Registry, version: ModelVersion, notes: list[str]) -> Reference:
    """The version's reference; a version without reference data gets a note, not an error."""
    profile: dict[str, Any] | None = None
    sample: pd.DataFrame | None = None
    try:
        profile = registry.reference_profile(version.ref)
        sample = registry.reference_sample(version.ref)
    except NotFoundError:
        notes.append(f"{version.ref} has no reference data: no drift or range checks")
    return Reference(version, version.signature or {"inputs": []}, profile, sample)


def analyse(
    registry: Registry,
    reference: Reference,
    window: Window,
    *,
    rejected: int | None = None,
    options: DriftOptions | None = None,
    notes: list[str] | None = None,
    histograms: bool = True,
    attribution: bool = True,
) -> Analysis:
    """Every report and figure of ``window`` (rows of ``reference.version``); see the module
    docstring. ``notes`` collects what was left out and why. ``attribution=False`` skips the
    attribution drift (the costliest figure: explanations of up to a few hundred rows)."""
    notes = [] if notes is None else notes
    mv = reference.version
    signature, hashed = _logged_signature(reference.signature, window, notes)
    profile, sample = reference.profile, reference.sample
    actuals = window.actuals
    figures: dict[str, float] = {}
    drift = pred_drift = target_drift = None
    charts: dict[str, dict[str, Any]] = {}
    if sample is not None:
        kinds = {
            str(f["name"]): str(f["kind"])
            for f in signature.get("inputs", [])
            if f.get("kind") != "datetime"
            and f["name"] in sample.columns
            and f["name"] in window.inputs.columns
        }
        if kinds:
            names = list(kinds)
            drift = drift_report(sample[names], window.inputs[names], kinds, options=options)
            figures.update(drift_figures(drift))
            if histograms:
                for name in sorted(names, key=lambda n: not drift[n].drifted)[:MAX_HISTOGRAMS]:
                    charts[name] = _histogram(sample[name], window.inputs[name], kinds[name])
        pred_drift = _prediction_drift(
            registry, mv, reference.signature, sample, window, options, notes
        )
        target_drift = _target_drift(profile, sample, actuals, signature, options)
        for prefix, fd in (("drift.prediction.", pred_drift), ("drift.target.", target_drift)):
            if fd is not None:
                figures.update(_feature_figures(prefix, fd))
    logged = window.inputs.drop(columns=hashed)
    quality = data_quality(logged, signature, profile, rejected=rejected)
    figures.update(quality.figures())
    performance = _performance(signature, window, actuals, mv.metrics)
    if performance is not None:
        figures.update(performance.figures())
    attributions = None
    if attribution and sample is not None:
        attributions = window_attribution(registry, mv, window, notes)
        if attributions is not None:
            figures.update(attributions.figures())
    return Analysis(
        rows=len(window),
        drift=drift,
        prediction_drift=pred_drift,
        target_drift=target_drift,
        quality=quality,
        performance=performance,
        attribution=attributions,
        figures=figures,
        histograms=charts,
    )


def _logged_signature(
    signature: Mapping[str, Any], window: Window, notes: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The signature without the features the log does not hold as served: dropped as
    sensitive (absent) or hashed (every present value a ``sha256:`` digest). Comparing those
    with the raw reference would be meaningless, so they are left out, and the report says so.
    Returns the signature and the hashed features' names."""
    kept, dropped, hashed = [], [], []
    for spec in signature.get("inputs") or []:
        name = spec["name"]
        if name not in window.inputs.columns:
            dropped.append(name)
        elif _hashed(window.inputs[name]):
            hashed.append(name)
        else:
            kept.append(spec)
    if dropped:
        notes.append(f"not in the log (dropped as sensitive?), not monitored: {', '.join(dropped)}")
    if hashed:
        notes.append(f"hashed in the log as sensitive, not monitored: {', '.join(hashed)}")
    return {**signature, "inputs": kept}, hashed


def _hashed(column: pd.Series[Any]) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    present = column.dropna()
    if len(present) == 0 or is_numeric_dtype(present.dtype) or is_bool_dtype(present.dtype):
        return False
    return bool(present.map(lambda v: isinstance(v, str) and v.startswith("sha256:")).all())


def _task(signature: Mapping[str, Any]) -> str | None:
    output = signature.get("output")
    return None if not output else str(output.get("task"))


def _classes(signature: Mapping[str, Any]) -> list[Any] | None:
    output = signature.get("output") or {}
    classes = output.get("classes")
    return None if classes is None else list(classes)


def _as_labels(values: Any, task: str | None) -> tuple[np.ndarray[Any, Any], str]:
    """Outputs as one comparable column: text classes, or numbers for a regressor."""
    array = np.asarray(values)
    if task == "regression":
        return np.asarray(array, dtype=np.float64), "numeric"
    text = [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else _label(v)
        for v in array.tolist()
    ]
    return np.array(text, dtype=object), "categorical"


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _prediction_drift(
    registry: Registry,
    mv: ModelVersion,
    signature: Mapping[str, Any],
    sample: pd.DataFrame,
    window: Window,
    options: DriftOptions | None,
    notes: list[str],
) -> FeatureDrift | None:
    """The logged outputs against the version's predictions on its own reference sample."""
    key = (mv.artifact_digest, mv.sample_digest or "")
    with _CACHE_LOCK:
        expected = _EXPECTED.get(key)
    if expected is None:
        features = [f["name"] for f in signature.get("inputs", [])]
        try:
            expected = registry.load(mv.ref).predict(sample[features])
        except (ShipyardError, KeyError) as exc:
            notes.append(f"no prediction drift: cannot predict the reference sample ({exc})")
            return None
        with _CACHE_LOCK:
            # The same artifact on the same sample predicts the same: a scheduler's passes
            # load the model once, not every interval.
            if len(_EXPECTED) >= _CACHE_SIZE:
                _EXPECTED.pop(next(iter(_EXPECTED)))
            _EXPECTED[key] = expected
    task = _task(signature)
    ref_labels, kind = _as_labels(expected, task)
    cur_labels, _ = _as_labels(window.labels, task)
    report = drift_report(
        {"prediction": ref_labels}, {"prediction": cur_labels}, {"prediction": kind},
        options=_only(options),
    )  # fmt: skip
    return report["prediction"]


def _target_drift(
    profile: Mapping[str, Any] | None,
    sample: pd.DataFrame,
    actuals: Any,
    signature: Mapping[str, Any],
    options: DriftOptions | None,
) -> FeatureDrift | None:
    """Labels fed back so far against the reference target (needs labels and a target)."""
    target = (profile or {}).get("target") or {}
    name = target.get("name")
    if actuals is None or name is None or name not in sample.columns:
        return None
    mask = labelled(actuals)
    if not mask.any():
        return None
    task = _task(signature)
    ref, kind = _as_labels(sample[name].to_numpy(), task)
    cur, _ = _as_labels(np.asarray(actuals)[mask], task)
    report = drift_report(
        {"target": ref}, {"target": cur}, {"target": kind}, options=_only(options)
    )
    return report["target"]


def _only(options: DriftOptions | None) -> DriftOptions | None:
    """The options without per-feature settings (which name the input features)."""
    return None if options is None else replace(options, features={})


def _performance(
    signature: Mapping[str, Any], window: Window, actuals: Any, registered: Mapping[str, float]
) -> PerformanceReport | None:
    task = _task(signature)
    if task is None:
        return None
    proba = None
    classes = _classes(signature)
    if task == "classification" and window.probabilities is not None and classes is not None:
        columns = [str(c) for c in classes]
        if all(c in window.probabilities.columns for c in columns):
            proba = window.probabilities[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    return performance_report(
        task, window.labels, None if actuals is None else np.asarray(actuals),
        probabilities=proba, classes=classes, registered=registered,
    )  # fmt: skip


def _feature_figures(prefix: str, fd: FeatureDrift) -> dict[str, float]:
    out = {}
    p_value = fd.p_adjusted if fd.p_adjusted is not None else fd.p_value
    for name, value in (
        ("statistic", fd.statistic),
        ("p_value", p_value),
        ("effect", fd.effect),
        ("drifted", float(fd.drifted)),
    ):
        if value is not None and math.isfinite(value):
            out[prefix + name] = float(value)
    return out


def _histogram(reference: Any, current: Any, kind: str) -> dict[str, Any]:
    """Binned shares of one feature, reference beside current (no raw value leaves here)."""
    import pandas as pd

    if kind == "numeric":
        ref = pd.to_numeric(reference, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        cur = pd.to_numeric(current, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        both = np.concatenate([ref, cur])
        if both.size == 0:
            return {"kind": "numeric", "edges": [], "reference": [], "current": []}
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
        return {
            "kind": "numeric",
            "edges": [float(e) for e in edges],
            "reference": _shares(np.histogram(ref, edges)[0]),
            "current": _shares(np.histogram(cur, edges)[0]),
        }
    ref_s = pd.Series(reference).dropna().astype(str)
    cur_s = pd.Series(current).dropna().astype(str)
    total = pd.concat(
        [ref_s.value_counts(normalize=True), cur_s.value_counts(normalize=True)], axis=1
    )
    order = total.fillna(0).sum(axis=1).sort_values(ascending=False, kind="stable").index
    levels = [str(v) for v in order[:HIST_LEVELS]]
    rest = len(order) > HIST_LEVELS

    def shares(s: pd.Series[Any]) -> list[float]:
        n = len(s)
        counts = s.value_counts()
        values = [float(counts.get(level, 0)) / n if n else 0.0 for level in levels]
        if rest:
            values.append(1.0 - sum(values) if n else 0.0)
        return values

    return {
        "kind": "categorical",
        "levels": levels + (["(other)"] if rest else []),
        "reference": shares(ref_s),
        "current": shares(cur_s),
    }


def _shares(counts: np.ndarray[Any, Any]) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]
