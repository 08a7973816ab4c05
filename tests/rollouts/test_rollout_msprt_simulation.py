"""Simulations with a known truth: the mSPRT keeps its alpha under continuous peeking, a naive
z-test with the same peeking does not; real effects are found; SRM fires only on broken splits.

Each arm gets 100 observations per look, up to 10,000 per arm (100 looks), and every look is a
peek. Seeded, and vectorised across experiments.
"""

from __future__ import annotations

import numpy as np

from shipyard.rollouts.stats import always_valid_p_values, sample_ratio_mismatch
from shipyard.rollouts.stats._dist import norm_sf

ALPHA = 0.05
LOOKS, BATCH = 100, 100
N = BATCH * np.arange(1, LOOKS + 1)
_two_sided = np.vectorize(lambda z: 2.0 * norm_sf(abs(z)))


def _binary(
    rng: np.random.Generator, experiments: int, pb: float, pc: float
) -> tuple[np.ndarray, ...]:
    xb = rng.binomial(BATCH, pb, (experiments, LOOKS)).cumsum(axis=1)
    xc = rng.binomial(BATCH, pc, (experiments, LOOKS)).cumsum(axis=1)
    mb, mc = xb / N, xc / N
    diff, var = mc - mb, (mb * (1 - mb) + mc * (1 - mc)) / N
    pooled = (xb + xc) / (2 * N)
    se = np.sqrt(pooled * (1 - pooled) * 2 / N)
    z = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
    return diff, var, z


def _naive_p(z: np.ndarray) -> np.ndarray:
    return np.asarray(_two_sided(z))


def test_rollout_aa_binary_msprt_holds_alpha_while_naive_peeking_does_not() -> None:
    rng = np.random.default_rng(2024)
    diff, var, z = _binary(rng, 2000, 0.10, 0.10)
    p = always_valid_p_values(diff, var, tau2=0.01**2)
    msprt_fpr = float((p[:, -1] <= ALPHA).mean())
    naive_fpr = float((_naive_p(z) <= ALPHA).any(axis=1).mean())
    fixed_fpr = float((_naive_p(z[:, -1]) <= ALPHA).mean())
    print(
        f"A/A binary, 2000 experiments: mSPRT {msprt_fpr:.4f}, naive peeking {naive_fpr:.4f}, "
        f"single look {fixed_fpr:.4f}"
    )
    assert msprt_fpr <= ALPHA
    assert naive_fpr > 4 * ALPHA  # about 0.38 with 100 peeks
    assert 0.03 < fixed_fpr < 0.07  # the z-test itself is sound when looked at once


def test_rollout_aa_continuous_msprt_holds_alpha_with_plugin_variance() -> None:
    rng = np.random.default_rng(7)
    experiments = 1000
    sums, squares = np.zeros((2, experiments)), np.zeros((2, experiments))
    diff, var = np.empty((experiments, LOOKS)), np.empty((experiments, LOOKS))
    for look in range(LOOKS):  # heavy-ish tails and unequal variances: lognormal vs scaled normal
        a = rng.lognormal(0.0, 0.5, (experiments, BATCH))
        b = np.exp(0.125) + rng.normal(0.0, 0.6, (experiments, BATCH))
        for arm, x in enumerate((a, b)):
            sums[arm] += x.sum(axis=1)
            squares[arm] += (x * x).sum(axis=1)
        n = N[look]
        means = sums / n
        variances = (squares - n * means**2) / (n - 1)
        diff[:, look] = means[1] - means[0]
        var[:, look] = variances.sum(axis=0) / n
    p = always_valid_p_values(diff, var, tau2=0.05**2)
    msprt_fpr = float((p[:, -1] <= ALPHA).mean())
    naive_fpr = float((_naive_p(diff / np.sqrt(var)) <= ALPHA).any(axis=1).mean())
    print(f"A/A continuous, 1000 experiments: mSPRT {msprt_fpr:.4f}, naive peeking {naive_fpr:.4f}")
    assert msprt_fpr <= ALPHA
    assert naive_fpr > 4 * ALPHA


def test_rollout_msprt_finds_a_real_effect() -> None:
    rng = np.random.default_rng(99)
    diff, var, _ = _binary(rng, 500, 0.10, 0.12)
    p = always_valid_p_values(diff, var, tau2=0.01**2)
    power = float((p[:, -1] <= ALPHA).mean())
    print(f"power for 10% -> 12% by 10,000 per arm: {power:.3f}")
    assert power >= 0.9
    # non-inferiority: identical arms are shown not worse than a 2-point margin
    diff, var, _ = _binary(rng, 500, 0.10, 0.10)
    ni = always_valid_p_values(diff, var, tau2=0.02**2, alternative="greater", margin=0.02)
    ni_power = float((ni[:, -1] <= ALPHA).mean())
    # ...while arms worse by exactly the margin are declared non-inferior at most alpha of the time
    diff, var, _ = _binary(rng, 2000, 0.10, 0.08)
    ni = always_valid_p_values(diff, var, tau2=0.02**2, alternative="greater", margin=0.02)
    ni_false = float((ni[:, -1] <= ALPHA).mean())
    print(
        f"non-inferiority (margin 0.02): power {ni_power:.3f}, worse-by-margin accepted {ni_false:.4f}"
    )
    assert ni_power >= 0.9
    assert ni_false <= ALPHA


def test_rollout_srm_passes_fair_splits_and_fires_on_broken_ones() -> None:
    assert sample_ratio_mismatch([52_000, 48_000], [50, 50]).mismatch
    assert not sample_ratio_mismatch([50_100, 49_900], [50, 50]).mismatch
    rng = np.random.default_rng(3)
    fair = rng.multinomial(100_000, [0.5, 0.5], size=2000)
    false_alarms = sum(sample_ratio_mismatch(c.tolist(), [50, 50]).mismatch for c in fair)
    assert false_alarms <= 10  # expected 2 at alpha = 0.001
    broken = rng.multinomial(100_000, [0.52, 0.48], size=200)
    assert all(sample_ratio_mismatch(c.tolist(), [50, 50]).mismatch for c in broken)
    canary = rng.multinomial(20_000, [0.95, 0.05], size=500)
    assert sum(sample_ratio_mismatch(c.tolist(), [95, 5]).mismatch for c in canary) <= 5
