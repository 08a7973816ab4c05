"""``explain(model, X)``: attributions for a loaded version, from Python or the server.

The explainer of a loaded model (its background, its shap tree copy, its column map) is built
on first use and kept on that object, so later calls pay only for the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from shipyard.errors import InvalidInputError
from shipyard.explain.background import BACKGROUND_ROWS, summarise
from shipyard.explain.explainer import DEFAULT_BUDGET, Explainer
from shipyard.explain.explanation import Explanation

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.runtime.loaded import LoadedModel

__all__ = ["explain", "explainer_for"]

_CACHE = "_shipyard_explainers"


def explain(
    model: Any,
    X: Any,
    *,
    registry: Registry | None = None,
    method: str = "auto",
    budget: int = DEFAULT_BUDGET,
    background: pd.DataFrame | None = None,
) -> Explanation:
    """Feature attributions for the rows of ``X``, per original feature.

    ``model`` is what ``Registry.load`` returns (or a serving ``Predictor``), or a reference
    such as ``"churn/3"`` together with ``registry``. ``X`` is anything ``model.predict``
    takes. The background is summarised from the version's reference sample unless given.
    """
    loaded = _loaded(model, registry)
    frame = loaded.frame(X)
    return explainer_for(loaded, method=method, budget=budget, background=background).explain(frame)


def explainer_for(
    loaded: LoadedModel,
    *,
    method: str = "auto",
    budget: int = DEFAULT_BUDGET,
    background: pd.DataFrame | None = None,
) -> Explainer:
    """The (cached) explainer of a loaded version; a given ``background`` is never cached."""
    cache: dict[tuple[str, int], Explainer] = vars(loaded).setdefault(_CACHE, {})
    key = (method, budget)
    if background is None and key in cache:
        return cache[key]
    features = _features(loaded)
    given = background is not None
    if background is None:
        background = summarise(_reference(loaded), features, rows=BACKGROUND_ROWS)
    explainer = Explainer(loaded.native, features, background, method=method, budget=budget)
    if not given:
        cache[key] = explainer
    return explainer


def _loaded(model: Any, registry: Registry | None) -> LoadedModel:
    from shipyard.runtime.loaded import LoadedModel

    if isinstance(model, LoadedModel):
        return model
    inner = getattr(model, "model", None)  # a serving Predictor
    if isinstance(inner, LoadedModel):
        return inner
    ref = getattr(model, "ref", model)
    if isinstance(ref, str) and registry is not None:
        return registry.load(ref)
    raise InvalidInputError(
        "explain() takes a loaded model (Registry.load), a Predictor, or a reference such as "
        f"'churn/3' with registry=; got {type(model).__name__}"
    )


def _features(loaded: LoadedModel) -> list[str]:
    if loaded.signature is None:
        raise InvalidInputError(
            f"{loaded.ref} has no signature; register it with reference data to explain it"
        )
    names = list(loaded.signature.feature_names)
    fitted = getattr(loaded.native, "feature_names_in_", None)
    if fitted is not None and sorted(map(str, fitted)) == sorted(names):
        return [str(n) for n in fitted]  # a ColumnTransformer indexes columns in fit order
    return names


def _reference(loaded: LoadedModel) -> pd.DataFrame:
    reference = getattr(loaded, "reference", None)
    if reference is None:
        raise InvalidInputError(
            f"{loaded.ref} has no reference sample to draw background data from; register it "
            "with reference data, or pass background= (a DataFrame of typical rows)"
        )
    sample: pd.DataFrame = reference()
    return sample
