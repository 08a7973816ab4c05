"""Alerts: rules on monitored figures, a pure evaluator, channels, and the dispatcher.

A rule (:mod:`.rules`) watches one figure (:mod:`.figures`); :func:`evaluate` turns the rule,
its stored state and a new observation into a new state and events (:mod:`.evaluator`); the
:class:`AlertDispatcher` sends the events to the rule's channels (:mod:`.channels`) and returns
records of what was delivered where.
"""

from shipyard.monitoring.alerts.channels import (
    CHANNEL_TYPES,
    AlertChannel,
    ChannelError,
    build_channel,
    build_channels,
)
from shipyard.monitoring.alerts.dispatcher import AlertDispatcher, AlertRecord
from shipyard.monitoring.alerts.evaluator import (
    Evaluation,
    Observation,
    RuleState,
    evaluate,
    evaluate_rules,
)
from shipyard.monitoring.alerts.events import AlertEvent
from shipyard.monitoring.alerts.figures import FIGURE_FAMILIES, check_figure, drift_figures
from shipyard.monitoring.alerts.rules import (
    AlertConfig,
    AlertRule,
    Window,
    load_alert_config,
    parse_alert_config,
    parse_duration,
)

__all__ = [
    "CHANNEL_TYPES",
    "FIGURE_FAMILIES",
    "AlertChannel",
    "AlertConfig",
    "AlertDispatcher",
    "AlertEvent",
    "AlertRecord",
    "AlertRule",
    "ChannelError",
    "Evaluation",
    "Observation",
    "RuleState",
    "Window",
    "build_channel",
    "build_channels",
    "check_figure",
    "drift_figures",
    "evaluate",
    "evaluate_rules",
    "load_alert_config",
    "parse_alert_config",
    "parse_duration",
]
