"""Attribution drift as a monitored figure: a real forest, a real prediction log, the default
rule (NDCG below 0.9) firing when live traffic changes which features the model leans on, and
staying quiet when it does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.monitoring.alerts import AlertRule
from shipyard.monitoring.alerts.defaults import DEFAULT_RULES
from shipyard.monitoring.attribution import window_attribution
from shipyard.monitoring.html import render_html
from shipyard.monitoring.run import run_monitor
from shipyard.monitoring.store import MonitorStore
from shipyard.predlog import PredictionRecord, PredictionStore
from shipyard.predlog.record import to_row
from shipyard.predlog.window import read_window

T0 = 1_760_000_000.0
FEATURES = ["load", "temperature", "humidity", "wind", "hour"]


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({name: rng.uniform(0.0, 10.0, n) for name in FEATURES})
    # load matters most, then temperature, then humidity; wind and hour not at all
    y = 3.0 * X["load"] + 1.5 * X["temperature"] + 0.5 * X["humidity"] + rng.normal(0, 0.3, n)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def forest() -> tuple[Any, pd.DataFrame, np.ndarray[Any, Any]]:
    from sklearn.ensemble import RandomForestRegressor

    X, y = _data(2_000, seed=0)
    model = RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0, n_jobs=1)
    return model.fit(X, y), X, y


@pytest.fixture
def plog(tmp_path: Path) -> Iterator[PredictionStore]:
    store = PredictionStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    yield store
    store.dispose()


def _log(store: PredictionStore, model: Any, frame: pd.DataFrame, *, at: float, tag: str) -> None:
    predictions = model.predict(frame)
    rows = []
    for i, inputs in enumerate(frame.to_dict(orient="records")):
        record = PredictionRecord(
            f"{tag}-{i}", 0, "power", "power", 1, inputs, float(predictions[i]),
            time=at + i * 0.001,
        )  # fmt: skip
        rows.append(to_row(record, inputs))
    store.insert(rows)


def test_attribution_drift_fires_the_default_rule(
    registry: Any, plog: PredictionStore, forest: Any
) -> None:
    model, X, y = forest
    version = registry.register(model, "power", reference=X, target=y, convert_onnx=False)
    same, _ = _data(300, seed=1)
    _log(plog, model, same, at=T0, tag="same")
    # Live traffic where load and temperature no longer vary: the forest's answers now turn on
    # humidity, so the features it leans on are no longer training's.
    shifted, _ = _data(300, seed=2)
    shifted["load"] = float(X["load"].median())
    shifted["temperature"] = float(X["temperature"].median())
    _log(plog, model, shifted, at=T0 + 1_000, tag="shifted")

    quiet = run_monitor(registry, plog, "power", since=T0 - 1, until=T0 + 500)
    assert quiet.rows == 300
    assert quiet.attribution is not None
    assert quiet.attribution.ndcg >= 0.9
    assert quiet.figures["attribution.ndcg"] == quiet.attribution.ndcg
    assert quiet.figures["attribution.rows"] == 200  # the default bound, of 300 rows
    assert list(quiet.attribution.training)[:3] == ["load", "temperature", "humidity"]
    assert not quiet.fired
    assert "attribution-drift" in quiet.states and quiet.states["attribution-drift"].status == "ok"

    # the training importance the monitor ranked against is the version's attachment
    stored = [a for a in registry.attachments(version.ref) if a.kind == "importance"]
    assert len(stored) == 1
    assert quiet.attribution.training == stored[0].data["features"]

    loud = run_monitor(registry, plog, "power", until=T0 + 2_000)  # from the previous cursor
    assert loud.rows == 300
    assert loud.attribution is not None
    assert loud.attribution.ndcg < 0.9
    assert next(iter(loud.attribution.live)) == "humidity"
    assert loud.status == "alert"
    [fired] = loud.fired
    assert (fired["rule"], fired["figure"], fired["op"]) == (
        "attribution-drift",
        "attribution.ndcg",
        "<",
    )
    assert fired["threshold"] == 0.9 and fired["value"] == pytest.approx(loud.attribution.ndcg)
    assert fired["delivered"] == ["log"]

    # recorded with the run, and shown by the report in each form
    runs = MonitorStore(registry.db).runs("power")
    assert [r.report["attribution"]["alert"] for r in runs] == [False, True]
    assert runs[-1].report["figures"]["attribution.ndcg"] == pytest.approx(loud.attribution.ndcg)
    text = "\n".join(loud.summary())
    assert f"attribution drift: NDCG {loud.attribution.ndcg:.3f}" in text
    assert "alert firing: attribution-drift" in text
    page = render_html(loud.to_dict(), [r.report for r in runs])
    assert "<h2>Attribution drift</h2>" in page and "humidity" in page


def test_a_rule_of_the_same_name_replaces_the_default(
    registry: Any, plog: PredictionStore, forest: Any
) -> None:
    model, X, y = forest
    registry.register(model, "power", reference=X, target=y, convert_onnx=False)
    shifted, _ = _data(120, seed=3)
    shifted["load"] = float(X["load"].median())
    shifted["temperature"] = float(X["temperature"].median())
    _log(plog, model, shifted, at=T0, tag="shifted")
    quieter = AlertRule.from_dict(
        {**DEFAULT_RULES[0].to_dict(), "threshold": 0.1, "channels": ["log"]}
    )
    result = run_monitor(
        registry, plog, "power", since=T0 - 1, until=T0 + 500, rules=[quieter], record=False
    )
    assert result.attribution is not None and 0.1 <= result.attribution.ndcg < 0.9
    assert not result.fired
    assert result.states["attribution-drift"].status == "ok"


def test_bounded_and_skipped_when_it_cannot_be_computed(
    registry: Any, plog: PredictionStore, forest: Any
) -> None:
    model, X, y = forest
    version = registry.register(model, "power", reference=X, target=y, convert_onnx=False)
    same, _ = _data(60, seed=4)
    _log(plog, model, same, at=T0, tag="same")
    window = read_window(plog, "power", start=T0 - 1, end=T0 + 500)

    notes: list[str] = []
    assert window_attribution(registry, version, window, notes, rows=0) is None  # turned off
    few = window_attribution(registry, version, window, notes, rows=16)
    assert few is not None and (few.rows, few.available, few.truncated) == (16, 60, False)

    dropped = window.inputs.drop(columns=["humidity"])
    from dataclasses import replace

    partial = replace(window, inputs=dropped)
    assert window_attribution(registry, version, partial, notes) is None
    assert "missing: humidity" in notes[-1]

    unexplained = registry.register(model, "power", input_example=X.head(5), convert_onnx=False)
    assert window_attribution(registry, unexplained, window, notes) is None  # no reference data
