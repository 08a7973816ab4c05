"""Training: from a data set and a short config to a registered, validated version.

``config`` reads the YAML config; ``data`` reads and checks the rows; ``pipeline`` holds the model
families (one scikit-learn Pipeline each); ``evaluate`` splits and cross-validates; ``automl``
searches families and hyper-parameters with Optuna; ``gates`` judges the loaded version; ``run``
joins them in :func:`train`.
"""

from __future__ import annotations

from shipyard.training.config import TrainConfig, load_config
from shipyard.training.gates import GateReport, GateResult
from shipyard.training.run import TrainResult, train

__all__ = ["GateReport", "GateResult", "TrainConfig", "TrainResult", "load_config", "train"]
