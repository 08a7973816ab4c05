"""Drift statistics: small pure functions of numpy arrays, each returning a :class:`StatResult`.

Samples (KS, Wasserstein) are arrays of values with NaN dropped; the level tests (chi-squared,
Z, Jensen-Shannon, PSI, Hellinger, L-infinity) take two count vectors over the same levels or
bins, which :mod:`~shipyard.monitoring.stats.binning` builds from raw values. Counts merge by
addition, so a fixed-edge histogram of a window larger than memory feeds the same functions.
"""

from shipyard.monitoring.stats._result import StatResult
from shipyard.monitoring.stats.binning import shared_bins, shared_levels
from shipyard.monitoring.stats.chi2 import chi2_goodness_of_fit, chi2_homogeneity, cohens_w
from shipyard.monitoring.stats.hellinger import hellinger
from shipyard.monitoring.stats.js import jensen_shannon
from shipyard.monitoring.stats.ks import ks_2samp
from shipyard.monitoring.stats.linf import linf
from shipyard.monitoring.stats.psi import psi
from shipyard.monitoring.stats.wasserstein import wasserstein_norm
from shipyard.monitoring.stats.ztest import two_proportion_z, z_test

__all__ = [
    "StatResult",
    "chi2_goodness_of_fit",
    "chi2_homogeneity",
    "cohens_w",
    "hellinger",
    "jensen_shannon",
    "ks_2samp",
    "linf",
    "psi",
    "shared_bins",
    "shared_levels",
    "two_proportion_z",
    "wasserstein_norm",
    "z_test",
]
