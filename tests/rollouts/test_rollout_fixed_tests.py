"""Fixed-horizon tests (z, Welch), SRM, summaries and shadow helpers against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats import (
    BinomialSummary,
    MeanSummary,
    agreement_rate,
    mean_absolute_difference,
    proportion_ztest,
    sample_ratio_mismatch,
    welch_ttest,
)
from shipyard.rollouts.stats.result import Alternative

ALTERNATIVES: list[Alternative] = ["two-sided", "greater", "less"]


@pytest.mark.parametrize(
    ("xb", "nb", "xc", "nc"), [(120, 1000, 150, 1000), (5, 40, 1, 90), (900, 10_000, 870, 9_500)]
)
def test_rollout_ztest_pooled_matches_reference(xb: int, nb: int, xc: int, nc: int) -> None:
    ours = proportion_ztest(BinomialSummary(xb, nb), BinomialSummary(xc, nc))
    chi2, p, _, _ = st.chi2_contingency([[xb, nb - xb], [xc, nc - xc]], correction=False)
    assert ours.statistic**2 == pytest.approx(chi2, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-10)
    pb, pc = xb / nb, xc / nc
    se = math.sqrt(pb * (1 - pb) / nb + pc * (1 - pc) / nc)
    z = st.norm.ppf(0.975)
    assert ours.difference == pytest.approx(pc - pb)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((pc - pb - z * se, pc - pb + z * se))


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_rollout_ztest_one_sided_and_margin(alternative: Alternative) -> None:
    b, c = BinomialSummary(300, 3000), BinomialSummary(290, 3000)
    plain = proportion_ztest(b, c, alternative=alternative)
    two = proportion_ztest(b, c)
    assert plain.p_value == pytest.approx(
        two.p_value / 2
        if (plain.statistic > 0) == (alternative == "greater")
        else 1 - two.p_value / 2
    )
    ni = proportion_ztest(b, c, alternative=alternative, margin=0.02, alpha=0.05)
    se = math.sqrt(0.1 * 0.9 / 3000 + (290 / 3000) * (1 - 290 / 3000) / 3000)
    null = -0.02 if alternative == "greater" else 0.02
    z = (ni.difference - null) / se
    ref = st.norm.sf(z) if alternative == "greater" else st.norm.cdf(z)
    assert ni.statistic == pytest.approx(z)
    assert ni.p_value == pytest.approx(ref, rel=1e-10)
    # the one-sided interval is dual to the test
    bound = ni.ci_low if alternative == "greater" else ni.ci_high
    assert (
        (bound > null) == ni.significant
        if alternative == "greater"
        else (bound < null) == ni.significant
    )


def test_rollout_ztest_rejects_bad_arguments() -> None:
    b = BinomialSummary(1, 10)
    with pytest.raises(InvalidInputError, match="one-sided"):
        proportion_ztest(b, b, margin=0.1)
    with pytest.raises(InvalidInputError, match="alpha"):
        proportion_ztest(b, b, alpha=1.5)
    with pytest.raises(InvalidInputError, match="at least one trial"):
        proportion_ztest(BinomialSummary(0, 0), b)
    with pytest.raises(InvalidInputError, match="successes"):
        BinomialSummary(11, 10)
    assert proportion_ztest(BinomialSummary(0, 10), BinomialSummary(0, 20)).p_value == 1.0


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("nb", "nc", "seed"), [(5, 7, 1), (40, 400, 2), (3000, 2500, 3)])
def test_rollout_welch_matches_scipy(alternative: Alternative, nb: int, nc: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(10, 2, nb), rng.normal(10.3, 5, nc)
    margin = 0.0 if alternative == "two-sided" else 0.4
    ours = welch_ttest(
        MeanSummary.from_values(a),
        MeanSummary.from_values(b),
        alternative=alternative,
        margin=margin,
    )
    null = {"two-sided": 0.0, "greater": -margin, "less": margin}[alternative]
    ref = st.ttest_ind(b - null, a, equal_var=False, alternative=alternative)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert ours.df == pytest.approx(ref.df, rel=1e-10)
    ci = st.ttest_ind(b, a, equal_var=False, alternative=alternative).confidence_interval(0.95)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-8)


def test_rollout_welch_from_stats_and_errors() -> None:
    b, c = MeanSummary(50, 1.0, 4.0), MeanSummary(80, 1.5, 9.0)
    ref = st.ttest_ind_from_stats(1.5, 3.0, 80, 1.0, 2.0, 50, equal_var=False)
    assert welch_ttest(b, c).p_value == pytest.approx(ref.pvalue, rel=1e-10)
    with pytest.raises(InvalidInputError, match="zero variance"):
        welch_ttest(MeanSummary(5, 1.0, 0.0), MeanSummary(5, 1.0, 0.0))
    with pytest.raises(InvalidInputError, match="two observations"):
        welch_ttest(MeanSummary(1, 1.0, 0.0), c)
    with pytest.raises(InvalidInputError, match="variance"):
        MeanSummary(3, 1.0, -1.0)


def test_rollout_summaries_merge_exactly() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(3, 2, 1001)
    merged = MeanSummary.from_values(x[:17]).merge(MeanSummary.from_values(x[17:]))
    whole = MeanSummary.from_values(x)
    assert merged.n == whole.n
    assert merged.mean == pytest.approx(whole.mean)
    assert merged.variance == pytest.approx(whole.variance)
    assert MeanSummary(0, 0.0, 0.0).merge(whole) is whole
    assert BinomialSummary(3, 10).merge(BinomialSummary(2, 5)) == BinomialSummary(5, 15)


def test_rollout_srm_matches_scipy() -> None:
    counts, weights = [4890, 5110, 980], [45, 45, 10]
    ours = sample_ratio_mismatch(counts, weights)
    expected = np.array(weights) / sum(weights) * sum(counts)
    ref = st.chisquare(counts, f_exp=expected)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.df == 2
    with pytest.raises(InvalidInputError, match="one weight per count"):
        sample_ratio_mismatch([1, 2], [1.0])
    with pytest.raises(InvalidInputError, match="positive"):
        sample_ratio_mismatch([1, 2], [1.0, 0.0])


def test_rollout_shadow_agreement_matches_wilson() -> None:
    rng = np.random.default_rng(9)
    primary = rng.integers(0, 3, 500)
    shadow = np.where(rng.random(500) < 0.9, primary, (primary + 1) % 3)
    ours = agreement_rate(primary, shadow)
    agree = int((primary == shadow).sum())
    ci = st.binomtest(agree, 500).proportion_ci(0.95, method="wilson")
    assert ours.rate == agree / 500
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert agreement_rate([[1, 2], [3, 4]], [[1, 2], [3, 5]]).agreements == 1
    with pytest.raises(InvalidInputError, match="pair up"):
        agreement_rate([1, 2], [1])


def test_rollout_shadow_mean_absolute_difference() -> None:
    primary = np.array([1.0, 2.0, 3.0, 4.0])
    shadow = np.array([1.5, 2.0, 2.0, 4.25])
    ours = mean_absolute_difference(primary, shadow)
    assert ours.mean_absolute_difference == pytest.approx(0.4375)
    assert ours.max_absolute_difference == 1.0
    assert ours.mean_difference == pytest.approx(-0.0625)
    se = np.std(np.abs(shadow - primary), ddof=1) / 2
    assert ours.ci_high == pytest.approx(0.4375 + st.norm.ppf(0.975) * se)
