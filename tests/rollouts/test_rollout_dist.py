"""The pure-Python distributions against scipy.stats."""

from __future__ import annotations

import math

import pytest
import scipy.stats as st

from shipyard.rollouts.stats._dist import chi2_sf, norm_cdf, norm_ppf, norm_sf, t_cdf, t_ppf, t_sf

DFS = [1.0, 1.5, 2.3, 3.7, 10.0, 29.5, 100.0, 1e3, 1e4, 1e5, 1e6, 9.9e6, 1.1e7, 1e9]
TS = [-40.0, -8.0, -3.0, -1.96, -0.5, -1e-3, 0.0, 0.2, 1.0, 2.5, 6.0, 30.0]


def _close(ours: float, ref: float, rel: float) -> bool:
    return ours == pytest.approx(ref, rel=rel, abs=1e-300)


@pytest.mark.parametrize("df", DFS)
def test_rollout_t_tails_match_scipy(df: float) -> None:
    for t in TS:
        ref = float(st.t.sf(t, df))
        rel = 1e-9 if ref > 1e-100 else 1e-6  # p-values below 1e-100 only need their order
        assert _close(t_sf(t, df), ref, rel), (df, t)
        assert _close(t_cdf(t, df), float(st.t.cdf(t, df)), rel), (df, t)


@pytest.mark.parametrize("df", DFS)
def test_rollout_t_quantiles_match_scipy(df: float) -> None:
    for p in [1e-10, 1e-4, 0.025, 0.3, 0.5, 0.8, 0.975, 0.9999]:
        assert t_ppf(p, df) == pytest.approx(float(st.t.ppf(p, df)), rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="0 < p < 1"):
        t_ppf(1.0, df)


def test_rollout_normal_matches_scipy() -> None:
    for z in [-38.0, -5.0, -1.0, 0.0, 0.3, 2.0, 9.0, 38.0]:
        assert _close(norm_sf(z), float(st.norm.sf(z)), 1e-12)
        assert _close(norm_cdf(z), float(st.norm.cdf(z)), 1e-12)
    for p in [1e-12, 0.001, 0.05, 0.5, 0.975]:
        assert norm_ppf(p) == pytest.approx(float(st.norm.ppf(p)), rel=1e-12)


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 50, 200])
def test_rollout_chi2_matches_scipy(df: int) -> None:
    for x in [0.0, 0.01, 0.5, 1.0, 3.0, 10.0, 50.0, 160.0, 500.0, 2000.0]:
        assert _close(chi2_sf(x, df), float(st.chi2.sf(x, df)), 1e-10), (df, x)
    assert chi2_sf(math.inf, df) == 0.0
