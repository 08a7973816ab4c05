"""Monitoring: how live data moves away from the data a version was trained on.

::

    stats/          the pure two-sample statistics
    drift.py        drift_report(): one test per feature, noise and effect floors -> DriftReport
    verdict.py      the drift verdict shared by the exact and the summary paths
    sketch.py       QuantileSketch: a mergeable quantile sketch with a rank-error bound
    summaries.py    summarise(), Summary.merge(): mergeable chunk summaries (bins, sketch, counts)
    summary_drift.py drift_from_summaries(): the report from two summaries, approximate where binned
    profile_summary.py summary_from_profile(): a stored reference profile as a Summary
    quality.py      data_quality(): missing, out-of-range, new categories, schema, rejected (pure)
    performance.py  performance_report(): metrics on labelled rows against registration (pure)
    alerts/         rules, the pure evaluator, channels and the dispatcher
    analysis.py     analyse(): one window's drift, quality, performance and figures
    store.py        MonitorStore: alert rules, alert events and monitor runs in the registry
    run.py          run_monitor(): one pass over a model's new logged rows -> MonitorResult
    schedule.py     monitor_loop(): the pass on an interval inside the server
    html.py         render_html(): the self-contained HTML report

The pure parts import eagerly; ``run_monitor``, ``MonitorResult``, ``MonitorStore``,
``monitor_loop`` and ``render_html`` load on first use (they bring the database layer).
"""

from typing import TYPE_CHECKING, Any

from shipyard.monitoring.drift import DriftOptions, FeatureOptions, drift_report
from shipyard.monitoring.methods import METHODS, default_method
from shipyard.monitoring.performance import PerformanceReport, performance_report
from shipyard.monitoring.profile_summary import summary_from_profile
from shipyard.monitoring.quality import FeatureQuality, QualityReport, data_quality
from shipyard.monitoring.report import DriftReport, FeatureDrift, MissingShift
from shipyard.monitoring.summaries import Summary, summarise
from shipyard.monitoring.summary_drift import drift_from_summaries

if TYPE_CHECKING:
    from shipyard.monitoring.html import render_html
    from shipyard.monitoring.run import MonitorResult, run_monitor
    from shipyard.monitoring.schedule import monitor_loop
    from shipyard.monitoring.store import MonitorStore

__all__ = [
    "METHODS",
    "DriftOptions",
    "DriftReport",
    "FeatureDrift",
    "FeatureOptions",
    "FeatureQuality",
    "MissingShift",
    "MonitorResult",
    "MonitorStore",
    "PerformanceReport",
    "QualityReport",
    "Summary",
    "data_quality",
    "default_method",
    "drift_from_summaries",
    "drift_report",
    "monitor_loop",
    "performance_report",
    "render_html",
    "run_monitor",
    "summarise",
    "summary_from_profile",
]

_LAZY = {
    "MonitorResult": "shipyard.monitoring.run",
    "run_monitor": "shipyard.monitoring.run",
    "MonitorStore": "shipyard.monitoring.store",
    "monitor_loop": "shipyard.monitoring.schedule",
    "render_html": "shipyard.monitoring.html",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shipyard.monitoring' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
