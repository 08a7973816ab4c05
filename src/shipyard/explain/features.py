"""Which original feature each column the final estimator sees comes from.

A scikit-learn Pipeline turns the signature's features into a wider matrix (one-hot columns,
indicator columns); attributions are computed on that matrix and summed back per original
feature. :func:`split_pipeline` separates the preparing steps from the final estimator and
:func:`column_owners` walks them (through ``ColumnTransformer``, nested Pipelines and
``OneHotEncoder``), giving for each output column the index of the input feature it came from.
A step it cannot see through returns None, and the caller explains the whole model instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["column_owners", "split_pipeline"]


def split_pipeline(model: Any) -> tuple[list[Any], Any]:
    """``(preparing steps, final estimator)``; a bare estimator has no preparing steps."""
    steps = getattr(model, "steps", None)
    if not isinstance(steps, list) or not steps:
        return [], model
    prepare = [step for _, step in steps[:-1] if step is not None and step != "passthrough"]
    return prepare, steps[-1][1]


def column_owners(steps: Sequence[Any], n_inputs: int) -> list[int] | None:
    """For each column after ``steps``, the index of the input feature it comes from."""
    owners: list[int] | None = list(range(n_inputs))
    for step in steps:
        if owners is None:
            return None
        mapped = _step_owners(step, len(owners))
        if mapped is None:
            return None
        owners = [owners[i] for i in mapped]
    return owners


def _step_owners(step: Any, n_in: int) -> list[int] | None:
    """For each output column of one fitted step, the index of its input column."""
    name = type(step).__name__
    if name == "Pipeline":
        prepare = [s for _, s in step.steps if s is not None and s != "passthrough"]
        return column_owners(prepare, n_in)
    if name == "ColumnTransformer":
        return _column_transformer(step, n_in)
    if name == "OneHotEncoder":
        widths = getattr(step, "_n_features_outs", None)
        if widths is None:
            widths = [len(c) - (0 if step.drop is None else 1) for c in step.categories_]
        return [i for i, width in enumerate(widths) for _ in range(int(width))]
    width = _width(step, n_in)
    if width == n_in:  # imputers, scalers, encoders of one column each: column for column
        return list(range(n_in))
    if n_in == 1 and width is not None:
        return [0] * width
    return None


def _width(step: Any, n_in: int) -> int | None:
    for names in (None, [f"x{i}" for i in range(n_in)]):
        try:
            return len(step.get_feature_names_out(names))
        except Exception:  # fitted on other names, or no names at all: try the next way
            continue
    return None


def _column_transformer(ct: Any, n_in: int) -> list[int] | None:
    indices: dict[str, list[int]] | None = getattr(ct, "_transformer_to_input_indices", None)
    slices: dict[str, slice] | None = getattr(ct, "output_indices_", None)
    if indices is None or slices is None:
        return None
    owners: list[int | None] = [None] * max((s.stop for s in slices.values()), default=0)
    fitted = {name: trans for name, trans, _ in ct.transformers_}
    for name, out in slices.items():
        if out.stop <= out.start:
            continue
        inputs = indices.get(name, [])
        trans = fitted.get(name)
        if trans == "passthrough" or trans is None:
            inner: list[int] | None = list(range(len(inputs)))
        else:
            inner = _step_owners(trans, len(inputs))
        if inner is None or len(inner) != out.stop - out.start:
            return None
        for offset, j in enumerate(inner):
            owners[out.start + offset] = inputs[j]
    if any(o is None or o >= n_in for o in owners):
        return None
    return [int(o) for o in owners if o is not None]
