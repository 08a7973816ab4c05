"""Reading the training data a config names, and checking it against the config.

Errors are :class:`~shipyard.errors.InvalidInputError` naming the file, column or query and what
to do: a file that cannot be read, no rows, a column that does not exist, a target that does not
fit the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError, MissingDependencyError
from shipyard.training.config import PredictionsSource, SqlSource, TrainConfig

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.settings import Settings

__all__ = ["TrainingData", "load_data", "read_predictions", "read_source"]

_MAX_CLASSES = 50


@dataclass(frozen=True)
class TrainingData:
    X: pd.DataFrame
    y: pd.Series[Any]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    context: pd.DataFrame
    """Every column of the same rows but the target: the champion may need other features than
    the candidate, and a slice may be cut by a column the model does not use."""


def read_source(
    source: Path | SqlSource | PredictionsSource,
    *,
    target: str = "target",
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The table behind ``data:``: a CSV or Parquet file, the rows of a SQL query, or logged
    predictions with their feedback labels (as column ``target``; from the prediction log
    ``settings`` names, default ``Settings.load()``)."""
    import pandas as pd

    if isinstance(source, SqlSource):
        return _read_sql(source)
    if isinstance(source, PredictionsSource):
        return read_predictions(source, target, settings)
    if not source.is_file():
        raise InvalidInputError(f"data: {source} does not exist; fix the path in the config")
    try:
        if source.suffix.lower() == ".csv":
            return pd.read_csv(source)
        return pd.read_parquet(source)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # parse errors are ValueErrors
        raise InvalidInputError(f"data: cannot read {source}: {exc}") from exc


def _read_sql(source: SqlSource) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(source.url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        if isinstance(exc, ImportError):
            raise MissingDependencyError(
                f"data.url: the database driver is missing ({exc}); install it "
                "(for PostgreSQL: pip install 'shipyard[postgres]')"
            ) from exc
        raise InvalidInputError(f"data.url: {source.url!r} is not a SQLAlchemy URL") from exc
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(sa.text(source.sql), conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"data.sql: the query failed: {first_line}") from exc
    finally:
        engine.dispose()


def read_predictions(
    source: PredictionsSource, target: str, settings: Settings | None = None
) -> pd.DataFrame:
    """Logged inputs of ``source.model`` since ``source.since`` seconds ago, with the feedback
    label of each row as column ``target``; rows without a label are left out. Read in bounded
    chunks; fewer than ``source.min_rows`` labelled rows is an error naming both counts."""
    import time

    import pandas as pd

    from shipyard.predlog.store import PredictionStore, default_url
    from shipyard.predlog.window import iter_window

    if settings is None:
        from shipyard.settings import Settings

        settings = Settings.load()
    store = PredictionStore(settings.predlog_url or default_url(settings))
    parts, logged = [], 0
    try:
        start = time.time() - source.since
        for chunk in iter_window(store, source.model, version=source.version, start=start):
            logged += len(chunk)
            if chunk.actuals is None:
                continue
            labelled = pd.Series(chunk.actuals, dtype=object).notna().to_numpy()
            if not labelled.any():
                continue
            rows = chunk.inputs[labelled].reset_index(drop=True)
            if target in rows.columns:
                raise InvalidInputError(
                    f"target: {target!r} is also a logged input of {source.model!r}; name the "
                    "label column something else"
                )
            rows[target] = pd.Series(chunk.actuals[labelled]).infer_objects()
            parts.append(rows)
    finally:
        store.dispose()
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(frame) < source.min_rows:
        scope = "" if source.version is None else f" version {source.version}"
        raise InvalidInputError(
            f"data: {len(frame)} of the {logged} predictions {source.model!r}{scope} logged in "
            f"the last {_span(source.since)} have a feedback label; training needs at least "
            f"{source.min_rows} (data.min_rows). Send more feedback (shipyard feedback) or "
            "widen data.since"
        )
    return frame


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def load_data(
    config: TrainConfig, frame: pd.DataFrame | None = None, settings: Settings | None = None
) -> TrainingData:
    """The features and target the config asks for, with feature types inferred."""
    import pandas as pd
    from pandas.api import types as pdt

    if frame is None:
        frame = read_source(config.data, target=config.target, settings=settings)
    if frame.empty:
        raise InvalidInputError("data: the table has no rows; point data at the training set")
    columns = [str(c) for c in frame.columns]
    if config.target not in columns:
        raise InvalidInputError(
            f"target: no column {config.target!r} in the data (columns: {', '.join(columns)})"
        )
    features = list(config.features or [c for c in columns if c != config.target])
    missing = [f for f in features if f not in columns]
    if missing:
        raise InvalidInputError(
            f"features: no column(s) {', '.join(map(repr, missing))} in the data "
            f"(columns: {', '.join(columns)})"
        )
    if config.target in features:
        raise InvalidInputError(f"features: {config.target!r} is the target; leave it out")
    frame = frame.dropna(subset=[config.target])
    if frame.empty:
        raise InvalidInputError(f"target: every value of {config.target!r} is missing")
    y = frame[config.target].reset_index(drop=True)
    X = frame[features].reset_index(drop=True)
    context = frame.drop(columns=[config.target]).reset_index(drop=True)
    _check_target(y, config)
    numeric, categorical = [], []
    for name in features:
        dtype = X[name].dtype
        if pdt.is_bool_dtype(dtype):
            X[name] = X[name].astype("float64")
            numeric.append(name)
        elif pdt.is_numeric_dtype(dtype):
            numeric.append(name)
        elif pdt.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
            raise InvalidInputError(
                f"features: {name!r} holds dates; derive numbers from it (age, month) or leave "
                "it out of features"
            )
        else:
            X[name] = X[name].astype("object")
            categorical.append(name)
    return TrainingData(X, y, tuple(numeric), tuple(categorical), context)


def _check_target(y: pd.Series[Any], config: TrainConfig) -> None:
    from pandas.api import types as pdt

    distinct = int(y.nunique())
    if config.task == "classification":
        if distinct < 2:
            raise InvalidInputError(
                f"target: {config.target!r} has one class only; need two or more"
            )
        if pdt.is_float_dtype(y.dtype) and distinct > _MAX_CLASSES:
            raise InvalidInputError(
                f"task: classification, but target {config.target!r} has {distinct} distinct "
                "numbers; use task: regression for a continuous target"
            )
    elif not pdt.is_numeric_dtype(y.dtype) or pdt.is_bool_dtype(y.dtype):
        raise InvalidInputError(
            f"task: regression, but target {config.target!r} is not numeric; use task: "
            "classification for labels"
        )
