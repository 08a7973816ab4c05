"""The fast paths behind the statistics give exactly what the plain computations give."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

from shipyard.monitoring.stats import binning
from shipyard.monitoring.stats.wasserstein import merged_steps, wasserstein_sorted


def _sorted_union(n: int, m: int) -> np.ndarray:
    steps = np.concatenate((np.arange(n) * m, np.arange(1, m) * n))
    return np.unique(steps)


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7, 12, 30, 97])
@pytest.mark.parametrize("m", [1, 2, 4, 6, 9, 12, 45, 97, 1000])
def test_stats_merged_steps_equal_the_sorted_union(n: int, m: int) -> None:
    assert merged_steps(n, m).tolist() == _sorted_union(n, m).tolist()


def test_stats_wasserstein_of_unequal_large_samples_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    a, b = np.sort(rng.gamma(2.0, size=120_000)), np.sort(rng.gamma(2.1, size=90_001))
    assert wasserstein_sorted(a, b) == pytest.approx(st.wasserstein_distance(a, b), rel=1e-10)


@pytest.mark.parametrize(
    "levels",
    [
        ["level_0", "level_1", "b", "a "],  # one word; a trailing space is part of the value
        ["a rather long category name", "short", "x" * 32, ""],  # several words, empty text
        ["café", "naïve", "plain"],  # Latin-1 beyond ASCII
        ["東京", "大阪", "plain"],  # not Latin-1: the general path
    ],
)
@pytest.mark.parametrize("unseen", [False, True])
def test_stats_count_levels_packed_text_is_exact(levels: list[str], unseen: bool) -> None:
    rng = np.random.default_rng(len(levels))
    values = np.array([*levels, "never in the strided guess"])[rng.integers(0, len(levels), 40_000)]
    if unseen:
        values[-2] = "never in the strided guess"
    got_levels, got_counts = binning.count_levels(values)
    want_levels, want_counts = np.unique(values, return_counts=True)
    assert [str(v) for v in got_levels] == want_levels.tolist()
    assert got_counts.tolist() == want_counts.tolist()
