"""The guardrail checks of one evaluation: each failure is a reason to roll back at once.

Error rates are checked sequentially and without state: at every look the always-valid
(normal-mixture) interval of the candidate's error rate, or of its increase over the baseline,
must not lie wholly above the limit. Such an interval covers the truth at all looks at once
with probability 1 - alpha, so checking it at every evaluation keeps false rollbacks below
alpha. Rates are smoothed ((errors + 1) / (requests + 2)) for the variance, so a first request
that fails is not infinitely strong evidence.
"""

from __future__ import annotations

from shipyard.rollouts.observation import Observation, VariantSnapshot
from shipyard.rollouts.plan import Guardrails
from shipyard.rollouts.stats.msprt import confidence_half_width

__all__ = ["GuardrailCheck", "check_guardrails"]

# tau for error rates: an increase the size of the limit, and never below one point
_MIN_ERROR_TAU = 0.01


class GuardrailCheck:
    """Failures (human-readable) and the figures behind them."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.figures: dict[str, float] = {}


def _smoothed_variance(snapshot: VariantSnapshot) -> float:
    p = (snapshot.errors + 1.0) / (snapshot.requests + 2.0)
    return p * (1.0 - p) / snapshot.requests


def _half(variance: float, limit: float, alpha: float) -> float:
    tau = max(limit, _MIN_ERROR_TAU)
    return float(confidence_half_width(variance, tau * tau, alpha))


def check_guardrails(rails: Guardrails, obs: Observation) -> GuardrailCheck:
    """Every guardrail of ``rails`` against ``obs``; ``failures`` is empty when all hold."""
    check = GuardrailCheck()
    cand, base = obs.candidate, obs.baseline
    if rails.drift and cand.drift:
        check.failures.append("drift was detected on the candidate")
    if cand.requests < rails.min_requests:
        return check
    rate = cand.error_rate
    if rails.max_error_rate is not None:
        low = rate - _half(_smoothed_variance(cand), rails.max_error_rate, rails.alpha)
        check.figures["guardrail.error_rate.lower_bound"] = max(low, 0.0)
        if low > rails.max_error_rate:
            check.failures.append(
                f"error rate {rate:.2%} over {cand.requests} requests is above the limit "
                f"{rails.max_error_rate:.2%} (lower confidence bound {low:.2%})"
            )
    if rails.max_error_rate_increase is not None and base.requests >= rails.min_requests:
        increase = rate - base.error_rate
        variance = _smoothed_variance(cand) + _smoothed_variance(base)
        low = increase - _half(variance, rails.max_error_rate_increase, rails.alpha)
        check.figures["guardrail.error_rate_increase.lower_bound"] = low
        if low > rails.max_error_rate_increase:
            check.failures.append(
                f"error rate {rate:.2%} is {increase:.2%} above the baseline's "
                f"{base.error_rate:.2%}, more than the allowed {rails.max_error_rate_increase:.2%} "
                f"(lower confidence bound {low:.2%})"
            )
    p99 = cand.latency_p99_ms
    if p99 is not None and rails.max_p99_latency_ms is not None and p99 > rails.max_p99_latency_ms:
        check.failures.append(
            f"p99 latency {p99:.1f} ms is above the limit {rails.max_p99_latency_ms:.1f} ms"
        )
    base_p99 = base.latency_p99_ms
    if (
        p99 is not None
        and base_p99
        and rails.max_p99_latency_ratio is not None
        and base.requests >= rails.min_requests
        and p99 > rails.max_p99_latency_ratio * base_p99
    ):
        check.failures.append(
            f"p99 latency {p99:.1f} ms is {p99 / base_p99:.2f} times the baseline's "
            f"{base_p99:.1f} ms, above the allowed {rails.max_p99_latency_ratio:.2f}"
        )
    return check
