"""The training config: a YAML file (or a dict) read strictly into frozen dataclasses.

Every mistake is a :class:`~shipyard.errors.ConfigError` naming the field (``gates.slices[0].min``)
and the fix. What can only be checked against the data (columns, the target's values) is checked
by :func:`shipyard.training.data.load_data` with the same care. A config looks like::

    data: churn.csv                 # .csv or .parquet, relative to this file; or
                                    # {sql: "SELECT ...", url: "sqlite:///shop.db"}; or, to
                                    # retrain: {source: predictions, model: churn, since: 7d}
    target: churned
    task: classification            # or regression
    features: [tenure_months, contract]   # optional: default all other columns
    split: {holdout: 0.2, folds: 5}
    metric: roc_auc                 # roc_auc accuracy f1 log_loss | rmse mae r2
    model: churn                    # the registry model to add a version to
    seed: 0
    threads: 1                      # native threads per fit (OpenMP, BLAS)
    families: [linear, random_forest, hist_gradient_boosting]   # default: + lightgbm, xgboost
                                    # when installed
    automl: {trials: 30, seconds: 60, workers: 1}   # omit to train families[0] as is
    gates:
      metrics: [{metric: roc_auc, min: 0.8}]
      champion: {metric: roc_auc, min_absolute_change: 0.0}
      slices: [{feature: region, metric: roc_auc, min: 0.7}]
      latency: {p99_single_ms: 20, p99_batch_ms: 100}
      memory: {max_artifact_mb: 50, max_predict_mb: 200}
      load: {min_rps: 50, max_p99_ms: 200, requests: 200, seconds: 10}   # or --load
    tags: {team: growth}
    description: monthly churn model
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import ConfigError
from shipyard.training._readers import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    metric_name,
    only,
    positive,
    section,
    text,
)
from shipyard.training.gate_config import GatesConfig, parse_gates

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "AutoMLConfig",
    "PredictionsSource",
    "SplitConfig",
    "SqlSource",
    "TrainConfig",
    "load_config",
]

FAMILIES = ("linear", "random_forest", "hist_gradient_boosting", "lightgbm", "xgboost")
# The scikit-learn families; the default search adds LightGBM and XGBoost when installed (their
# pipelines register through the composite flavor), see ``installed_families``.
DEFAULT_FAMILIES = ("linear", "random_forest", "hist_gradient_boosting")


@dataclasses.dataclass(frozen=True)
class SqlSource:
    sql: str
    url: str


@dataclasses.dataclass(frozen=True)
class PredictionsSource:
    """Retraining data: the predictions ``model`` logged in the last ``since`` seconds, joined
    with the feedback labels that arrived for them (rows without a label are left out). The
    label becomes the config's ``target`` column; the logged inputs are the features."""

    model: str
    since: float
    """Seconds back from now."""
    version: int | None = None
    """Only the rows one version predicted (default: every version)."""
    min_rows: int = 100
    """Fewer labelled rows than this is an error, not a model trained on too little."""


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    holdout: float = 0.2
    """Share of the rows kept out of training, for the holdout score and the gates."""
    folds: int = 5
    """k of the k-fold cross-validation on the remaining rows."""


@dataclasses.dataclass(frozen=True)
class AutoMLConfig:
    trials: int | None = 20
    seconds: float | None = 60.0
    workers: int = 1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: Path | SqlSource | PredictionsSource
    target: str
    task: str
    model: str
    metric: str = ""
    features: tuple[str, ...] | None = None
    split: SplitConfig = SplitConfig()
    seed: int = 0
    threads: int = 1
    """Native threads (OpenMP, BLAS) per model fit. One keeps fits fast on a busy machine, where
    OpenMP threads spin against each other; trials run in parallel with ``automl.workers``."""
    families: tuple[str, ...] = DEFAULT_FAMILIES
    automl: AutoMLConfig | None = None
    gates: GatesConfig = dataclasses.field(default_factory=GatesConfig)
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.metric:
            default = "roc_auc" if self.task == "classification" else "rmse"
            object.__setattr__(self, "metric", default)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON values (stored with the version, for lineage)."""
        data: dict[str, Any] = dataclasses.asdict(self)
        if isinstance(self.data, Path):
            data["data"] = str(self.data)
        elif isinstance(self.data, SqlSource):
            data["data"] = {"sql": self.data.sql, "url": redact_url(self.data.url)}
        else:
            data["data"] = {"source": "predictions", **dataclasses.asdict(self.data)}
        data["tags"] = dict(self.tags)
        return data

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def load_config(source: str | Path | Mapping[str, Any]) -> TrainConfig:
    """Read a config from a YAML file path or a mapping; relative data paths are resolved against
    the file's folder (the working directory for a mapping)."""
    if isinstance(source, Mapping):
        return _build(dict(source), Path.cwd())
    path = Path(source)
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read training config {path}: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}; fix the file") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a training config is a mapping of keys such as data, target, task"
        )
    try:
        return _build(raw, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _build(raw: dict[str, Any], base: Path) -> TrainConfig:
    only(raw, "", {f.name for f in dataclasses.fields(TrainConfig)})
    for key in ("data", "target", "task", "model"):
        if key not in raw:
            raise ConfigError(f"missing required field {key!r}; see `shipyard train --help`")
    task = text(raw, "task", "")
    if task not in ("classification", "regression"):
        raise ConfigError(f"task: {task!r} is not a task; use classification or regression")
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    metric = metric_name(raw.get("metric", allowed[0]), "metric", task)
    from shipyard.registry.refs import check_name

    model = text(raw, "model", "")
    try:
        check_name(model)
    except ValueError as exc:
        raise ConfigError(f"model: {exc}") from None
    features = raw.get("features")
    if features is not None:
        if (
            not isinstance(features, list)
            or not features
            or not all(isinstance(f, str) for f in features)
        ):
            raise ConfigError("features: give a non-empty list of column names, or leave it out")
        features = tuple(features)
    if "families" not in raw:
        from shipyard.training.pipeline import installed_families

        raw = {**raw, "families": list(installed_families())}
    families = raw.get("families")
    if not isinstance(families, list) or not families:
        raise ConfigError(f"families: give a non-empty list drawn from {', '.join(FAMILIES)}")
    for i, family in enumerate(families):
        if family not in FAMILIES:
            raise ConfigError(
                f"families[{i}]: unknown family {family!r}; use {', '.join(FAMILIES)}"
            )
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: must be a non-negative integer, got {seed!r}")
    tags = raw.get("tags", {})
    if not isinstance(tags, dict):
        raise ConfigError("tags: must be a mapping of tag names to values")
    return TrainConfig(
        data=_data(raw["data"], base),
        target=text(raw, "target", ""),
        task=task,
        model=model,
        metric=metric,
        features=features,
        split=_split(raw.get("split", {})),
        seed=seed,
        threads=int(positive(raw, "threads", "", 1, integer=True) or 1),
        families=tuple(families),
        automl=_automl(raw.get("automl")),
        gates=parse_gates(raw.get("gates", {}), task),
        tags={str(k): str(v) for k, v in tags.items()},
        description=text(raw, "description", ""),
    )


def _data(value: Any, base: Path) -> Path | SqlSource | PredictionsSource:
    if isinstance(value, str) and value:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base / path
        if path.suffix.lower() not in (".csv", ".parquet"):
            raise ConfigError(f"data: {value!r} must be a .csv or .parquet file, or {{sql:, url:}}")
        return path
    if isinstance(value, dict) and "source" in value:
        return _predictions(value)
    if isinstance(value, dict):
        only(value, "data", {"sql", "url"})
        sql, url = value.get("sql"), value.get("url")
        if not isinstance(sql, str) or not sql.strip() or not isinstance(url, str) or not url:
            raise ConfigError('data: a query needs both sql: "SELECT ..." and url: "sqlite:///..."')
        return SqlSource(sql, url)
    raise ConfigError(
        "data: give a .csv or .parquet path, {sql: ..., url: ...}, or "
        "{source: predictions, model: NAME, since: 7d}"
    )


def _predictions(value: dict[str, Any]) -> PredictionsSource:
    from shipyard.monitoring.alerts.rules import parse_duration
    from shipyard.registry.refs import check_name

    only(value, "data", {"source", "model", "since", "version", "min_rows"})
    if value["source"] != "predictions":
        raise ConfigError(
            f"data.source: {value['source']!r} is not a data source; use predictions (logged "
            "predictions joined with their feedback labels)"
        )
    model = value.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError("data.model: name the model whose logged predictions to train on")
    try:
        check_name(model)
    except ValueError as exc:
        raise ConfigError(f"data.model: {exc}") from None
    if "since" not in value:
        raise ConfigError("data.since: say how far back to read, for example since: 7d")
    since = parse_duration(value["since"], "data.since")
    if since <= 0:
        raise ConfigError(f"data.since: must be a positive duration, got {value['since']!r}")
    version = positive(value, "version", "data", None, integer=True)
    min_rows = positive(value, "min_rows", "data", 100, integer=True)
    return PredictionsSource(
        model, since, None if version is None else int(version), int(min_rows or 100)
    )


def _split(value: Any) -> SplitConfig:
    value = section(value, "split", SplitConfig)
    holdout, folds = value.get("holdout", 0.2), value.get("folds", 5)
    if not isinstance(holdout, int | float) or isinstance(holdout, bool) or not 0 < holdout < 1:
        raise ConfigError(
            f"split.holdout: must be a share between 0 and 1 (e.g. 0.2), got {holdout!r}"
        )
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= 20:
        raise ConfigError(f"split.folds: must be an integer from 2 to 20, got {folds!r}")
    return SplitConfig(float(holdout), folds)


def _automl(value: Any) -> AutoMLConfig | None:
    if value is None or value is False:
        return None
    value = section({} if value is True else value, "automl", AutoMLConfig)
    trials = positive(value, "trials", "automl", 20, integer=True)
    seconds = positive(value, "seconds", "automl", 60.0)
    workers = positive(value, "workers", "automl", 1, integer=True)
    if trials is None and seconds is None:
        raise ConfigError("automl: give trials, seconds or both, so the search ends")
    return AutoMLConfig(
        None if trials is None else int(trials), seconds, 1 if workers is None else int(workers)
    )


def redact_url(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid url>"
