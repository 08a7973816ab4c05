"""Experiment statistics for rollouts: pure functions of per-variant sufficient statistics.

Every comparison reads ``candidate - baseline``. Fixed-horizon tests (a two-proportion z-test,
Welch's t-test) answer one question at one planned moment; the mSPRT answers it at every look
without inflating false positives, which is what an automated rollout needs. The
sample-ratio-mismatch check guards the split itself; the shadow helpers compare paired answers.
"""

from shipyard.rollouts.stats.msprt import (
    SequentialResult,
    SequentialState,
    always_valid_p_values,
    confidence_half_width,
    confidence_sequence,
    mixture_log_lambda,
    msprt,
    standardized_tau2,
)
from shipyard.rollouts.stats.proportions import proportion_ztest
from shipyard.rollouts.stats.result import Alternative, TestResult
from shipyard.rollouts.stats.shadow import (
    AgreementResult,
    DifferenceResult,
    agreement_rate,
    mean_absolute_difference,
    wilson_interval,
)
from shipyard.rollouts.stats.srm import SRMResult, sample_ratio_mismatch
from shipyard.rollouts.stats.summary import BinomialSummary, MeanSummary, Summary
from shipyard.rollouts.stats.welch import welch_df, welch_ttest

__all__ = [
    "AgreementResult",
    "Alternative",
    "BinomialSummary",
    "DifferenceResult",
    "MeanSummary",
    "SRMResult",
    "SequentialResult",
    "SequentialState",
    "Summary",
    "TestResult",
    "agreement_rate",
    "always_valid_p_values",
    "confidence_half_width",
    "confidence_sequence",
    "mean_absolute_difference",
    "mixture_log_lambda",
    "msprt",
    "proportion_ztest",
    "sample_ratio_mismatch",
    "standardized_tau2",
    "welch_df",
    "welch_ttest",
    "wilson_interval",
]
