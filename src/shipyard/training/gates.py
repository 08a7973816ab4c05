"""Validation gates: each one a pass/fail with the figures behind it.

Gates judge the *loaded* version (what would be served) on the holdout rows the model never
saw: absolute metric thresholds, the improvement over the current champion on the same rows
(as MLflow's ``MetricThreshold``), the metric on each segment of a feature, the p99 latency of
in-process predictions, and memory (artifact size, peak allocation while predicting).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.training.metrics import GREATER_IS_BETTER, score_model

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.training.gate_config import (
        ChampionGate,
        GatesConfig,
        LatencyGate,
        MemoryGate,
        MetricGate,
        SliceGate,
    )

__all__ = ["GateReport", "GateResult", "evaluate_gates"]

_MB = 1024 * 1024
_MAX_NUMERIC_SEGMENTS = 20
_MEMORY_ROWS = 10_000


@dataclass(frozen=True)
class GateResult:
    gate: str
    """``metric``, ``champion``, ``slice``, ``latency`` or ``memory``."""
    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateReport:
    results: tuple[GateResult, ...]
    holdout_rows: int

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def reasons(self) -> list[str]:
        """Why the version failed, one line per failed gate."""
        return [r.reason for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "holdout_rows": self.holdout_rows,
            "reasons": self.reasons,
            "gates": [asdict(r) for r in self.results],
        }


def evaluate_gates(
    gates: GatesConfig,
    model: Any,
    X: pd.DataFrame,
    y: pd.Series[Any],
    *,
    champion: Any = None,
    champion_ref: str | None = None,
    artifact_size: int | None = None,
    context: pd.DataFrame | None = None,
) -> GateReport:
    """Run every gate of ``gates`` for ``model`` (anything with ``predict``/``predict_proba``,
    normally a :class:`~shipyard.runtime.loaded.LoadedModel`) on the holdout ``X``, ``y``.

    ``context`` holds every column of the same rows (default ``X``): the champion, which may use
    other features, is scored on it, and slices may be cut by any of its columns."""
    context = X if context is None else context
    results = [_metric_gate(g, model, X, y) for g in gates.metrics]
    if gates.champion is not None:
        results.append(_champion_gate(gates.champion, model, champion, champion_ref, X, y, context))
    results.extend(_slice_gate(g, model, X, y, context) for g in gates.slices)
    if gates.latency is not None:
        results.append(_latency_gate(gates.latency, model, X))
    if gates.memory is not None:
        results.append(_memory_gate(gates.memory, model, X, artifact_size))
    return GateReport(tuple(results), len(y))


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _bounds(low: float | None, high: float | None) -> str:
    parts = [f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else ""]
    return " and ".join(p for p in parts if p)


def _metric_gate(gate: MetricGate, model: Any, X: Any, y: Any) -> GateResult:
    value = score_model(gate.metric, model, X, y)
    figures = {"metric": gate.metric, "value": value, "min": gate.min, "max": gate.max}
    if value is None:
        return GateResult("metric", False, f"{gate.metric} is undefined on the holdout", figures)
    passed = _within(value, gate.min, gate.max)
    verdict = "meets" if passed else "fails"
    reason = f"holdout {gate.metric} {value:.4f} {verdict} {_bounds(gate.min, gate.max)}"
    return GateResult("metric", passed, reason, figures)


def _champion_gate(
    gate: ChampionGate,
    model: Any,
    champion: Any,
    ref: str | None,
    X: Any,
    y: Any,
    context: Any,
) -> GateResult:
    figures: dict[str, Any] = {"metric": gate.metric, "alias": gate.alias, "champion": ref}
    if champion is None:
        return GateResult("champion", True, f"no {gate.alias} yet: nothing to beat", figures)
    candidate = score_model(gate.metric, model, X, y)
    try:
        incumbent = score_model(gate.metric, champion, context, y)
    except Exception as exc:  # the champion may take other columns or give no probabilities
        reason = f"{ref} could not be scored on this holdout ({exc}); compare by hand"
        return GateResult("champion", False, reason, figures)
    figures.update(candidate=candidate, champion_value=incumbent)
    if candidate is None or incumbent is None:
        return GateResult("champion", False, f"{gate.metric} is undefined on the holdout", figures)
    # Positive change means better, whatever the metric's direction.
    change = candidate - incumbent if GREATER_IS_BETTER[gate.metric] else incumbent - candidate
    relative = change / abs(incumbent) if incumbent else (math.inf if change > 0 else 0.0)
    figures.update(
        absolute_change=change,
        relative_change=None if math.isinf(relative) else relative,
        min_absolute_change=gate.min_absolute_change,
        min_relative_change=gate.min_relative_change,
    )
    failures = []
    if gate.min_absolute_change is not None and change < gate.min_absolute_change:
        failures.append(f"improves by {change:+.4f}, needs {gate.min_absolute_change:+g}")
    if gate.min_relative_change is not None and relative < gate.min_relative_change:
        failures.append(f"relative change {relative:+.2%}, needs {gate.min_relative_change:+.2%}")
    if gate.min_absolute_change is None and gate.min_relative_change is None and change < 0:
        failures.append(f"is worse by {-change:.4f}")
    summary = f"{gate.metric} {candidate:.4f} vs {ref} {incumbent:.4f}"
    if failures:
        return GateResult("champion", False, f"{summary}: {'; '.join(failures)}", figures)
    verdict = (
        f"beats the {gate.alias}" if change > 0 else f"within the allowed change ({change:+.4f})"
    )
    return GateResult("champion", True, f"{summary}: {verdict}", figures)


def _slice_gate(
    gate: SliceGate, model: Any, X: pd.DataFrame, y: pd.Series[Any], context: pd.DataFrame
) -> GateResult:
    import pandas as pd
    from pandas.api import types as pdt

    figures: dict[str, Any] = {
        "feature": gate.feature,
        "metric": gate.metric,
        "min": gate.min,
        "max": gate.max,
    }
    if gate.feature not in context.columns:
        reason = f"slice feature {gate.feature!r} is not a column of the data"
        return GateResult("slice", False, reason, figures)
    column = context[gate.feature]
    if pdt.is_numeric_dtype(column.dtype) and column.nunique() > _MAX_NUMERIC_SEGMENTS:
        segments = pd.qcut(column, q=gate.bins, duplicates="drop").astype(str)
    else:
        segments = column.astype(str)
    segments = segments.where(column.notna(), "missing")
    rows, failed = [], []
    for name in sorted(segments.unique()):
        mask = (segments == name).to_numpy()
        size = int(mask.sum())
        value = score_model(gate.metric, model, X[mask], y[mask]) if size >= gate.min_rows else None
        judged = value is not None
        passed = not judged or _within(value, gate.min, gate.max)  # type: ignore[arg-type]
        rows.append(
            {"segment": name, "rows": size, "value": value, "judged": judged, "passed": passed}
        )
        if not passed:
            failed.append(f"{name} ({value:.4f})")
    figures["segments"] = rows
    bound = _bounds(gate.min, gate.max)
    if failed:
        reason = f"{gate.metric} by {gate.feature}: {', '.join(failed)} not {bound}"
        return GateResult("slice", False, reason, figures)
    judged_count = sum(r["judged"] for r in rows)
    reason = f"{gate.metric} {bound} on all {judged_count} judged segments of {gate.feature}"
    return GateResult("slice", True, reason, figures)


def _latency_gate(gate: LatencyGate, model: Any, X: pd.DataFrame) -> GateResult:
    import numpy as np

    def p99(rows: pd.DataFrame, repeats: int) -> float:
        model.predict(rows)  # warm-up: first calls pay for lazy initialisation
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict(rows)
            times.append((time.perf_counter() - start) * 1000.0)
        return float(np.percentile(times, 99))

    batch = X.sample(n=gate.batch_rows, replace=len(X) < gate.batch_rows, random_state=0)
    single = p99(X.iloc[:1], gate.repeats)
    batched = p99(batch, max(20, gate.repeats // 5))
    figures = {
        "p99_single_ms": single,
        "p99_batch_ms": batched,
        "batch_rows": gate.batch_rows,
        "budget_single_ms": gate.p99_single_ms,
        "budget_batch_ms": gate.p99_batch_ms,
    }
    failures = []
    if gate.p99_single_ms is not None and single > gate.p99_single_ms:
        failures.append(f"p99 single-row {single:.2f} ms > {gate.p99_single_ms:g} ms")
    if gate.p99_batch_ms is not None and batched > gate.p99_batch_ms:
        failures.append(f"p99 {gate.batch_rows}-row {batched:.2f} ms > {gate.p99_batch_ms:g} ms")
    if failures:
        return GateResult("latency", False, "; ".join(failures), figures)
    reason = f"p99 single-row {single:.2f} ms, {gate.batch_rows}-row {batched:.2f} ms"
    return GateResult("latency", True, reason + " within budget", figures)


def _memory_gate(gate: MemoryGate, model: Any, X: pd.DataFrame, size: int | None) -> GateResult:
    import tracemalloc

    rows = X.iloc[:_MEMORY_ROWS]
    model.predict(rows.iloc[:1])
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    model.predict(rows)
    peak = (tracemalloc.get_traced_memory()[1] - base) / _MB
    if not already:
        tracemalloc.stop()
    artifact = None if size is None else size / _MB
    figures = {
        "artifact_mb": artifact,
        "predict_peak_mb": peak,
        "predict_rows": len(rows),
        "max_artifact_mb": gate.max_artifact_mb,
        "max_predict_mb": gate.max_predict_mb,
    }
    failures = []
    if (
        gate.max_artifact_mb is not None
        and artifact is not None
        and artifact > gate.max_artifact_mb
    ):
        failures.append(f"artifact {artifact:.2f} MB > {gate.max_artifact_mb:g} MB")
    if gate.max_predict_mb is not None and peak > gate.max_predict_mb:
        failures.append(f"predict peak {peak:.2f} MB > {gate.max_predict_mb:g} MB")
    if failures:
        return GateResult("memory", False, "; ".join(failures), figures)
    return GateResult(
        "memory", True, f"artifact {artifact or 0:.2f} MB, predict peak {peak:.2f} MB", figures
    )
