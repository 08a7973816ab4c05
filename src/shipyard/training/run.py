"""``train(config)``: from a data set and a config to a registered, validated version.

1. read and check the data; keep ``split.holdout`` of the rows aside;
2. AutoML across the families (or the first family with its defaults) with k-fold CV;
3. refit the best candidate on the training rows, score it on the holdout;
4. register it with the training rows as reference data, the metrics, the parameters and the
   config; attach the search history;
5. load it back from the registry (what would be served) and run the gates on the holdout (the
   ``load`` gate through a local HTTP server); the report is attached as ``gate_report`` and a failing version is set to ``rejected``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import NotFoundError
from shipyard.registry.entities import VersionStatus
from shipyard.training.automl import Candidate, SearchResult, search
from shipyard.training.config import TrainConfig, load_config
from shipyard.training.data import load_data
from shipyard.training.evaluate import cross_validate, holdout_split, limit_threads
from shipyard.training.gates import GateReport, evaluate_gates
from shipyard.training.metrics import score_model
from shipyard.training.pipeline import build_pipeline, check_storable, default_params

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True)
class TrainResult:
    version: ModelVersion
    family: str
    params: dict[str, Any]
    metric: str
    cv_mean: float
    cv_std: float
    cv_scores: tuple[float, ...]
    holdout: float
    gates: GateReport
    search: SearchResult | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.gates.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version.to_dict(),
            "family": self.family,
            "params": self.params,
            "metric": self.metric,
            "cv_mean": self.cv_mean,
            "cv_std": self.cv_std,
            "cv_scores": list(self.cv_scores),
            "holdout": self.holdout,
            "passed": self.passed,
            "gates": self.gates.to_dict(),
            "search": None if self.search is None else self.search.to_dict(),
            "seconds": round(self.seconds, 3),
        }


def train(
    config: TrainConfig | Mapping[str, Any] | str | Path,
    registry: Registry | None = None,
    *,
    frame: pd.DataFrame | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train, register and validate one version as ``config`` says.

    ``registry`` defaults to the one ``Settings.load()`` configures; ``frame`` replaces the
    config's ``data`` (for callers that already hold the rows)."""
    cfg = config if isinstance(config, TrainConfig) else load_config(config)
    if registry is None:
        from shipyard.registry.client import Registry
        from shipyard.settings import Settings

        owned = Registry(Settings.load())
        try:
            return _train(cfg, owned, frame, progress)
        finally:
            owned.close()
    return _train(cfg, registry, frame, progress)


def _train(
    cfg: TrainConfig, registry: Registry, frame: pd.DataFrame | None, progress: bool
) -> TrainResult:
    started = time.monotonic()
    for family in cfg.families:
        check_storable(family, registry.settings)  # before any time is spent
    data = load_data(cfg, frame, registry.settings)
    train_part, holdout = holdout_split(data, cfg.task, cfg.split.holdout, cfg.seed)

    found: SearchResult | None = None
    if cfg.automl is not None:
        workers = cfg.automl.workers
        found = search(
            train_part,
            task=cfg.task,
            metric=cfg.metric,
            families=cfg.families,
            folds=cfg.split.folds,
            seed=cfg.seed,
            budget=cfg.automl,
            threads=cfg.threads,
            storage_url=registry.settings.resolved_database_url if workers > 1 else None,
            progress=progress,
        )
        best = found.best
    else:
        family = cfg.families[0]
        params = default_params(family)
        scores = cross_validate(
            family,
            params,
            train_part,
            task=cfg.task,
            metric=cfg.metric,
            folds=cfg.split.folds,
            seed=cfg.seed,
            threads=cfg.threads,
        )
        best = Candidate(family, params, tuple(scores))

    model = build_pipeline(
        best.family,
        cfg.task,
        best.params,
        numeric=data.numeric,
        categorical=data.categorical,
        seed=cfg.seed,
    )
    with limit_threads(cfg.threads):
        model.fit(train_part.X, train_part.y)
    holdout_score = score_model(cfg.metric, model, holdout.X, holdout.y)
    if holdout_score is None:
        from shipyard.errors import InvalidInputError

        raise InvalidInputError(
            f"metric: {cfg.metric} is undefined on the holdout (one class only); raise "
            "split.holdout or add data"
        )
    version = _register(cfg, registry, model, best, holdout_score, train_part, found)
    report = _run_gates(cfg, registry, version, holdout)
    actor = registry.actor
    registry.store.attach(
        version.model, version.version, "gate_report", None, report.to_dict(), actor
    )
    if not report.passed:
        registry.set_status(version.ref, VersionStatus.REJECTED)
    return TrainResult(
        version=registry.get_version(version.ref),
        family=best.family,
        params=best.params,
        metric=cfg.metric,
        cv_mean=best.mean,
        cv_std=best.std,
        cv_scores=best.fold_scores,
        holdout=holdout_score,
        gates=report,
        search=found,
        seconds=time.monotonic() - started,
    )


def _register(
    cfg: TrainConfig,
    registry: Registry,
    model: Any,
    best: Candidate,
    holdout_score: float,
    train_part: Any,
    found: SearchResult | None,
) -> ModelVersion:
    config = cfg.to_dict()
    config_digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    metrics = {
        f"cv_{cfg.metric}": best.mean,
        f"cv_{cfg.metric}_std": best.std,
        cfg.metric: holdout_score,
    }
    params = {"family": best.family, **best.params, "seed": cfg.seed}
    tags = {
        **cfg.tags,
        "shipyard.trained_by": "shipyard train",
        "shipyard.family": best.family,
        "shipyard.config_sha256": config_digest,
    }
    version = registry.register(
        model,
        cfg.model,
        reference=train_part.X,
        target=train_part.y,
        metrics=metrics,
        params=params,
        tags=tags,
        description=cfg.description,
    )
    training = {
        "config": config,
        "seed": cfg.seed,
        "cv_scores": list(best.fold_scores),
        "search": None if found is None else found.to_dict(),
    }
    registry.store.attach(
        version.model, version.version, "training", None, training, registry.actor
    )
    return version


def _run_gates(
    cfg: TrainConfig, registry: Registry, version: ModelVersion, holdout: Any
) -> GateReport:
    loaded = registry.load(version.ref)  # the gates judge what would be served
    champion = champion_ref = None
    if cfg.gates.champion is not None:
        try:
            current = registry.get_version(f"{cfg.model}@{cfg.gates.champion.alias}")
        except NotFoundError:
            current = None
        if current is not None:
            champion, champion_ref = registry.load(current.ref), current.ref
    report = evaluate_gates(
        cfg.gates,
        loaded,
        holdout.X,
        holdout.y,
        champion=champion,
        champion_ref=champion_ref,
        artifact_size=version.artifact_size,
        context=holdout.context,
    )
    if cfg.gates.load is None:
        return report
    from shipyard.training.load_gate import run_load_gate

    load = run_load_gate(cfg.gates.load, registry, version, holdout.X)
    return GateReport((*report.results, load), report.holdout_rows)
