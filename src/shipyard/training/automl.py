"""AutoML: an Optuna search across the model families and their hyper-parameters.

Each trial picks a family, then its parameters, and cross-validates; the running mean after each
fold is reported so a ``MedianPruner`` can stop a hopeless trial early. The search ends at the
trial budget or the time budget, whichever comes first. The sampler is ``TPESampler(seed)``, so
with one worker and a trial budget the same data and seed give the same trials and scores.

With ``workers > 1`` the study lives in an Optuna RDB storage on the registry's database (Optuna
creates its own tables beside ours; our Alembic table is ``shipyard_alembic_version``), and
``workers - 1`` spawned processes join this one; on PostgreSQL, workers on other machines could
join the same study by its name. Optuna is imported only here (``pip install 'shipyard[automl]'``).
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError, require
from shipyard.training.evaluate import cross_validate
from shipyard.training.metrics import GREATER_IS_BETTER
from shipyard.training.pipeline import FAMILY_SPECS, Params

if TYPE_CHECKING:
    import optuna

    from shipyard.training.config import AutoMLConfig
    from shipyard.training.data import TrainingData

__all__ = ["Candidate", "SearchResult", "search"]

HISTORY_SIZE = 10


@dataclass(frozen=True)
class Candidate:
    """A family with its parameters and its cross-validation scores."""

    family: str
    params: Params
    fold_scores: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.fold_scores)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.fold_scores)


@dataclass(frozen=True)
class SearchResult:
    best: Candidate
    n_trials: int
    n_complete: int
    n_pruned: int
    seconds: float
    study_name: str
    storage: str
    history: tuple[dict[str, Any], ...] = field(default=())
    """The best complete trials, best first: number, family, params, score, fold scores."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": {
                "family": self.best.family,
                "params": self.best.params,
                "score": self.best.mean,
            },
            "n_trials": self.n_trials,
            "n_complete": self.n_complete,
            "n_pruned": self.n_pruned,
            "seconds": round(self.seconds, 3),
            "study_name": self.study_name,
            "storage": self.storage,
            "history": list(self.history),
        }


@dataclass
class _Objective:
    """One trial: pick a family and its parameters, cross-validate, report each fold.

    A plain picklable object, so spawned worker processes can run it too."""

    data: TrainingData
    families: tuple[str, ...]
    task: str
    metric: str
    folds: int
    seed: int
    threads: int
    deadline: float | None = None
    """Wall-clock end of the time budget (``time.time()``): a trial still running then stops
    after its current fold, once another trial has completed, so one slow trial on a large data
    set overruns the budget by at most one fold."""

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        family = str(trial.suggest_categorical("family", list(self.families)))
        params = FAMILY_SPECS[family].suggest(trial, self.task)
        scores: list[float] = []

        def on_fold(step: int, value: float) -> None:
            scores.append(value)
            trial.report(statistics.fmean(scores), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
            if self.deadline is not None and time.time() > self.deadline and _any_complete(trial):
                trial.set_user_attr("stopped", "time budget")
                raise optuna.TrialPruned()

        cross_validate(
            family,
            params,
            self.data,
            task=self.task,
            metric=self.metric,
            folds=self.folds,
            seed=self.seed,
            threads=self.threads,
            on_fold=on_fold,
        )
        trial.set_user_attr("family", family)
        trial.set_user_attr("params", params)
        trial.set_user_attr("fold_scores", scores)
        return statistics.fmean(scores)


def search(
    data: TrainingData,
    *,
    task: str,
    metric: str,
    families: tuple[str, ...],
    folds: int,
    seed: int,
    budget: AutoMLConfig,
    threads: int = 1,
    storage_url: str | None = None,
    study_name: str | None = None,
    progress: bool = False,
) -> SearchResult:
    """Search ``families`` under ``budget``; ``storage_url`` (required when ``budget.workers > 1``)
    is the SQLAlchemy URL the study is kept in, else it stays in memory."""
    require("optuna", "automl")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    deadline = None if budget.seconds is None else time.time() + budget.seconds
    objective = _Objective(data, families, task, metric, folds, seed, threads, deadline)
    name = study_name or f"shipyard-{uuid.uuid4().hex[:12]}"
    if budget.workers > 1 and storage_url is None:
        raise ShipyardError("automl.workers > 1 needs a database for the shared study")
    storage: Any = _storage(storage_url) if storage_url else optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize" if GREATER_IS_BETTER[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    )
    for starter in _starters(families, task):  # cheap, sound defaults first (see _starters)
        study.enqueue_trial(starter, skip_if_exists=True)
    started = time.monotonic()
    try:
        workers = _start_workers(storage_url, name, objective, budget, seed) if storage_url else []
        callbacks: list[Any] = []
        if budget.trials is not None:
            callbacks.append(optuna.study.MaxTrialsCallback(budget.trials, states=_finished()))
        with _ProgressBar(progress, budget, study) as tick:
            if tick is not None:
                callbacks.append(tick)
            study.optimize(
                objective, n_trials=budget.trials, timeout=budget.seconds, callbacks=callbacks
            )
        for process in workers:
            process.join()
            if process.exitcode != 0:
                raise ShipyardError(
                    f"an AutoML worker process exited with code {process.exitcode}; see its "
                    "output above"
                )
        return _result(study, metric, time.monotonic() - started, storage_url)
    finally:
        _close(storage)


def _starters(families: tuple[str, ...], task: str) -> list[dict[str, Any]]:
    """The first trials: each fast family with its library's default parameters. On a large
    data set a random first trial can be a 300-tree deep forest that eats the whole time budget;
    starting with these, every search has sound, quick candidates to compare against."""
    linear = {"linear.C": 1.0} if task == "classification" else {"linear.alpha": 1.0}
    defaults: dict[str, dict[str, Any]] = {
        "linear": linear,
        "hist_gradient_boosting": {
            "hist_gradient_boosting.learning_rate": 0.1,
            "hist_gradient_boosting.max_iter": 100,
            "hist_gradient_boosting.max_leaf_nodes": 31,
            "hist_gradient_boosting.min_samples_leaf": 20,
            "hist_gradient_boosting.l2_regularization": 1e-6,
        },
        "lightgbm": {
            "lightgbm.n_estimators": 100,
            "lightgbm.learning_rate": 0.1,
            "lightgbm.num_leaves": 31,
            "lightgbm.min_child_samples": 20,
            "lightgbm.reg_lambda": 1e-6,
        },
    }
    return [{"family": f, **params} for f, params in defaults.items() if f in families]


def _any_complete(trial: optuna.Trial) -> bool:
    import optuna

    complete = (optuna.trial.TrialState.COMPLETE,)
    return bool(trial.study.get_trials(deepcopy=False, states=complete))


def _close(storage: Any) -> None:
    import optuna

    if isinstance(storage, optuna.storages.RDBStorage):
        storage.remove_session()
        storage.engine.dispose()


def _storage(url: str) -> Any:
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def _worker(
    url: str, name: str, objective: _Objective, budget: AutoMLConfig, seed: int
) -> None:  # pragma: no cover - runs in a spawned process
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(url)
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    )
    callbacks: list[Any] = []
    if budget.trials is not None:
        callbacks.append(optuna.study.MaxTrialsCallback(budget.trials, states=_finished()))
    try:
        study.optimize(
            objective, n_trials=budget.trials, timeout=budget.seconds, callbacks=callbacks
        )
    finally:
        _close(storage)


def _start_workers(
    url: str, name: str, objective: _Objective, budget: AutoMLConfig, seed: int
) -> list[Any]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fork would copy locks and open connections
    processes = []
    for i in range(1, budget.workers):
        process = context.Process(
            target=_worker, args=(url, name, objective, budget, seed + i), daemon=True
        )
        process.start()
        processes.append(process)
    return processes


class _ProgressBar:
    """A rich progress bar over finished trials, or nothing when not interactive."""

    def __init__(self, enabled: bool, budget: AutoMLConfig, study: optuna.Study) -> None:
        self.enabled, self.budget, self.study = enabled, budget, study
        self.progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import Progress

        self.progress = Progress(transient=True)
        self.progress.start()
        total = self.budget.trials
        task = self.progress.add_task("AutoML trials", total=total)

        def tick(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
            done = len(study.get_trials(deepcopy=False, states=_finished()))
            try:
                best = f" (best {study.best_value:.4f})"
            except ValueError:  # no complete trial yet
                best = ""
            self.progress.update(task, completed=done, description=f"AutoML trials{best}")

        return tick

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _finished() -> tuple[Any, ...]:
    import optuna

    return (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _result(study: optuna.Study, metric: str, seconds: float, url: str | None) -> SearchResult:
    import optuna

    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == state.COMPLETE and t.value is not None]
    if not complete:
        raise ShipyardError(
            "AutoML finished no trial within its budget; raise automl.seconds or automl.trials"
        )
    reverse = GREATER_IS_BETTER[metric]
    complete.sort(key=lambda t: (-t.value if reverse else t.value, t.number))  # type: ignore[operator]
    best = complete[0]
    history = tuple(
        {
            "number": t.number,
            "family": t.user_attrs["family"],
            "params": t.user_attrs["params"],
            "score": t.value,
            "fold_scores": t.user_attrs["fold_scores"],
        }
        for t in complete[:HISTORY_SIZE]
    )
    from shipyard.training.config import redact_url

    return SearchResult(
        best=Candidate(
            best.user_attrs["family"],
            dict(best.user_attrs["params"]),
            tuple(best.user_attrs["fold_scores"]),
        ),
        n_trials=len(trials),
        n_complete=len(complete),
        n_pruned=sum(t.state == state.PRUNED for t in trials),
        seconds=seconds,
        study_name=study.study_name,
        storage=redact_url(url) if url else "memory",
        history=history,
    )
