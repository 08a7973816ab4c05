"""What the Monitoring pages show: the monitor's recorded runs and alerts, arranged for display.

Everything comes from :class:`~shipyard.monitoring.store.MonitorStore` (the runs ``shipyard
monitor run`` records, their JSON reports, the alert events) and the version's reference
profile: the page recomputes nothing the monitor computed. The one exception is a drifted
feature whose newest report carries no bins (a report from before the monitor kept them, or a
model with more features than it bins): its window is read back from the prediction log and
binned by :func:`~shipyard.monitoring.run.run_monitor` with nothing recorded, exactly as
``shipyard monitor report`` does.

These functions block on SQL; the page module runs them in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.console import monitor_charts as mc
from shipyard.errors import NotFoundError, ShipyardError

if TYPE_CHECKING:
    from shipyard.monitoring.store import MonitorRun, MonitorStore
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import ApiKey

__all__ = [
    "Health",
    "IndexRow",
    "current_histograms",
    "health",
    "monitoring_index",
    "monitoring_view",
]

RUN_LIMIT = 60
"""The most recent runs the charts draw."""
RUNS_SHOWN = 12
"""Rows of the runs table."""
EVENT_LIMIT = 100
"""The most recent alert events listed."""


@dataclass(frozen=True)
class Health:
    """A model's monitoring state after its newest recorded run.

    ``drift_run`` is the newest run that computed drift (an empty pass computes none, so it
    may be older than ``last_run``); ``drifted`` its drifted features of ``checked``; ``firing``
    the rules firing after ``last_run`` (their state carries over empty passes)."""

    last_run: MonitorRun | None
    drift_run: MonitorRun | None
    drifted: tuple[str, ...]
    checked: int
    firing: tuple[str, ...]

    @property
    def monitored(self) -> bool:
        return self.last_run is not None


def _drift_features(run: MonitorRun | None) -> list[Mapping[str, Any]]:
    drift = (run.report.get("drift") or {}) if run is not None else {}
    return list(drift.get("features") or [])


def health(monitors: MonitorStore, model: str) -> Health:
    """``model``'s :class:`Health` from its recorded runs (a few small queries)."""
    last = monitors.last_run(model)
    if last is None:
        return Health(None, None, (), 0, ())
    drift_run: MonitorRun | None = last
    if not last.report.get("drift"):
        drift_run = next(
            (r for r in reversed(monitors.runs(model, limit=10)) if r.report.get("drift")), None
        )
    features = _drift_features(drift_run)
    states = last.report.get("alert_states") or {}
    firing = tuple(
        sorted(str(name) for name, s in states.items() if (s or {}).get("status") == "firing")
    )
    return Health(
        last_run=last,
        drift_run=drift_run,
        drifted=tuple(str(f.get("name")) for f in features if f.get("drifted")),
        checked=len(features),
        firing=firing,
    )


@dataclass(frozen=True)
class IndexRow:
    name: str
    champion: int | None
    health: Health


def monitoring_index(registry: Registry, key: ApiKey | None) -> list[IndexRow]:
    """Every model the key reaches, with its monitoring health."""
    from shipyard.monitoring.store import MonitorStore

    monitors = MonitorStore(registry.db)
    return [
        IndexRow(m.name, m.aliases.get("champion"), health(monitors, m.name))
        for m in registry.list_models()
        if key is None or key.reaches((m.name,))
    ]


def monitoring_view(registry: Registry, name: str) -> dict[str, Any]:
    """The Monitoring page of one model; see the module docstring."""
    from shipyard.monitoring.store import MonitorStore

    model = registry.get_model(name)  # NotFoundError naming the known models
    monitors = MonitorStore(registry.db)
    runs = monitors.runs(name, limit=RUN_LIMIT)
    analysed = [r for r in runs if r.status != "error" and r.rows > 0]
    newest = analysed[-1] if analysed else None
    reports = [r.report for r in analysed]
    drift = [
        {"series": s, "svg": mc.series_svg(s), "last": s.points[-1]}
        for s in mc.drift_series(reports)
    ]
    performance = [
        {"series": s, "svg": mc.series_svg(s), "last": s.points[-1]}
        for s in mc.performance_series(reports)
    ]
    state = health(monitors, name)
    events = list(reversed(monitors.events(name, limit=EVENT_LIMIT)))
    latest_firing = {}
    for e in reversed(events):  # oldest first: the newest firing event of each rule wins
        if e.state == "firing":
            latest_firing[e.rule] = e
    return {
        "name": model.name,
        "model": model,
        "newest_run_id": max((r.id for r in runs), default=0),
        "runs": list(reversed(runs))[:RUNS_SHOWN],
        "n_runs": len(runs),
        "newest": newest,
        "health": state,
        "drift": drift,
        "distributions": distributions(registry, newest) if newest is not None else [],
        "quality": None if newest is None else newest.report.get("quality"),
        "performance": None if newest is None else newest.report.get("performance"),
        "performance_charts": performance,
        "firing": [{"rule": rule, "event": latest_firing.get(rule)} for rule in state.firing],
        "events": events,
        "rules": monitors.list_rules(name),
        "notes": [] if newest is None else list(newest.report.get("notes") or []),
    }


def distributions(registry: Registry, run: MonitorRun) -> list[dict[str, Any]]:
    """For each feature that drifted in ``run``, its current distribution over the reference:
    the reference from the version's profile (its bins from all the reference data), the
    current from the run's report, else re-binned from the logged window."""
    drifted = [str(f.get("name")) for f in _drift_features(run) if f.get("drifted")]
    if not drifted:
        return []
    histograms: Mapping[str, Any] = run.report.get("histograms") or {}
    note = ""
    if any(n not in histograms for n in drifted):
        try:
            histograms = {**current_histograms(registry, run), **histograms}
        except ShipyardError as exc:
            note = f"the logged rows of this window could not be read back ({exc})"
    profile: Mapping[str, Any] = {}
    if run.version is not None:
        try:
            profile = registry.reference_profile(f"{run.model}/{run.version}")
        except NotFoundError:
            profile = {}
    out = []
    for feature in drifted:
        hist = histograms.get(feature)
        current = mc.report_bins(hist, "current")
        if current is None:
            out.append({"name": feature, "svg": "", "source": note or "no bins recorded"})
            continue
        reference = mc.profile_bins((profile.get("features") or {}).get(feature))
        source = "reference profile"
        if reference is None or reference.kind != current.kind:
            reference, source = mc.report_bins(hist, "reference"), "reference sample"
        svg = mc.overlay_svg(feature, reference, current) if reference is not None else ""
        out.append({"name": feature, "svg": svg, "source": source})
    return out


def current_histograms(registry: Registry, run: MonitorRun) -> dict[str, Any]:
    """The binned shares of ``run``'s window, from the prediction log: what ``shipyard monitor
    report`` computes over the same window (nothing is recorded, no alert is evaluated)."""
    from shipyard.monitoring.run import run_monitor
    from shipyard.predlog.store import PredictionStore, default_url

    settings = registry.settings
    store = PredictionStore(settings.predlog_url or default_url(settings))
    since = run.window_start or datetime.fromtimestamp(0, UTC)  # from the first logged row
    try:
        result = run_monitor(
            registry, store, run.model, version=run.version, since=since,
            until=run.window_end, record=False, alerts=False,
        )  # fmt: skip
    finally:
        store.dispose()
    return dict(result.histograms)
