"""The drift tests a feature can run, registered in one place, and the default choice among them.

A method either compares two samples of values (``"sample"``: KS, Wasserstein) or two count
vectors over shared levels or bins (``"counts"``: the rest). P-value methods call drift below
their threshold; distance methods at or above it. The default choice follows Evidently's rules,
so users who migrate recognise them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shipyard.errors import InvalidInputError
from shipyard.monitoring.stats import (
    StatResult,
    chi2_homogeneity,
    hellinger,
    jensen_shannon,
    ks_2samp,
    linf,
    psi,
    wasserstein_norm,
    z_test,
)
from shipyard.monitoring.stats.hellinger import hellinger_distance
from shipyard.monitoring.stats.js import js_distance
from shipyard.monitoring.stats.linf import linf_distance
from shipyard.monitoring.stats.psi import psi_value

__all__ = ["METHODS", "Kind", "Method", "default_method", "get_method"]

Kind = Literal["numeric", "categorical", "boolean"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "boolean")
# The reference size and distinct-value counts at which Evidently's default choice changes.
SMALL_REFERENCE = 1000
FEW_VALUES = 5


@dataclass(frozen=True)
class Method:
    """One drift test: how it is computed and how its figure becomes a verdict.

    ``distance`` is the vectorised form (over the last axis of share or count stacks) that the
    noise floor evaluates on resamples; it is ``None`` for p-value methods, which need no floor.
    ``min_effect`` is the default effect floor of a p-value method (KS D, or Cohen's w).
    """

    name: str
    title: str
    scale: Literal["p_value", "distance"]
    data: Literal["sample", "counts"]
    threshold: float
    compute: Callable[..., StatResult]
    distance: Callable[[Any, Any], Any] | None = None
    min_effect: float | None = None
    kinds: tuple[Kind, ...] = KINDS

    def rule(self, threshold: float) -> str:
        """The verdict rule in words, e.g. ``"p < 0.05"``."""
        return f"p < {threshold:g}" if self.scale == "p_value" else f"distance >= {threshold:g}"


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        # KS D of 0.04 is about a shift of 0.1 standard deviation of a normal: the size of
        # change Evidently's Wasserstein threshold calls drift on large references.
        Method("ks", "Kolmogorov-Smirnov", "p_value", "sample", 0.05, ks_2samp,
               min_effect=0.04, kinds=("numeric",)),
        # Cohen's w of 0.1 is the conventional "small" effect.
        Method("chi2", "chi-squared", "p_value", "counts", 0.05, chi2_homogeneity, min_effect=0.1),
        Method("z", "two-proportion Z", "p_value", "counts", 0.05, z_test, min_effect=0.1),
        Method("wasserstein", "Wasserstein-1 / std", "distance", "sample", 0.1, wasserstein_norm,
               kinds=("numeric",)),
        Method("jensenshannon", "Jensen-Shannon distance", "distance", "counts", 0.1,
               jensen_shannon, js_distance),
        Method("psi", "population stability index", "distance", "counts", 0.1, psi, psi_value),
        Method("hellinger", "Hellinger distance", "distance", "counts", 0.1, hellinger,
               hellinger_distance),
        Method("linf", "L-infinity distance", "distance", "counts", 0.1, linf, linf_distance),
    )
}  # fmt: skip


def get_method(name: str, kind: Kind, feature: str) -> Method:
    """The registered method ``name``, checked against the feature's kind."""
    method = METHODS.get(name)
    if method is None:
        raise InvalidInputError(
            f"unknown drift test {name!r} for feature {feature!r}; choose one of {sorted(METHODS)}"
        )
    if kind not in method.kinds:
        raise InvalidInputError(
            f"drift test {name!r} does not apply to the {kind} feature {feature!r}; "
            f"it takes {', '.join(method.kinds)} features"
        )
    return method


def default_method(kind: Kind, n_reference: int, n_values: int) -> tuple[str, str]:
    """Evidently's default test for a feature, and why: ``(method name, reason)``.

    ``n_reference`` counts the reference's present values; ``n_values`` the distinct present
    values of both samples together.
    """
    numeric = kind == "numeric"
    size = f"reference of {n_reference} rows"
    values = f"{n_values} distinct values"
    if n_reference <= SMALL_REFERENCE:
        size += f" (<= {SMALL_REFERENCE})"
        if numeric and n_values > FEW_VALUES:
            return "ks", f"{size}, numeric with {values} (> {FEW_VALUES})"
        what = f"numeric with {values} (<= {FEW_VALUES})" if numeric else f"{kind} with {values}"
        if n_values > 2:
            return "chi2", f"{size}, {what}"
        return "z", f"{size}, {what} (<= 2)"
    size += f" (> {SMALL_REFERENCE})"
    if numeric and n_values > FEW_VALUES:
        return "wasserstein", f"{size}, numeric with {values} (> {FEW_VALUES})"
    what = f"numeric with {values} (<= {FEW_VALUES})" if numeric else f"{kind} with {values}"
    return "jensenshannon", f"{size}, {what}"
