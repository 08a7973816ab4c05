"""Training: from a data set and a short config to a registered, validated version.

``config`` reads the YAML config; ``data`` reads and checks the rows (files, SQL, or logged
predictions joined with their feedback); ``pipeline`` holds the model families (one scikit-learn
Pipeline each); ``evaluate`` splits and cross-validates; ``automl`` searches families and
hyper-parameters with Optuna; ``gates`` judges the loaded version (``load_gate`` through a local
HTTP server); ``run`` joins them in :func:`train`; ``loop`` is the closed loop's retrain step.
"""

from __future__ import annotations

from shipyard.training.config import TrainConfig, load_config
from shipyard.training.gates import GateReport, GateResult
from shipyard.training.loop import LoopResult, RetrainPolicy, load_policy, run_loop_once
from shipyard.training.run import TrainResult, train

__all__ = [
    "GateReport",
    "GateResult",
    "LoopResult",
    "RetrainPolicy",
    "TrainConfig",
    "TrainResult",
    "load_config",
    "load_policy",
    "run_loop_once",
    "train",
]
