"""The closed loop's retrain step: alert or schedule -> retrain -> gates -> canary rollout.

A :class:`RetrainPolicy` names a model, its training config, what triggers a retrain (alerts of
chosen kinds recorded in the registry's ``alert_events`` since the loop last looked, and/or a
schedule interval), and the endpoint whose canary rollout a validated candidate starts.
:func:`run_loop_once` is one pass, meant for cron or CI (``shipyard pipeline run``)::

    model: churn
    train: train.yaml            # relative to this file; its data is usually
                                 # {source: predictions, model: churn, since: 7d}
    endpoint: churn              # default: the model's name
    trigger:
      alerts: [drift, performance]   # alert kinds (the figure's family); [] for none
      every: 7d                  # retrain at least this often, alerts or not (optional)
    rollout: canary              # or none: register the candidate only
    plan: {steps: [25, 100], min_bake: 60s}   # the canary's rollout plan (optional)

One pass runs once across replicas: it holds the registry lease ``pipeline:MODEL`` while it
works. Each step is an audit entry on subject ``pipeline:MODEL`` (``pipeline.trigger``,
``pipeline.train``, ``pipeline.rollout``, and ``pipeline.run`` last, with the outcome; the last
``pipeline.run`` is where the next pass starts looking for alerts) and a notification through
the alert dispatcher (the log channel by default).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ConfigError, ConflictError, NotFoundError, ShipyardError
from shipyard.training._readers import only, text

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.monitoring.alerts.dispatcher import AlertDispatcher
    from shipyard.registry.client import Registry

__all__ = ["ALERT_KINDS", "LoopResult", "RetrainPolicy", "load_policy", "run_loop_once"]

ALERT_KINDS = ("drift", "performance", "quality", "attribution")
LEASE_TTL = 6 * 3600.0  # longer than any training run; released as soon as the pass ends


@dataclass(frozen=True)
class RetrainPolicy:
    model: str
    train_config: Path
    endpoint: str = ""
    """The endpoint the candidate is rolled out on (default: the model's name)."""
    alerts: tuple[str, ...] = ("drift", "performance")
    """Alert kinds that trigger a retrain: the family of the alert's figure (``drift.share``)."""
    every: float | None = None
    """Retrain at least every so many seconds, whatever the alerts say."""
    rollout: str = "canary"
    """``canary``: start a canary rollout of a validated candidate; ``none``: register only."""
    plan: Mapping[str, Any] | None = None
    """The canary's rollout plan, as ``shipyard rollout start --plan`` reads it (default: the
    default plan)."""

    def __post_init__(self) -> None:
        if not self.endpoint:
            object.__setattr__(self, "endpoint", self.model)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train_config"] = str(self.train_config)
        data["alerts"] = list(self.alerts)
        data["plan"] = None if self.plan is None else dict(self.plan)
        return data


@dataclass(frozen=True)
class LoopResult:
    """What one pass did. ``status``: ``idle`` (nothing triggered), ``busy`` (another replica
    holds the lease), ``failed`` (training could not run: ``reasons``), ``rejected`` (a gate
    failed: ``reasons``), ``candidate`` (validated, not rolled out: ``reasons`` say why) or
    ``rolling_out`` (a canary rollout started: ``rollout_id``)."""

    status: str
    model: str
    triggers: tuple[str, ...] = ()
    version: str | None = None
    reasons: tuple[str, ...] = ()
    rollout_id: int | None = None
    steps: tuple[str, ...] = ()
    training: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """False when the pass should fail a CI job: training failed or a gate rejected."""
        return self.status not in ("failed", "rejected")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.ok,
            "model": self.model,
            "triggers": list(self.triggers),
            "version": self.version,
            "reasons": list(self.reasons),
            "rollout_id": self.rollout_id,
            "steps": list(self.steps),
            "training": self.training,
        }


def load_policy(source: str | Path | Mapping[str, Any]) -> RetrainPolicy:
    """Read a policy from a YAML file or a mapping; ``train`` is relative to the file."""
    if isinstance(source, Mapping):
        return _build(dict(source), Path.cwd())
    path = Path(source)
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read retraining policy {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}; fix the file") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a retraining policy is a mapping with model, train, trigger")
    try:
        return _build(raw, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _build(raw: dict[str, Any], base: Path) -> RetrainPolicy:
    from shipyard.monitoring.alerts.rules import parse_duration
    from shipyard.registry.refs import check_name

    only(raw, "", {"model", "train", "endpoint", "trigger", "rollout", "plan"})
    for key in ("model", "train"):
        if key not in raw:
            raise ConfigError(f"missing required field {key!r} (model: NAME, train: train.yaml)")
    model = text(raw, "model", "")
    endpoint = raw.get("endpoint") or model
    for where, name in (("model", model), ("endpoint", endpoint)):
        try:
            check_name(str(name), where)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    train_path = Path(text(raw, "train", "")).expanduser()
    train_path = train_path if train_path.is_absolute() else base / train_path
    trigger = raw.get("trigger", {}) or {}
    if not isinstance(trigger, dict):
        raise ConfigError("trigger: must be a mapping such as {alerts: [drift], every: 7d}")
    only(trigger, "trigger", {"alerts", "every"})
    alerts = trigger.get("alerts", ["drift", "performance"])
    if not isinstance(alerts, list) or not all(a in ALERT_KINDS for a in alerts):
        raise ConfigError(
            f"trigger.alerts: give a list drawn from {', '.join(ALERT_KINDS)}, got {alerts!r}"
        )
    every = trigger.get("every")
    seconds = None if every is None else parse_duration(every, "trigger.every")
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"trigger.every: must be a positive duration, got {every!r}")
    if not alerts and seconds is None:
        raise ConfigError("trigger: give alerts, every or both, or the loop never retrains")
    rollout = raw.get("rollout", "canary")
    if rollout not in ("canary", "none"):
        raise ConfigError(f"rollout: {rollout!r} is not canary or none")
    plan = raw.get("plan")
    if plan is not None:
        _check_plan(plan)
    return RetrainPolicy(
        model, train_path, str(endpoint), tuple(alerts), seconds, str(rollout), plan
    )


def _check_plan(plan: Any) -> None:
    try:
        from shipyard.rollouts.plan import RolloutPlan
    except ImportError:  # a build without rollouts: the plan is never used
        return
    try:
        RolloutPlan.from_dict(plan)
    except ShipyardError as exc:
        raise ConfigError(str(exc)) from None  # it names the field: plan.steps, ...


def run_loop_once(
    registry: Registry,
    policy: RetrainPolicy,
    *,
    dispatcher: AlertDispatcher | None = None,
    frame: pd.DataFrame | None = None,
    holder: str | None = None,
    now: float | None = None,
) -> LoopResult:
    """One pass of the loop for ``policy`` (see the module doc). ``frame`` replaces the training
    config's data (tests, notebooks); ``holder`` names this replica for the lease."""
    from shipyard.registry import leases

    holder = holder or f"{socket.gethostname()}:{os.getpid()}"
    lease = f"pipeline:{policy.model}"
    if not leases.try_acquire(registry.db, lease, holder, LEASE_TTL):
        return LoopResult("busy", policy.model, reasons=(f"another replica holds {lease}",))
    try:
        return _Pass(registry, policy, dispatcher, time.time() if now is None else now).run(frame)
    finally:
        leases.release(registry.db, lease, holder)


class _Pass:
    def __init__(
        self,
        registry: Registry,
        policy: RetrainPolicy,
        dispatcher: AlertDispatcher | None,
        now: float,
    ) -> None:
        from shipyard.monitoring.alerts.channels import LogChannel
        from shipyard.monitoring.alerts.dispatcher import AlertDispatcher

        self.registry = registry
        self.policy = policy
        self.dispatcher = dispatcher or AlertDispatcher({"log": LogChannel()})
        self.now = now
        self.subject = f"pipeline:{policy.model}"
        self.steps: list[str] = []

    def run(self, frame: pd.DataFrame | None) -> LoopResult:
        last_look, last_train = self._last_runs()
        triggers = self._triggers(last_look, last_train)
        if not triggers:
            return self._finish(LoopResult("idle", self.policy.model))
        self._step("trigger", {"triggers": triggers}, f"retraining: {'; '.join(triggers)}")
        result = self._train(frame, tuple(triggers))
        if result.status != "candidate" or self.policy.rollout == "none":
            return self._finish(result)
        return self._finish(self._rollout(result))

    # -- when ----------------------------------------------------------------------------------

    def _last_runs(self) -> tuple[datetime | None, datetime | None]:
        """When the loop last looked at the alerts, and when it last retrained."""
        last_look = last_train = None
        for entry in self.registry.store.audit_entries(self.subject):
            if entry.action != "pipeline.run":
                continue
            last_look = entry.at
            if isinstance(entry.after, dict) and entry.after.get("status") not in ("idle", "busy"):
                last_train = entry.at
        return last_look, last_train

    def _triggers(self, last_look: datetime | None, last_train: datetime | None) -> list[str]:
        from shipyard.monitoring.store import MonitorStore

        triggers = []
        if self.policy.alerts:
            events = MonitorStore(self.registry.db).events(self.policy.model, since=last_look)
            for event in events:
                kind = str(event.data.get("figure", "")).split(".", 1)[0]
                if event.state == "firing" and kind in self.policy.alerts:
                    triggers.append(f"alert {event.rule} ({event.data.get('figure')}) firing")
        every = self.policy.every
        if every is not None and (last_train is None or self.now - last_train.timestamp() >= every):
            since = "never" if last_train is None else last_train.isoformat(timespec="seconds")
            triggers.append(f"schedule: every {every:g} s, last retrained {since}")
        return triggers

    # -- what ----------------------------------------------------------------------------------

    def _train(self, frame: pd.DataFrame | None, triggers: tuple[str, ...]) -> LoopResult:
        from shipyard.training.config import load_config
        from shipyard.training.run import train

        model = self.policy.model
        try:
            config = load_config(self.policy.train_config).replace(model=model)
            trained = train(config, self.registry, frame=frame)
        except ShipyardError as exc:
            reason = f"training failed: {exc}"
            self._step("train", {"error": str(exc)}, reason, severity="critical")
            return LoopResult("failed", model, triggers, reasons=(reason,))
        ref = trained.version.ref
        figures = {
            "version": ref,
            "passed": trained.passed,
            "family": trained.family,
            "metric": trained.metric,
            "holdout": trained.holdout,
            "reasons": trained.gates.reasons,
        }
        summary = trained.to_dict()
        if not trained.passed:
            reasons = tuple(trained.gates.reasons)
            message = f"{ref} rejected: {'; '.join(reasons)}"
            self._step("train", figures, message, severity="warning", value=trained.holdout)
            return LoopResult("rejected", model, triggers, ref, reasons, training=summary)
        message = f"{ref} passed its gates ({trained.metric} {trained.holdout:.4f})"
        self._step("train", figures, message, value=trained.holdout)
        return LoopResult("candidate", model, triggers, ref, training=summary)

    def _rollout(self, result: LoopResult) -> LoopResult:
        try:
            from shipyard.rollouts.controller import start_rollout
            from shipyard.rollouts.plan import RolloutPlan
        except ImportError:  # a build without rollouts: the candidate is the result
            return dataclasses.replace(
                result, reasons=("rollouts are not available; the candidate is registered",)
            )
        assert result.version is not None
        version = self.registry.get_version(result.version)
        endpoint = self.policy.endpoint
        plan = None if self.policy.plan is None else RolloutPlan.from_dict(self.policy.plan)
        try:
            rollout = start_rollout(
                self.registry,
                endpoint,
                version.version,
                mode="canary",
                plan=plan,
                actor=self.registry.actor,
            )
        except (NotFoundError, ConflictError) as exc:
            reason = f"no canary rollout on endpoint {endpoint!r}: {exc}"
            self._step("rollout", {"error": str(exc)}, reason, severity="warning")
            return dataclasses.replace(result, reasons=(reason,))
        figures = {"rollout": rollout.id, "endpoint": endpoint, "weight": rollout.state.weight}
        message = (
            f"canary rollout #{rollout.id} of {version.ref} on {endpoint} started at "
            f"{rollout.state.weight:g}%"
        )
        self._step("rollout", figures, message, value=rollout.state.weight)
        return dataclasses.replace(result, status="rolling_out", rollout_id=rollout.id)

    # -- telling -------------------------------------------------------------------------------

    def _finish(self, result: LoopResult) -> LoopResult:
        result = dataclasses.replace(result, steps=(*self.steps, "run"))
        after = {k: v for k, v in result.to_dict().items() if k != "training"}
        self.registry.store.record_event(
            "pipeline.run", self.subject, None, after, self.registry.actor
        )
        if result.status != "idle":
            severity = "info" if result.ok else "warning"
            detail = "; ".join(result.reasons)
            message = f"pass ended: {result.status}" + (f": {detail}" if detail else "")
            self._notify("run", message, severity, None)
        return result

    def _step(
        self,
        step: str,
        figures: dict[str, Any],
        message: str,
        *,
        severity: str = "info",
        value: float | None = None,
    ) -> None:
        self.steps.append(step)
        after = {**figures, "message": message}
        self.registry.store.record_event(
            f"pipeline.{step}", self.subject, None, after, self.registry.actor
        )
        self._notify(step, message, severity, value)

    def _notify(self, step: str, message: str, severity: str, value: float | None) -> None:
        from shipyard.monitoring.alerts.events import AlertEvent

        now = time.time()
        event = AlertEvent(
            id=f"pipeline-{self.policy.model}-{step}-{int(now * 1000)}",
            state="firing",
            rule=self.subject,
            figure=f"pipeline.{step}",
            value=float("nan") if value is None else float(value),
            op=step,
            threshold=0.0,
            severity=severity,
            time=now,
            since=self.now,
            labels={"model": self.policy.model, "endpoint": self.policy.endpoint, "step": step},
            channels=tuple(self.dispatcher.channels),
            description=message,
        )
        self.dispatcher.dispatch([event])
