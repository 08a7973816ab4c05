"""What a model version accepts and returns, and the one coercion of input data to it.

A :class:`Signature` lists the input features (name, dtype, kind, nullability, training range or
levels) and the output. :func:`infer_signature` reads it off training data; :func:`to_frame` is
the input coercion every prediction path uses (SDK and server): whatever the table form, it
returns a DataFrame with exactly the signature's features, in order, with the recorded dtypes, or
raises a :class:`~shipyard.errors.SignatureError` naming the feature and the fix.

Dtype names are portable: ``float64``/``int64`` (or another numpy width), ``bool``, ``string``
(text), ``object`` (anything else, passed through untouched) and ``datetime64[ns]`` (possibly
with a time zone: ``datetime64[ns, UTC]``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from shipyard.errors import InvalidInputError, SignatureError

__all__ = [
    "FeatureSpec",
    "OutputSpec",
    "Signature",
    "as_dataframe",
    "infer_signature",
    "kind_and_dtype",
]

Kind = Literal["numeric", "categorical", "boolean", "datetime"]
Task = Literal["classification", "regression"]
Scalar = str | int | float | bool
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "boolean", "datetime")
TASKS: tuple[Task, ...] = ("classification", "regression")
FORMAT_VERSION = 1
MAX_CLASSES = 20
# The installed pandas' own text dtype: object on pandas 2, "str" on pandas 3.
_OBJECT_KINDS: dict[str, tuple[Kind, str]] = {
    "string": ("categorical", "string"),
    "empty": ("categorical", "string"),
    "boolean": ("boolean", "bool"),
    "integer": ("numeric", "int64"),
    "floating": ("numeric", "float64"),
    "mixed-integer-float": ("numeric", "float64"),
    "datetime": ("datetime", "datetime64[ns]"),
    "datetime64": ("datetime", "datetime64[ns]"),
    "date": ("datetime", "datetime64[ns]"),
}


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidInputError(message)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (so that it prints and serializes plainly)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class FeatureSpec:
    """One input feature. ``min``/``max`` are the finite training range (numeric only);
    ``levels`` the sorted training levels of a text feature, or None when open-ended."""

    name: str
    dtype: str
    kind: Kind
    nullable: bool
    min: float | None = None
    max: float | None = None
    levels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "min", _plain(self.min))
        object.__setattr__(self, "max", _plain(self.max))
        _require(isinstance(self.name, str) and bool(self.name), "a feature needs a name")
        what = f"feature {self.name!r}:"
        _require(self.kind in KINDS, f"{what} kind must be one of {', '.join(KINDS)}")
        _require(
            _dtype_fits(self.kind, self.dtype), f"{what} {self.dtype!r} is no {self.kind} dtype"
        )
        _require(isinstance(self.nullable, bool), f"{what} nullable must be true or false")
        bounds_ok = all(b is None or _is_number(b) for b in (self.min, self.max))
        _require(bounds_ok, f"{what} min and max must be numbers or null")
        levels_ok = self.levels is None or (
            isinstance(self.levels, tuple) and all(isinstance(v, str) for v in self.levels)
        )
        _require(levels_ok, f"{what} levels must be strings or null")


@dataclass(frozen=True)
class OutputSpec:
    """What the version returns; ``classes`` in the model's own order (that of its probabilities)."""

    task: Task
    name: str = "prediction"
    dtype: str = "float64"
    classes: tuple[Scalar, ...] | None = None
    has_proba: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.classes, tuple):
            object.__setattr__(self, "classes", tuple(_plain(c) for c in self.classes))
        _require(self.task in TASKS, f"output task must be one of {', '.join(TASKS)}")
        _require(isinstance(self.name, str) and bool(self.name), "output name must be a string")
        _require(isinstance(self.dtype, str) and bool(self.dtype), "output dtype must be a string")
        classes_ok = self.classes is None or (
            isinstance(self.classes, tuple) and all(isinstance(c, Scalar) for c in self.classes)
        )
        _require(classes_ok, "output classes must be strings, numbers or booleans")
        _require(isinstance(self.has_proba, bool), "output has_proba must be true or false")
        plain = self.task == "classification" or (self.classes is None and not self.has_proba)
        _require(plain, "a regression output has no classes and no probabilities")


@dataclass(frozen=True)
class Signature:
    """The inputs a version accepts, in order, and its output (None when unknown)."""

    inputs: tuple[FeatureSpec, ...]
    output: OutputSpec | None = None

    def __post_init__(self) -> None:
        ok = isinstance(self.inputs, tuple) and all(isinstance(f, FeatureSpec) for f in self.inputs)
        _require(ok, "signature inputs must be a tuple of FeatureSpec")
        names = [f.name for f in self.inputs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        _require(not dupes, f"feature names must be unique; repeated: {', '.join(dupes)}")

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` turns it back into an equal signature."""
        inputs = [_listed(asdict(f)) for f in self.inputs]
        output = None if self.output is None else _listed(asdict(self.output))
        return {"format_version": FORMAT_VERSION, "inputs": inputs, "output": output}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Rebuild a signature from :meth:`to_dict`; raise InvalidInputError if malformed."""
        _check_keys(data, "signature", {"inputs"}, {"format_version", "output"})
        version = data.get("format_version", FORMAT_VERSION)
        _require(version == FORMAT_VERSION, f"unsupported signature format_version {version!r}")
        _require(isinstance(data["inputs"], list), "signature inputs must be a list")
        inputs = []
        for item in data["inputs"]:
            _check_keys(
                item, "feature", {"name", "dtype", "kind", "nullable"}, {"min", "max", "levels"}
            )
            inputs.append(FeatureSpec(**_tupled(item, "levels")))
        output = data.get("output")
        if output is not None:
            _check_keys(output, "output", {"task"}, {"name", "dtype", "classes", "has_proba"})
            output = OutputSpec(**_tupled(output, "classes"))
        return cls(inputs=tuple(inputs), output=output)


def as_dataframe(data: Any, *, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Turn a supported table form into a DataFrame, without coercing any value.

    Accepts a DataFrame (returned as is), a dict of columns, one record (a dict of scalars), a
    list of records (dicts), or a 2-D array / list of rows whose columns are ``names`` (``f0``,
    ``f1``, ... when not given).
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        if any(pdt.is_list_like(v) for v in data.values()):
            try:
                return pd.DataFrame(dict(data))
            except ValueError as exc:
                raise InvalidInputError(f"the columns must have the same length ({exc})") from exc
        data = [data]
    if isinstance(data, list | tuple) and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame(list(data))
    if isinstance(data, list | tuple) and all(
        isinstance(r, list | tuple | np.ndarray) for r in data
    ):
        widths = {len(r) for r in data}
        return _rows(list(data), widths.pop() if len(widths) == 1 else -1, names)
    if isinstance(data, np.ndarray) and data.ndim == 2:
        return _rows(data, data.shape[1], names)
    if isinstance(data, list | tuple | np.ndarray):
        raise InvalidInputError(
            "expected a 2-D table: wrap a single row in a list ([[...]]), or send records "
            "([{...}]) or a dict of columns"
        )
    raise InvalidInputError(
        f"unsupported input type {type(data).__name__}; send a DataFrame, a dict of columns, "
        "a list of records or a 2-D array"
    )


def _rows(rows: Any, width: int, names: Sequence[str] | None) -> pd.DataFrame:
    if names is not None and width != len(names):
        got = f"got {width}" if width >= 0 else "got rows of different lengths"
        raise SignatureError(
            f"each row must hold {len(names)} values, in this order: {', '.join(names)}; {got}"
        )
    _require(width >= 0, "all rows must hold the same number of values")
    return pd.DataFrame(rows, columns=list(names or [f"f{i}" for i in range(width)]))


def kind_and_dtype(column: pd.Series[Any]) -> tuple[Kind, str]:
    """The kind and portable dtype name a column is recorded with in a signature."""
    dt = column.dtype
    if isinstance(dt, pd.CategoricalDtype):
        text = pdt.infer_dtype(dt.categories, skipna=True) in ("string", "empty")
        return ("categorical", "string" if text else "object")
    if pdt.is_bool_dtype(dt):
        return ("boolean", "bool")
    if pdt.is_datetime64_any_dtype(dt):
        return ("datetime", str(dt))
    if pdt.is_integer_dtype(dt) or pdt.is_float_dtype(dt):
        return ("numeric", np.dtype(getattr(dt, "numpy_dtype", str(dt))).name)
    if pdt.is_string_dtype(dt) and not pdt.is_object_dtype(dt):
        return ("categorical", "string")
    if pdt.is_object_dtype(dt):
        return _OBJECT_KINDS.get(pdt.infer_dtype(column, skipna=True), ("categorical", "object"))
    return ("categorical", "object")


def infer_signature(
    X: Any,
    y: Any = None,
    *,
    classes: Sequence[Any] | None = None,
    has_proba: bool = False,
    max_levels: int = 100,
) -> Signature:
    """Read a signature off training data ``X`` (and target ``y``).

    Text features keep their sorted levels when there are at most ``max_levels`` of them (else
    ``levels=None``: open-ended). A feature is nullable when ``X`` has a missing value in it. The
    task is classification when ``classes`` is given, or ``y`` is boolean, text, categorical or
    integer with at most 20 distinct values; regression otherwise. ``classes`` (for example a
    model's ``classes_``) keeps its order; classes read off ``y`` are sorted.
    """
    frame = as_dataframe(X)
    _require(frame.shape[1] > 0, "X has no columns; a signature needs at least one feature")
    bad = [c for c in frame.columns if not isinstance(c, str)]
    _require(not bad, f"column names must be strings, got {bad[:1]}; name the columns")
    _require(not frame.columns.has_duplicates, "column names must be unique")
    inputs = tuple(_infer_feature(name, frame[name], max_levels) for name in frame.columns)
    return Signature(inputs=inputs, output=_infer_output(y, classes, has_proba))


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)


def _dtype_fits(kind: str, dtype: Any) -> bool:
    if kind == "categorical" or kind == "boolean" or not isinstance(dtype, str):
        return dtype in ("string", "object") if kind == "categorical" else dtype == "bool"
    try:
        parsed = pdt.pandas_dtype(dtype)
    except (TypeError, ValueError):
        return False
    if kind == "datetime":
        return pdt.is_datetime64_any_dtype(parsed)
    return isinstance(parsed, np.dtype) and parsed.kind in "iuf" and parsed.name == dtype


def _infer_feature(name: str, s: pd.Series[Any], max_levels: int) -> FeatureSpec:
    kind, dtype = kind_and_dtype(s)
    low = high = levels = None
    if kind == "numeric":
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size:
            as_py = int if np.dtype(dtype).kind in "iu" else float
            low, high = as_py(finite.min()), as_py(finite.max())
    elif kind == "categorical" and dtype == "string":
        unique = s.dropna().unique()
        levels = tuple(sorted(str(v) for v in unique)) if len(unique) <= max_levels else None
    return FeatureSpec(name, dtype, kind, bool(s.isna().any()), low, high, levels)


def _infer_output(y: Any, classes: Sequence[Any] | None, has_proba: bool) -> OutputSpec | None:
    if y is None and classes is None:
        _require(not has_proba, "has_proba=True needs y or classes to name the classes")
        return None
    source = y if y is not None else classes
    if isinstance(source, pd.DataFrame):
        _require(source.shape[1] == 1, "y must be one column; multi-output models are unsupported")
        source = source.iloc[:, 0]
    series = source if isinstance(source, pd.Series) else pd.Series(np.asarray(source))
    kind, dtype = kind_and_dtype(series)
    _require(kind != "datetime", "y holds date-times; an output must be a label or a number")
    observed = series.dropna().unique()
    labels = kind != "numeric" or (np.dtype(dtype).kind in "iu" and len(observed) <= MAX_CLASSES)
    if classes is None and not labels:
        return OutputSpec(task="regression", dtype=dtype, has_proba=has_proba)
    found = [_plain(c) for c in (observed if classes is None else classes)]
    if classes is None:
        try:
            found = sorted(found)
        except TypeError:
            found = sorted(found, key=str)
    _require(
        all(isinstance(c, Scalar) for c in found), "classes must be strings, numbers or booleans"
    )
    return OutputSpec(
        "classification", dtype=dtype, classes=tuple(cast(list[Scalar], found)), has_proba=has_proba
    )


def _check_keys(item: Any, what: str, required: set[str], optional: set[str]) -> None:
    _require(
        isinstance(item, Mapping), f"a {what} must be a JSON object, got {type(item).__name__}"
    )
    missing, unknown = sorted(required - item.keys()), sorted(set(item) - required - optional)
    _require(not missing, f"{what} is missing key(s): {', '.join(missing)}")
    _require(not unknown, f"{what} has unknown key(s): {', '.join(map(str, unknown))}")


def _listed(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def _tupled(item: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    _require(value is None or isinstance(value, list), f"{key} must be a list or null")
    return {**item, key: tuple(value)} if value is not None else dict(item)
