"""One pass of the monitor over a model's new logged predictions.

:func:`run_monitor` reads the window of rows logged since the model's previous run (its
``window_end`` in ``monitor_runs``) or since a given time, and computes, against the version's
reference sample and profile:

- feature drift (:func:`~shipyard.monitoring.drift.drift_report`), prediction drift (the logged
  outputs against the version's own predictions on its reference sample) and, once labels have
  arrived, target drift (the labels against the reference target);
- data quality (:mod:`~shipyard.monitoring.quality`) and performance
  (:mod:`~shipyard.monitoring.performance`, set against the registered metrics);
- attribution drift (:mod:`~shipyard.monitoring.attribution`): NDCG of the live mean
  ``|attribution|`` over a bounded sample of rows against the training importance.

(:mod:`~shipyard.monitoring.analysis` computes these). Every number becomes a named figure;
the alert rules (from a config file, the registry's ``alert_rules`` for the model, and the
defaults of :mod:`~shipyard.monitoring.alerts.defaults`, in that order of precedence) are
evaluated on them — or on the figures of the window a rule names itself, such as the last
``24h`` or the last ``5000 rows`` up to this pass's end — with their state from the previous run,
events go out through the :class:`~shipyard.monitoring.alerts.AlertDispatcher`, and the run, its
JSON report (aggregates only: no logged row) and its events are recorded in one transaction.

A scheduled run first takes the lease ``monitor:{model}``, so on many replicas one runs it.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from shipyard.errors import InvalidInputError, ShipyardError
from shipyard.monitoring.alerts.channels import AlertChannel, LogChannel
from shipyard.monitoring.alerts.defaults import DEFAULT_RULES
from shipyard.monitoring.alerts.dispatcher import AlertDispatcher, AlertRecord
from shipyard.monitoring.alerts.evaluator import Observation, RuleState, evaluate
from shipyard.monitoring.alerts.events import AlertEvent
from shipyard.monitoring.alerts.rules import AlertRule
from shipyard.monitoring.alerts.rules import Window as RuleWindow
from shipyard.monitoring.analysis import Analysis, Reference, analyse, load_reference
from shipyard.monitoring.attribution import AttributionReport
from shipyard.monitoring.drift import DriftOptions
from shipyard.monitoring.performance import PerformanceReport
from shipyard.monitoring.quality import QualityReport
from shipyard.monitoring.report import DriftReport, FeatureDrift
from shipyard.monitoring.store import MonitorRun, MonitorStore

if TYPE_CHECKING:
    from shipyard.predlog.store import PredictionStore
    from shipyard.predlog.window import Window
    from shipyard.registry.client import Registry

__all__ = ["MonitorResult", "lease_name", "run_monitor"]

log = logging.getLogger("shipyard.monitor")

RUN_LEASE = 600.0  # seconds a pass holds its lease while it runs (a crashed holder's worst case)


def lease_name(model: str) -> str:
    return f"monitor:{model}"


@dataclass(frozen=True)
class MonitorResult:
    """What one pass found. ``status``: ``ok``, ``drift`` (dataset drift, no alert fired),
    ``alert`` (an alert fired), ``empty`` (no new rows) or ``skipped`` (another replica holds
    the lease; nothing was computed or recorded). A pass that fails raises, after recording an
    ``error`` run (which the next pass does not take as its starting point)."""

    model: str
    status: str
    window_start: datetime | None
    window_end: datetime
    rows: int = 0
    version: int | None = None
    drift: DriftReport | None = None
    prediction_drift: FeatureDrift | None = None
    target_drift: FeatureDrift | None = None
    quality: QualityReport | None = None
    performance: PerformanceReport | None = None
    attribution: AttributionReport | None = None
    figures: dict[str, float] = field(default_factory=dict)
    alerts: list[AlertRecord] = field(default_factory=list)
    states: dict[str, RuleState] = field(default_factory=dict)
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_id: int | None = None

    @property
    def fired(self) -> list[AlertRecord]:
        return [a for a in self.alerts if a["state"] == "firing"]

    @property
    def drifted_features(self) -> list[str]:
        return [] if self.drift is None else self.drift.drifted_features

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (aggregates only), as recorded in ``monitor_runs.report``."""
        return {
            "model": self.model,
            "version": self.version,
            "status": self.status,
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "rows": self.rows,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "prediction_drift": _feature_dict(self.prediction_drift),
            "target_drift": _feature_dict(self.target_drift),
            "quality": None if self.quality is None else _clean(self.quality.to_dict()),
            "performance": None if self.performance is None else _clean(self.performance.to_dict()),
            "attribution": None if self.attribution is None else _clean(self.attribution.to_dict()),
            "figures": _clean(self.figures),
            "alerts": [dict(a) for a in self.alerts],
            "alert_states": {name: s.to_dict() for name, s in self.states.items()},
            "histograms": self.histograms,
            "notes": list(self.notes),
            "run_id": self.run_id,
        }

    def summary(self) -> list[str]:
        """A few lines for a terminal."""
        span = "the beginning" if self.window_start is None else _short(self.window_start)
        head = f"{self.model}: {self.status}, {self.rows} rows from {span} to {_short(self.window_end)}"
        lines = [head if self.version is None else f"{head} (version {self.version})"]
        if self.drift is not None:
            drifted = ", ".join(self.drifted_features) or "none"
            lines.append(
                f"  drift: {self.drift.n_drifted} of {len(self.drift.features)} features "
                f"({self.drift.share:.0%}; dataset drift {'yes' if self.drift.drifted else 'no'}): "
                f"{drifted}"
            )
        for label, fd in (("prediction", self.prediction_drift), ("target", self.target_drift)):
            if fd is not None:
                lines.append(
                    f"  {label} drift: {'yes' if fd.drifted else 'no'} ({fd.test} {_fmt(fd.statistic)})"
                )
        if self.quality is not None:
            q = self.quality
            worst = sorted(
                (f for f in q.features if f.missing_share), key=lambda f: -(f.missing_share or 0)
            )[:3]
            missing = ", ".join(f"{f.name} {f.missing_share:.1%}" for f in worst) or "none"
            lines.append(
                f"  quality: schema violations {q.schema_violations}, rejected "
                f"{'n/a' if q.rejected is None else q.rejected}, missing: {missing}"
            )
            odd = [
                f"{f.name} {f.out_of_range_share:.1%}" for f in q.features if f.out_of_range_share
            ]
            new = [f"{f.name} {sorted(f.new_categories)}" for f in q.features if f.new_categories]
            if odd:
                lines.append(f"  out of range: {', '.join(odd)}")
            if new:
                lines.append(f"  new categories: {', '.join(new)}")
        if self.performance is not None and self.performance.n_labelled:
            p = self.performance
            parts = [
                f"{k} {v:.3f}" + (f" ({p.delta[k]:+.3f})" if k in p.delta else "")
                for k, v in p.metrics.items()
                if v is not None
            ]
            lines.append(f"  performance on {p.n_labelled} labelled rows: {', '.join(parts)}")
        if self.attribution is not None:
            lines.append(f"  {self.attribution.summary()}")
        for a in self.alerts:
            where = ", ".join(a["delivered"]) or "nowhere"
            lines.append(
                f"  alert {a['state']}: {a['rule']} ({a['figure']} = {_fmt(a['value'])} "
                f"{a['op']} {a['threshold']:g}) -> delivered to {where}"
            )
            for failure in a["failures"]:
                lines.append(f"    not delivered to {failure['channel']}: {failure['error']}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines


def run_monitor(
    registry: Registry,
    store: PredictionStore,
    model: str,
    *,
    version: int | None = None,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
    rules: Sequence[AlertRule] = (),
    channels: Mapping[str, AlertChannel] | None = None,
    rejected: int | None = None,
    options: DriftOptions | None = None,
    record: bool = True,
    alerts: bool = True,
    lease: bool = False,
    holder: str | None = None,
    lease_ttl: float = 600.0,
    keep_lease: bool = False,
    clock: Callable[[], float] = time.time,
) -> MonitorResult:
    """One pass over ``model``'s new rows; see the module docstring.

    ``since``/``until`` bound the window (default: the previous run's end, and now).
    ``rules`` come from a config file; the registry's rules for ``model`` are added (a config
    rule wins over a stored one of the same name). ``channels`` deliver the events (a ``log``
    channel is always there). ``record=False`` computes without writing the run or moving the
    cursor; ``alerts=False`` evaluates no rule (a report). ``lease`` takes ``monitor:{model}``
    first (for the pass, and at least :data:`RUN_LEASE` seconds) and returns a ``skipped``
    result when another ``holder`` has it; ``keep_lease`` then keeps it for ``lease_ttl`` after
    the pass (a scheduler renewing it each interval) instead of releasing it.
    """
    registry.get_model(model)  # NotFoundError naming the known models
    if lease:
        from shipyard.registry.leases import release, try_acquire

        holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        now = clock()
        # Held through the pass whatever its length, then renewed (or released) at its end.
        ttl = max(lease_ttl, RUN_LEASE)
        if not try_acquire(registry.db, lease_name(model), holder, ttl, now=now):
            end = _when(until) if until is not None else datetime.fromtimestamp(now, UTC)
            note = f"another replica holds the lease {lease_name(model)}; skipped"
            log.info("monitor %s: %s", model, note)
            return MonitorResult(model, "skipped", None, end, notes=[note])
        try:
            return _run(
                registry, store, model, version, since, until, rules, channels, rejected,
                options, record, alerts, clock,
            )  # fmt: skip
        finally:
            if keep_lease:
                try_acquire(registry.db, lease_name(model), holder, lease_ttl, now=clock())
            else:
                release(registry.db, lease_name(model), holder)
    return _run(
        registry, store, model, version, since, until, rules, channels, rejected, options,
        record, alerts, clock,
    )  # fmt: skip


def _run(
    registry: Registry,
    store: PredictionStore,
    model: str,
    version: int | None,
    since: datetime | float | None,
    until: datetime | float | None,
    config_rules: Sequence[AlertRule],
    channels: Mapping[str, AlertChannel] | None,
    rejected: int | None,
    options: DriftOptions | None,
    record: bool,
    alerts: bool,
    clock: Callable[[], float],
) -> MonitorResult:
    started = datetime.now(UTC)
    monitors = MonitorStore(registry.db)
    previous = monitors.last_run(model)
    start = _when(since) if since is not None else (previous.window_end if previous else None)
    end = _when(until) if until is not None else datetime.fromtimestamp(clock(), UTC)
    if start is not None and start >= end and since is None:
        note = "no time has passed since the previous run's window end"
        return MonitorResult(
            model, "empty", start, end, states=_previous_states(previous), notes=[note]
        )
    if start is not None and start >= end:
        raise InvalidInputError(
            f"the window starts at {start.isoformat()}, not before its end {end.isoformat()}; "
            "give an earlier --since (or a later --until)"
        )
    try:
        return _pass(
            registry, store, monitors, previous, model, version, start, end, config_rules,
            channels, rejected, options, record, alerts, started,
        )  # fmt: skip
    except ShipyardError as exc:
        if record:
            # Recorded for the history, but never a cursor: the next pass reads these rows again.
            monitors.record_run(
                model=model, version=version, window_start=start, window_end=end, rows=0,
                status="error", report={"model": model, "status": "error", "error": str(exc)},
                started_at=started,
            )  # fmt: skip
        raise


def _pass(
    registry: Registry,
    store: PredictionStore,
    monitors: MonitorStore,
    previous: MonitorRun | None,
    model: str,
    version: int | None,
    start: datetime | None,
    end: datetime,
    config_rules: Sequence[AlertRule],
    channels: Mapping[str, AlertChannel] | None,
    rejected: int | None,
    options: DriftOptions | None,
    record: bool,
    alerts: bool,
    started: datetime,
) -> MonitorResult:
    from shipyard.predlog.window import read_window

    window = read_window(store, model, version=version, start=start, end=end)
    notes: list[str] = []
    states = _previous_states(previous)
    if len(window) == 0:
        result = MonitorResult(
            model, "empty", start, end, version=version, states=states,
            notes=["no predictions were logged in this window"],
        )  # fmt: skip
        return _record(monitors, result, started) if record else result

    if version is None:
        counts = window.meta["version"].value_counts()
        version = int(cast(Any, counts.index[0]))
        if len(counts) > 1:
            others = ", ".join(f"{v} ({int(n)} rows)" for v, n in counts.iloc[1:].items())
            notes.append(
                f"rows of other versions are not monitored in this run: {others}; "
                "monitor them with --version and --since (this run moves the cursor past them)"
            )
            window = _subset(window, (window.meta["version"] == version).to_numpy())
    mv = registry.get_version(f"{model}/{version}")
    reference = load_reference(registry, mv, notes)
    main = analyse(registry, reference, window, rejected=rejected, options=options, notes=notes)

    records: list[AlertRecord] = []
    if alerts:
        rules = _merge_rules(_merge_rules(config_rules, monitors.rules_for(model)), DEFAULT_RULES)
        figures = _rule_figures(registry, store, reference, rules, main, end, options, notes)
        labels = {"model": model, "version": str(version)}
        states, events = _evaluate(rules, states, figures, end.timestamp(), labels, notes)
        if events:
            records = AlertDispatcher(_with_log(channels)).dispatch(events)
    fired = any(r["state"] == "firing" for r in records)
    drifted = main.drift is not None and main.drift.drifted
    result = MonitorResult(
        model=model,
        status="alert" if fired else ("drift" if drifted else "ok"),
        window_start=start,
        window_end=end,
        rows=len(window),
        version=version,
        drift=main.drift,
        prediction_drift=main.prediction_drift,
        target_drift=main.target_drift,
        quality=main.quality,
        performance=main.performance,
        attribution=main.attribution,
        figures=main.figures,
        alerts=records,
        states=states,
        histograms=main.histograms,
        notes=notes,
    )
    return _record(monitors, result, started) if record else result


def _record(monitors: MonitorStore, result: MonitorResult, started: datetime) -> MonitorResult:
    run_id = monitors.record_run(
        model=result.model,
        version=result.version,
        window_start=result.window_start,
        window_end=result.window_end,
        rows=result.rows,
        status=result.status,
        report=result.to_dict(),
        started_at=started,
        events=result.alerts,
    )
    return replace(result, run_id=run_id)


# -- pieces -------------------------------------------------------------------------------------


def _when(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInputError(
                f"time {value.isoformat()} has no time zone; give an aware datetime (UTC)"
            )
        return value.astimezone(UTC)
    if isinstance(value, int | float) and math.isfinite(value):
        return datetime.fromtimestamp(float(value), UTC)
    raise InvalidInputError(f"a window bound must be a datetime or epoch seconds, got {value!r}")


def _subset(window: Window, mask: np.ndarray[Any, Any]) -> Window:
    from shipyard.predlog.window import Window as _Window

    kwargs: dict[str, Any] = {
        "meta": window.meta[mask].reset_index(drop=True),
        "inputs": window.inputs[mask].reset_index(drop=True),
        "labels": window.labels[mask],
        "probabilities": None
        if window.probabilities is None
        else window.probabilities[mask].reset_index(drop=True),
    }
    if window.actuals is not None:
        kwargs["actuals"] = np.asarray(window.actuals)[mask]
    if window.feedback_time is not None:
        kwargs["feedback_time"] = window.feedback_time[mask].reset_index(drop=True)
    return _Window(**kwargs)


def _merge_rules(config: Sequence[AlertRule], stored: Sequence[AlertRule]) -> list[AlertRule]:
    names = {r.name for r in config}
    return [*config, *(r for r in stored if r.name not in names)]


def _previous_states(previous: MonitorRun | None) -> dict[str, RuleState]:
    if previous is None:
        return {}
    states: dict[str, RuleState] = {}
    for name, data in (previous.report.get("alert_states") or {}).items():
        try:
            states[str(name)] = RuleState.from_dict(data)
        except InvalidInputError as exc:
            log.warning("monitor: dropping the stored state of rule %s: %s", name, exc)
    return states


def _rule_figures(
    registry: Registry,
    store: PredictionStore,
    reference: Reference,
    rules: Sequence[AlertRule],
    main: Analysis,
    end: datetime,
    options: DriftOptions | None,
    notes: list[str],
) -> dict[str, Mapping[str, float]]:
    """Each rule's figures: the pass's own window's, or those of the window the rule names
    (the last ``24h``, or the last ``5000 rows``, up to this pass's end), each computed once."""
    from shipyard.predlog.window import read_window

    mv = reference.version
    by_window: dict[RuleWindow | None, Mapping[str, float]] = {None: main.figures}
    # Explanations are the costly figure: computed for a rule's window only when one watches it.
    explained = {r.window for r in rules if r.figure.startswith("attribution.")}
    out: dict[str, Mapping[str, float]] = {}
    for rule in rules:
        if rule.window not in by_window:
            w = rule.window
            assert w is not None
            start = None if w.seconds is None else end.timestamp() - w.seconds
            rows = read_window(
                store, mv.model, version=mv.version, start=start, end=end, limit=w.rows
            )
            sub_notes: list[str] = []
            by_window[w] = (
                analyse(registry, reference, rows, options=options, notes=sub_notes,
                        histograms=False, attribution=w in explained).figures
                if len(rows)
                else {}
            )  # fmt: skip
            if len(rows):
                notes.append(f"rules over the window {w.to_config()} saw {len(rows)} rows")
        out[rule.name] = by_window[rule.window]
    return out


def _evaluate(
    rules: Sequence[AlertRule],
    states: Mapping[str, RuleState],
    figures: Mapping[str, Mapping[str, float]],
    now: float,
    labels: Mapping[str, str],
    notes: list[str],
) -> tuple[dict[str, RuleState], list[AlertEvent]]:
    new_states = dict(states)
    events: list[AlertEvent] = []
    for rule in rules:
        state = states.get(rule.name)
        if state is not None and state.last_time is not None and now <= state.last_time:
            notes.append(f"rule {rule.name} was already evaluated up to this window's end")
            continue
        value = figures.get(rule.name, {}).get(rule.figure)
        result = evaluate(rule, state, Observation(value, now))
        new_states[rule.name] = result.state
        events.extend(replace(e, labels={**labels, **e.labels}) for e in result.events)
    return new_states, events


def _with_log(channels: Mapping[str, AlertChannel] | None) -> dict[str, AlertChannel]:
    out: dict[str, AlertChannel] = {"log": LogChannel()}
    out.update(channels or {})
    return out


def _feature_dict(fd: FeatureDrift | None) -> dict[str, Any] | None:
    if fd is None:
        return None
    from dataclasses import asdict

    result: dict[str, Any] = _clean(asdict(fd))
    return result


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _short(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
