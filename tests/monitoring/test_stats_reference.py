"""Every statistic against its scipy/numpy reference, on random data with ties and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from scipy.spatial.distance import jensenshannon

from shipyard.errors import InvalidInputError
from shipyard.monitoring import stats
from shipyard.monitoring.stats import binning
from shipyard.monitoring.stats._dist import chi2_sf, norm_sf_two_sided

SIZES = [(1, 1), (1, 7), (30, 1000), (50, 50), (200, 37), (1000, 30), (3000, 7000), (12000, 15000)]


def _samples(rng: np.random.Generator, n: int, m: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(0.0, 1.0, n)
    b = rng.normal(0.1, 1.2, m)
    return (np.round(a, 1), np.round(b, 1)) if ties else (a, b)


@pytest.mark.parametrize(("n", "m"), SIZES)
@pytest.mark.parametrize("ties", [False, True])
def test_stats_ks_matches_scipy(n: int, m: int, ties: bool) -> None:
    rng = np.random.default_rng(n * 7919 + m + ties)
    a, b = _samples(rng, n, m, ties)
    ours = stats.ks_2samp(a, b)
    ref = st.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-9)


def test_stats_ks_single_value_and_nan() -> None:
    a = np.array([1.0, 1.0, np.nan, 1.0])
    assert stats.ks_2samp(a, [1.0, 1.0]).statistic == 0.0
    assert stats.ks_2samp(a, [1.0, 1.0]).p_value == 1.0
    assert stats.ks_2samp(a, [2.0]).statistic == 1.0
    assert stats.ks_2samp(a, [2.0]).n_reference == 3
    with pytest.raises(InvalidInputError):
        stats.ks_2samp([np.nan], [1.0])


@pytest.mark.parametrize(("n", "m"), [*SIZES, (1000, 1000)])
@pytest.mark.parametrize("ties", [False, True])
def test_stats_wasserstein_matches_scipy(n: int, m: int, ties: bool) -> None:
    rng = np.random.default_rng(n + 31 * m + ties)
    a, b = _samples(rng, n, m, ties)
    expected = st.wasserstein_distance(a, b) / max(np.std(a), 0.001)
    assert stats.wasserstein_norm(a, b).statistic == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_stats_wasserstein_constant_reference_uses_evidently_floor() -> None:
    result = stats.wasserstein_norm([2.0, 2.0, np.nan], [2.0, 2.5])
    assert result.statistic == pytest.approx(st.wasserstein_distance([2, 2], [2, 2.5]) / 0.001)


def _counts(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    p = rng.dirichlet(np.ones(k))
    ref = rng.multinomial(int(rng.integers(20, 3000)), p)
    cur = rng.multinomial(int(rng.integers(20, 3000)), rng.dirichlet(np.ones(k)) * 0.3 + p * 0.7)
    return ref, cur


@pytest.mark.parametrize("seed", range(8))
def test_stats_chi2_homogeneity_matches_chi2_contingency(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = _counts(rng, 2 + seed)
    ref[0] = cur[0] = 0  # a level absent from both is dropped, as it must be for scipy
    ours = stats.chi2_homogeneity(ref, cur)
    keep = (ref + cur) > 0
    stat, p, _, _ = st.chi2_contingency(np.stack([ref[keep], cur[keep]]), correction=False)
    assert ours.statistic == pytest.approx(stat, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
    n1, n2 = ref.sum(), cur.sum()
    r, c = ref[keep], cur[keep]
    w = np.sqrt((((r / n1 - c / n2) ** 2) / ((r + c) / (n1 + n2))).sum())
    assert ours.effect == pytest.approx(w, rel=1e-9)


def test_stats_chi2_single_level_is_no_evidence() -> None:
    assert stats.chi2_homogeneity([5, 0], [7, 0]).p_value == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_stats_chi2_goodness_of_fit_matches_evidently_formula(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    ref, cur = _counts(rng, 3 + seed)
    ref, cur = ref + 1, cur  # every level seen in the reference
    expected = st.chisquare(cur, ref * cur.sum() / ref.sum())
    ours = stats.chi2_goodness_of_fit(ref, cur)
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_stats_chi2_goodness_of_fit_unseen_level_is_infinite() -> None:
    result = stats.chi2_goodness_of_fit([10, 0], [5, 5])
    assert result.statistic == np.inf
    assert result.p_value == 0.0


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(10, 100, 30, 120), (0, 50, 3, 60), (7, 7, 1, 9)]
)
def test_stats_two_proportion_z_matches_chi2_and_normal(x1: int, n1: int, x2: int, n2: int) -> None:
    ours = stats.two_proportion_z(x1, n1, x2, n2)
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    stat, p, _, _ = st.chi2_contingency(table, correction=False)
    assert ours.statistic**2 == pytest.approx(stat, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-9)
    assert ours.p_value == pytest.approx(2 * st.norm.sf(abs(ours.statistic)), rel=1e-9)


def test_stats_two_proportion_z_all_same_is_no_evidence() -> None:
    assert stats.two_proportion_z(0, 10, 0, 20).p_value == 1.0
    assert stats.z_test([10], [20]).p_value == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_stats_distances_match_reference_formulas(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    ref, cur = _counts(rng, 2 + 3 * seed)
    cur[-1] = 0  # a zero share on one side
    p, q = ref / ref.sum(), cur / cur.sum()
    assert stats.jensen_shannon(ref, cur).statistic == pytest.approx(jensenshannon(p, q), rel=1e-9)
    hellinger = np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2)
    assert stats.hellinger(ref, cur).statistic == pytest.approx(hellinger, rel=1e-12)
    assert stats.linf(ref, cur).statistic == pytest.approx(np.max(np.abs(p - q)), rel=1e-12)
    # PSI with Evidently's zero fill: 1e-4, or a millionth of the smallest share when tiny.
    pf = np.where(p == 0, min(p[p > 0]) / 1e6 if min(p[p > 0]) <= 1e-4 else 1e-4, p)
    qf = np.where(q == 0, min(q[q > 0]) / 1e6 if min(q[q > 0]) <= 1e-4 else 1e-4, q)
    assert stats.psi(ref, cur).statistic == pytest.approx(np.sum((pf - qf) * np.log(pf / qf)))


def test_stats_distances_are_zero_on_equal_shares() -> None:
    for fn in (stats.jensen_shannon, stats.psi, stats.hellinger, stats.linf):
        assert fn([2, 4, 6], [1, 2, 3]).statistic == pytest.approx(0.0, abs=1e-12)


def test_stats_counts_are_checked() -> None:
    with pytest.raises(InvalidInputError):
        stats.jensen_shannon([1, 2], [1, 2, 3])
    with pytest.raises(InvalidInputError):
        stats.psi([1, -2], [1, 2])


def test_stats_tail_functions_match_scipy() -> None:
    for x, df in [(0.5, 1), (3.0, 2), (40.0, 7), (1e3, 30), (0.0, 4)]:
        assert chi2_sf(x, df) == pytest.approx(st.chi2.sf(x, df), rel=1e-12)
    for z in [0.0, 0.3, -1.96, 5.0, 12.0]:
        assert norm_sf_two_sided(z) == pytest.approx(2 * st.norm.sf(abs(z)), rel=1e-12)


def test_stats_shared_levels_and_bins() -> None:
    ref = np.array(["a", "b", "b", None, "c"], dtype=object)
    cur = np.array(["b", "d", "d", np.nan], dtype=object)
    support = binning.shared_levels(ref, cur)
    assert support.labels == ("a", "b", "c", "d")
    assert support.reference.tolist() == [1, 2, 1, 0]
    assert support.current.tolist() == [0, 1, 0, 2]
    assert support.unseen == 2
    top = binning.shared_levels(ref, cur, top_k=2)
    assert top.labels == ("a", "b", "other")  # ties in the reference broken by name
    assert top.reference.sum() == 4 and top.current.sum() == 3

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(size=300)
    bins = binning.shared_bins(a, b)
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    assert bins.reference.tolist() == np.histogram(a, edges)[0].tolist()
    assert bins.current.tolist() == np.histogram(b, edges)[0].tolist()
    few = binning.shared_bins(np.array([1.0, 2.0, 2.0]), np.array([3.0]))
    assert few.labels == ("1.0", "2.0", "3.0")


def test_stats_count_levels_fast_path_is_exact() -> None:
    rng = np.random.default_rng(1)
    levels = np.array([f"level_{i}" for i in range(8)])
    values = levels[rng.integers(0, 8, 50_000)]
    values[-3:] = ["zz", "rare", "zz"]  # levels the strided guess may miss
    got_levels, got_counts = binning.count_levels(values)
    want_levels, want_counts = np.unique(values, return_counts=True)
    assert [str(v) for v in got_levels] == want_levels.tolist()
    assert got_counts.tolist() == want_counts.tolist()
