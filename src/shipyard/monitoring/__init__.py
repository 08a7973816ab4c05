"""Monitoring: how live data moves away from the data a version was trained on.

``stats/`` holds the pure two-sample statistics; :func:`drift_report` picks one per feature,
applies the noise and effect floors, and returns a :class:`DriftReport`.
"""

from shipyard.monitoring.drift import DriftOptions, FeatureOptions, drift_report
from shipyard.monitoring.methods import METHODS, default_method
from shipyard.monitoring.report import DriftReport, FeatureDrift, MissingShift

__all__ = [
    "METHODS",
    "DriftOptions",
    "DriftReport",
    "FeatureDrift",
    "FeatureOptions",
    "MissingShift",
    "default_method",
    "drift_report",
]
