"""Monitored figures: the dotted names alert rules watch, and the drift report's figures.

A figure is one number the monitor computes per window, named ``family.part[.part...]``:

- ``drift.share``, ``drift.n_drifted``, ``drift.drifted`` (1 or 0) for the dataset;
- ``drift.feature.<name>.<field>`` for one feature: ``statistic``, ``p_value``, ``effect``,
  ``noise_floor``, ``unseen_share``, ``drifted`` (1 or 0), ``missing_drifted`` (1 or 0);
- ``quality.missing_share.<name>`` and the other data-quality figures;
- ``performance.<metric>`` (``accuracy``, ``rmse``, ...) once labels arrive;
- ``attribution.<figure>`` (for example ``attribution.ndcg``) from the explainers.

The family must be one of :data:`FIGURE_FAMILIES`; the rest is checked by the module that
computes the figure. A figure that a window cannot give (no labels yet) is simply absent.
"""

from __future__ import annotations

import math
import re

from shipyard.errors import ConfigError
from shipyard.monitoring.report import DriftReport

__all__ = ["FIGURE_FAMILIES", "check_figure", "drift_figures"]

FIGURE_FAMILIES = ("attribution", "drift", "performance", "quality")

# Feature names may hold any character but whitespace and the separator.
_FIGURE = re.compile(r"^[a-z]+(\.[^.\s]+)+$")


def check_figure(name: object, where: str = "figure") -> str:
    """``name`` if it is a well-formed figure name of a known family, else ``ConfigError``."""
    if not isinstance(name, str) or not _FIGURE.match(name):
        raise ConfigError(
            f"{where} must be a dotted figure name such as 'drift.share' or "
            f"'drift.feature.age.statistic', got {name!r}"
        )
    family = name.split(".", 1)[0]
    if family not in FIGURE_FAMILIES:
        raise ConfigError(
            f"{where} {name!r} is of unknown family {family!r}; "
            f"known families are {', '.join(FIGURE_FAMILIES)}"
        )
    return name


def drift_figures(report: DriftReport) -> dict[str, float]:
    """Every figure of a drift report by name; figures a test did not produce are left out."""
    figures: dict[str, float] = {
        "drift.share": report.share,
        "drift.n_drifted": float(report.n_drifted),
        "drift.drifted": float(report.drifted),
    }
    for f in report.features:
        prefix = f"drift.feature.{f.name}."
        p_value = f.p_adjusted if f.p_adjusted is not None else f.p_value
        for field, value in (
            ("statistic", f.statistic),
            ("p_value", p_value),
            ("effect", f.effect),
            ("noise_floor", f.noise_floor),
            ("unseen_share", f.unseen_share),
            ("drifted", float(f.drifted)),
            ("missing_drifted", float(f.missing.drifted)),
        ):
            if value is not None and math.isfinite(value):
                figures[prefix + field] = float(value)
        if math.isfinite(f.missing.current_share):
            figures[f"quality.missing_share.{f.name}"] = f.missing.current_share
    return figures
