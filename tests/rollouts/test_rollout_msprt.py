"""The mSPRT: its formula, its incremental and vectorised forms, and its state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats as st

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats import (
    BinomialSummary,
    MeanSummary,
    SequentialState,
    always_valid_p_values,
    confidence_sequence,
    mixture_log_lambda,
    msprt,
)


def test_rollout_msprt_matches_the_papers_formula_and_a_numeric_mixture() -> None:
    # Johari et al.: balanced arms, known sigma^2, n per arm
    sigma2, n, tau2, d = 2.0, 400, 0.05, 0.21
    paper = math.sqrt(2 * sigma2 / (2 * sigma2 + n * tau2)) * math.exp(
        n * n * tau2 * d * d / (4 * sigma2 * (2 * sigma2 + n * tau2))
    )
    v = 2 * sigma2 / n
    assert float(np.exp(mixture_log_lambda(d, v, tau2))) == pytest.approx(paper, rel=1e-12)
    # the same ratio as the integral of N(d; theta, V) over theta ~ N(0, tau2), over N(d; 0, V)
    theta = np.linspace(-3, 3, 200_001)
    mix = np.trapezoid(
        st.norm.pdf(d, theta, math.sqrt(v)) * st.norm.pdf(theta, 0, math.sqrt(tau2)), theta
    )
    assert paper == pytest.approx(mix / st.norm.pdf(d, 0, math.sqrt(v)), rel=1e-8)


def test_rollout_msprt_incremental_equals_vectorised() -> None:
    rng = np.random.default_rng(11)
    looks = 60
    xb = rng.binomial(50, 0.20, looks).cumsum()
    xc = rng.binomial(50, 0.23, looks).cumsum()
    n = 50 * np.arange(1, looks + 1)
    mb, mc = xb / n, xc / n
    d, v = mc - mb, (mb * (1 - mb) + mc * (1 - mc)) / n
    tau2 = 0.02**2
    p_vec = always_valid_p_values(d, v, tau2=tau2)
    low_vec, high_vec = confidence_sequence(d, v, tau2=tau2, alpha=0.05)
    p_ni = always_valid_p_values(d, v, tau2=tau2, alternative="greater", margin=0.01)
    state = ni_state = None
    for i in range(looks):
        b, c = BinomialSummary(int(xb[i]), int(n[i])), BinomialSummary(int(xc[i]), int(n[i]))
        r = msprt(b, c, tau2=tau2, state=state)
        ni = msprt(b, c, tau2=tau2, alternative="greater", margin=0.01, state=ni_state)
        state, ni_state = r.state, ni.state
        assert r.p_value == pytest.approx(p_vec[i], rel=1e-12)
        assert (r.ci_low, r.ci_high) == pytest.approx((low_vec[i], high_vec[i]), rel=1e-12)
        assert ni.p_value == pytest.approx(p_ni[i], rel=1e-12)
        # the non-inferiority p-value reaches alpha exactly when the interval clears -margin
        assert ni.significant == (ni.ci_low > -0.01)
    assert state is not None and state.looks == looks
    assert np.all(np.diff(p_vec) <= 0)


def test_rollout_msprt_interval_is_where_lambda_is_below_one_over_alpha() -> None:
    b, c = MeanSummary(300, 5.0, 4.0), MeanSummary(280, 5.4, 6.0)
    r = msprt(b, c, tau2=0.1, alpha=0.05)
    for edge in (r.ci_low, r.ci_high):
        assert float(mixture_log_lambda(r.difference, r.variance, 0.1, edge)) == pytest.approx(
            math.log(20)
        )
    assert r.p_value == pytest.approx(min(1.0, math.exp(-r.log_lambda)))


def test_rollout_msprt_state_round_trips_through_json() -> None:
    fresh = SequentialState()
    assert SequentialState.from_dict(json.loads(json.dumps(fresh.to_dict()))) == fresh
    r = msprt(MeanSummary(30, 1.0, 1.0), MeanSummary(30, 1.4, 1.0), tau2=0.1)
    assert SequentialState.from_dict(json.loads(json.dumps(r.state.to_dict()))) == r.state


def test_rollout_msprt_without_evidence_changes_nothing() -> None:
    r = msprt(MeanSummary(1, 1.0, 0.0), MeanSummary(5, 3.0, 1.0), tau2=0.1)
    assert (r.p_value, r.ci_low, r.ci_high) == (1.0, -math.inf, math.inf)
    zero = msprt(BinomialSummary(0, 50), BinomialSummary(0, 50), tau2=0.01)
    assert zero.p_value == 1.0
    with pytest.raises(InvalidInputError, match="tau2"):
        msprt(MeanSummary(5, 1.0, 1.0), MeanSummary(5, 1.0, 1.0), tau2=0.0)
    with pytest.raises(InvalidInputError, match="one-sided"):
        msprt(MeanSummary(5, 1.0, 1.0), MeanSummary(5, 1.0, 1.0), tau2=1.0, margin=0.1)
