"""The rollout controller: observe each running rollout, let the state machine decide, apply.

Inside a server, every ``interval`` seconds (5 by default) and for each active rollout of an
endpoint the server serves, the controller

1. takes the lease ``rollout:{endpoint}`` (so with many replicas one acts; the others skip);
2. builds the :class:`~shipyard.rollouts.observation.Observation`: requests, errors (5xx) and
   p99 latency per variant from the server's own counters (:class:`VariantStats`), made
   cumulative across restarts by adding the counters persisted with the state; the online metric
   from a :class:`MetricSource` (by default the prediction log joined with feedback);
3. checks the split (sample-ratio mismatch, chi-squared on the assignment counts of the current
   step, at ``srm_alpha``): a mismatch pauses the rollout, since its comparison is unsound;
4. calls :func:`~shipyard.rollouts.machine.evaluate` and applies the decision through
   :class:`RolloutStore` (new weights; promotion moves ``champion``; rollback sends all traffic
   back to the baseline), audited, and sends every decision that changes something through the
   alert channels (a log channel by default). Holding evaluations are persisted unaudited.

Operators act through :func:`start_rollout` and :func:`act` (promote, rollback, pause, resume),
which the CLI and the management API share; a running server picks the change up on its next
poll of the endpoint.

With several replicas the lease holder sees only its own traffic: the figures are one replica's
sample of the whole, which keeps the split and the error rates unbiased.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.errors import ConflictError, InvalidInputError
from shipyard.monitoring.alerts import AlertDispatcher, AlertEvent
from shipyard.monitoring.alerts.channels import LogChannel
from shipyard.registry.endpoints import MAIN, EndpointStore
from shipyard.registry.leases import try_acquire
from shipyard.rollouts import machine
from shipyard.rollouts.machine import Action, Decision, Transition
from shipyard.rollouts.observation import Observation, VariantSnapshot
from shipyard.rollouts.plan import MetricSpec, RolloutPlan
from shipyard.rollouts.stats.srm import sample_ratio_mismatch
from shipyard.rollouts.stats.summary import BinomialSummary, MeanSummary
from shipyard.rollouts.store import Mode, Rollout, RolloutStore

if TYPE_CHECKING:
    from shipyard.predlog import PredictionStore
    from shipyard.registry.client import Registry
    from shipyard.serving.app import ServingApp
    from shipyard.serving.hosts import ModelHost

__all__ = [
    "FeedbackMetric",
    "MetricSource",
    "RolloutController",
    "act",
    "metric_summaries",
    "start_rollout",
]

log = logging.getLogger("shipyard.rollouts")

DEFAULT_INTERVAL = 5.0
SRM_ALPHA = 0.001  # a broken split is a bug to find, not a hunch: flag it only when sure
SRM_MIN_REQUESTS = 100
Summary = BinomialSummary | MeanSummary
_SEVERITY = {"rollback": "critical", "stop": "warning", "pause": "warning"}
_BINARY_MATCH = ("accuracy", "correct", "correctness")
_ERRORS = {"abs_error": 1, "absolute_error": 1, "squared_error": 2}  # the error's power


class MetricSource(Protocol):
    """Where the online metric comes from: per variant, sufficient statistics since the
    rollout started (an empty mapping while there is no data)."""

    def summaries(self, rollout: Rollout) -> Mapping[str, Summary]: ...


def metric_summaries(
    spec: MetricSpec, variants: Sequence[Any], labels: Sequence[Any], actuals: Sequence[Any]
) -> dict[str, Summary]:
    """Per variant, the metric over the rows that have an actual (pure).

    ``accuracy``/``correct``/``correctness``: the label equals the actual (binary);
    ``abs_error``/``absolute_error``/``squared_error``: the error of a numeric label
    (continuous); any other name: the actual itself is the outcome (a conversion, a revenue)."""
    values: dict[str, list[float]] = {}
    for variant, label, actual in zip(variants, labels, actuals, strict=True):
        if actual is None or (isinstance(actual, float) and math.isnan(actual)):
            continue
        if spec.name in _BINARY_MATCH:
            value = float(label == actual or str(label) == str(actual))
        elif spec.name in _ERRORS:
            value = abs(float(label) - float(actual)) ** _ERRORS[spec.name]
        else:
            value = float(actual)
        values.setdefault(str(variant), []).append(value)
    out: dict[str, Summary] = {}
    for variant, seen in values.items():
        if spec.kind == "binary":
            out[variant] = BinomialSummary(sum(1 for v in seen if v), len(seen))
        else:
            out[variant] = MeanSummary.from_values(seen)
    return out


class FeedbackMetric:
    """The metric from the prediction log joined with feedback (``Window.actuals``), rows
    logged since the rollout started. Without feedback support in the log, no metric."""

    def __init__(self, store: PredictionStore) -> None:
        self.store = store

    def summaries(self, rollout: Rollout) -> Mapping[str, Summary]:
        spec = rollout.plan.metric
        if spec is None:
            return {}
        from shipyard.predlog import read_window

        window = read_window(self.store, rollout.model, start=rollout.created_at)
        actuals = getattr(window, "actuals", None)
        if actuals is None or not len(window):
            return {}
        return metric_summaries(
            spec, list(window.meta["variant"]), list(window.labels), list(actuals)
        )


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RolloutController:
    """Drives every active rollout of the endpoints one server serves."""

    def __init__(
        self,
        registry: Registry,
        *,
        interval: float = DEFAULT_INTERVAL,
        metric: MetricSource | None = None,
        dispatcher: AlertDispatcher | None = None,
        holder: str | None = None,
        srm_alpha: float = SRM_ALPHA,
        actor: str = "rollout-controller",
    ) -> None:
        if not interval > 0:
            raise InvalidInputError(f"the rollout interval must be > 0 seconds, got {interval}")
        self.registry = registry
        self.store = RolloutStore(registry.db)
        self.interval = interval
        self.metric = metric
        self.dispatcher = dispatcher or AlertDispatcher({"log": LogChannel()})
        self.holder = holder or _holder()
        self.srm_alpha = srm_alpha
        self.actor = actor
        self.decisions: list[tuple[int, Decision]] = []  # what this controller decided, newest last
        # per rollout: this server's counters at its first look, and the persisted ones then
        self._first: dict[int, tuple[dict[str, tuple[int, int]], dict[str, Any]]] = {}

    async def run(self, app: ServingApp) -> None:
        """Evaluate every ``interval`` seconds until cancelled (a server's background task)."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick(app.hosts)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad evaluation must not stop the next one
                log.exception("rollout controller: evaluation failed")

    async def tick(self, hosts: Mapping[str, ModelHost]) -> list[Decision]:
        """One evaluation of each active rollout this server serves and holds the lease of."""
        rollouts = await asyncio.to_thread(self.store.list, active_only=True)
        decisions = []
        for rollout in rollouts:
            host = hosts.get(rollout.endpoint)
            if host is None:
                continue
            lease = f"rollout:{rollout.endpoint}"
            ttl = max(3 * self.interval, 2.0)
            if not await asyncio.to_thread(try_acquire, self.registry.db, lease, self.holder, ttl):
                continue
            decision = await self._evaluate(rollout, host)
            if decision is not None:
                decisions.append(decision)
        return decisions

    async def _evaluate(self, rollout: Rollout, host: ModelHost) -> Decision | None:
        observed = self._counters(rollout, host)
        metric: Mapping[str, Summary] = {}
        if self.metric is not None and rollout.plan.metric is not None:
            metric = await asyncio.to_thread(self.metric.summaries, rollout)
        obs = self._observation(rollout, host, observed, metric)
        transition = machine.evaluate(rollout.plan, rollout.state, obs)
        srm = self._srm(rollout, observed)
        if (
            srm is not None
            and transition.decision.action != Action.ROLLBACK  # harm still rolls back at once
            and rollout.state.phase == "progressing"
        ):  # a broken split makes any other verdict unsound: stop and say so
            seen = transition.state  # keep the evaluation's evidence, not its step
            kept = replace(
                rollout.state,
                evaluations=seen.evaluations,
                tests=seen.tests,
                metric_tau2=seen.metric_tau2,
            )
            transition = machine.pause(kept, srm)
        decision = transition.decision
        # Every evaluation's figures, holds included (the console shows the guardrails' now).
        observed["last_evaluation"] = {**decision.to_dict(), "at": time.time()}
        if decision.action == Action.ADVANCE:
            observed["step_started"] = time.time()
            observed["step_counts"] = {v: c[0] for v, c in observed["counts"].items()}
        try:
            if decision.action == Action.HOLD and decision.weight == rollout.state.weight:
                await asyncio.to_thread(self.store.record, rollout, transition.state, observed)
                return decision
            updated = await asyncio.to_thread(
                self.store.apply, rollout, transition, self.actor, observed
            )
        except ConflictError as exc:  # an operator acted meanwhile: read it again next time
            log.info("rollout #%d: %s", rollout.id, exc)
            return None
        self.decisions.append((rollout.id, decision))
        log.info(
            "rollout #%d on %s: %s at %g%%: %s",
            rollout.id, rollout.endpoint, decision.action.value, decision.weight,
            "; ".join(decision.reasons),
        )  # fmt: skip
        await asyncio.to_thread(notify, self.dispatcher, updated, decision)
        return decision

    def _counters(self, rollout: Rollout, host: ModelHost) -> dict[str, Any]:
        """The rollout's cumulative [requests, errors] per variant: what was persisted when this
        server first looked at it, plus what this server counted since."""
        names = (MAIN, rollout.candidate_variant)
        now = {n: (host.stats_for(n).requests, host.stats_for(n).errors) for n in names}
        first = self._first.get(rollout.id)
        if first is None:
            persisted = rollout.observed.get("counts", {})
            first = self._first[rollout.id] = (now, {n: persisted.get(n, (0, 0)) for n in names})
            for n in names:  # latencies of an earlier rollout or policy must not count
                host.stats_for(n).latencies.clear()
        local, base = first
        observed = dict(rollout.observed)
        observed["counts"] = {
            n: [int(base[n][i]) + now[n][i] - local[n][i] for i in (0, 1)] for n in names
        }
        shadow = host.stats.get(rollout.candidate_variant) if rollout.mode == "shadow" else None
        if shadow is not None and shadow.rows:
            observed["shadow"] = {
                "compared": shadow.compared,
                "agreement": shadow.agreed / shadow.rows,
                "mean_abs_difference": shadow.abs_difference / shadow.rows,
                "dropped": host.shadows.dropped,
            }
        return observed

    def _observation(
        self,
        rollout: Rollout,
        host: ModelHost,
        observed: dict[str, Any],
        metric: Mapping[str, Summary],
    ) -> Observation:
        snaps = {}
        for n in (MAIN, rollout.candidate_variant):
            requests, errors = observed["counts"][n]
            snaps[n] = VariantSnapshot(
                requests=requests,
                errors=errors,
                latency_p99_ms=host.stats_for(n).quantiles()[1],
                metric=metric.get(n),
            )
        started = observed.get("step_started", rollout.created_at.timestamp())
        return Observation(
            baseline=snaps[MAIN],
            candidate=snaps[rollout.candidate_variant],
            elapsed_seconds=max(time.time() - float(started), 0.0),
        )

    def _srm(self, rollout: Rollout, observed: dict[str, Any]) -> str | None:
        """A reason to pause when this step's assignment counts break its weights."""
        if rollout.mode == "shadow":
            return None
        weight = rollout.state.weight / 100.0
        if not 0.0 < weight < 1.0:
            return None
        start = observed.get("step_counts", {})
        counts = [
            observed["counts"][n][0] - int(start.get(n, 0))
            for n in (MAIN, rollout.candidate_variant)
        ]
        if sum(counts) < SRM_MIN_REQUESTS or min(counts) < 0:
            return None
        result = sample_ratio_mismatch(counts, [1.0 - weight, weight], alpha=self.srm_alpha)
        if not result.mismatch:
            return None
        shares = ", ".join(f"{s:.1%}" for s in result.observed_shares)
        return (
            f"sample ratio mismatch: the split was {shares} of {sum(counts)} requests for "
            f"weights {1 - weight:.0%}/{weight:.0%} (p = {result.p_value:.2g}); the comparison "
            "is unsound until the routing is fixed"
        )


def notify(dispatcher: AlertDispatcher, rollout: Rollout, decision: Decision) -> None:
    """Send a rollout decision through every channel of ``dispatcher``."""
    now = time.time()
    action = decision.action.value
    event = AlertEvent(
        id=f"rollout-{rollout.id}-{action}-{rollout.state.evaluations}-{int(now * 1000)}",
        state="firing",
        rule=f"rollout:{rollout.endpoint}",
        figure="rollout.weight",
        value=decision.weight,
        op=action,
        threshold=decision.weight,
        severity=_SEVERITY.get(action, "info"),
        time=now,
        since=rollout.created_at.timestamp(),
        labels={
            "endpoint": rollout.endpoint,
            "model": rollout.model,
            "candidate": str(rollout.candidate_version),
            "status": rollout.status,
        },
        channels=tuple(dispatcher.channels),
        description="; ".join(decision.reasons),
    )
    dispatcher.dispatch([event])


# -- what operators do (the CLI and the management API) ---------------------------------------


def start_rollout(
    registry: Registry,
    endpoint: str,
    version: int,
    *,
    mode: Mode = "canary",
    share: float | None = None,
    key: str | None = None,
    plan: RolloutPlan | None = None,
    actor: str | None = None,
) -> Rollout:
    """Start rolling ``version`` out on ``endpoint``.

    ``share`` (percent): for ``canary`` the first step's weight (the plan's later steps
    follow); for ``ab`` the candidate's fixed share of users (default 50) until the decision;
    for ``shadow`` the share of requests mirrored (default 100). ``key`` (``ab`` only) is
    ``header:NAME`` or ``field:NAME``."""
    plan = plan or RolloutPlan()
    if share is not None and not 0.0 < share < 100.0 and not (mode == "shadow" and share == 100):
        raise InvalidInputError(f"the share must be a percentage in (0, 100), got {share:g}")
    if mode == "ab" and key is None:
        raise InvalidInputError(
            "an A/B rollout needs --key header:NAME or --key field:NAME (what keeps a user's "
            "variant sticky)"
        )
    if mode != "ab" and key is not None:
        raise InvalidInputError("--key applies to A/B rollouts (--ab) only")
    if mode == "canary" and share is not None:
        steps = (share, *(s for s in plan.steps if s > share))
        plan = replace(plan, steps=steps if len(steps) > 1 else (share, 100.0))
    elif mode == "ab":
        plan = replace(plan, steps=(50.0 if share is None else share, 100.0))
    elif mode == "shadow":
        plan = replace(plan, steps=plan.steps[-2:])
    current = EndpointStore(registry.db).get(endpoint)
    baseline = registry.get_version(current.main.ref).version
    return RolloutStore(registry.db).create(
        endpoint,
        version,
        mode,
        plan,
        machine.start(plan),
        actor or registry.actor,
        baseline_version=baseline,
        key=key,
        shadow_share=(100.0 if share is None else share) / 100.0,
    )


_ATTEMPTS = 20
_ACTIONS = {
    "promote": machine.promote,
    "rollback": machine.rollback,
    "pause": machine.pause,
    "resume": machine.resume,
}


def act(
    registry: Registry,
    endpoint: str,
    action: str,
    *,
    actor: str | None = None,
    dispatcher: AlertDispatcher | None = None,
) -> Rollout:
    """An operator's ``promote``, ``rollback``, ``pause`` or ``resume`` of the endpoint's
    active rollout, applied, audited and notified."""
    step = _ACTIONS.get(action)
    if step is None:
        raise InvalidInputError(f"unknown action {action!r}; use one of {', '.join(_ACTIONS)}")
    store = RolloutStore(registry.db)
    who = actor or registry.actor
    for attempt in range(_ATTEMPTS):
        rollout = store.active(endpoint)
        if rollout is None:
            latest = store.latest(endpoint)  # NotFoundError when there never was one
            raise ConflictError(
                f"endpoint {endpoint!r} has no active rollout (the last one, #{latest.id}, is "
                f"{latest.status.replace('_', ' ')}); start one with shipyard rollout start"
            )
        transition: Transition = step(rollout.state, f"{action} by {who}")
        try:
            updated = store.apply(rollout, transition, who)
        except ConflictError:  # a controller recorded an evaluation meanwhile: read it again
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        notify(dispatcher or AlertDispatcher({"log": LogChannel()}), updated, transition.decision)
        return updated
    raise AssertionError("unreachable")  # pragma: no cover
