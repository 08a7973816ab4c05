"""A model card for a quickstart-like churn model renders with every section filled."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from shipyard import datasets
from shipyard.cards import (
    NOT_RECORDED,
    SECTIONS,
    model_card,
    read_info,
    render_html,
    render_markdown,
    write_card,
)
from shipyard.errors import InvalidInputError
from shipyard.training.gate_config import GatesConfig, MetricGate, SliceGate
from shipyard.training.gates import evaluate_gates

MCT_KEYS = {"model_details", "model_parameters", "quantitative_analysis", "considerations"}


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    """The quickstart recipe (one-hot + forest), smaller, with 5-fold cross-validation."""
    data = datasets.churn(1500, seed=7)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.25, random_state=7, stratify=data.y
    )
    pipeline = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), data.numeric),
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), data.categorical),
                    ]
                ),
            ),
            ("forest", RandomForestClassifier(n_estimators=30, min_samples_leaf=5, random_state=7)),
        ]
    )
    folds = cross_val_score(pipeline, X_train, y_train, cv=5, scoring="roc_auc")
    pipeline.fit(X_train, y_train)
    return {
        "model": pipeline,
        "X_train": X_train,
        "y_train": y_train,
        "X_test": X_test,
        "y_test": y_test,
        "folds": [float(f) for f in folds],
        "auc": float(roc_auc_score(y_test, pipeline.predict_proba(X_test)[:, 1])),
    }


def _register(registry: Any, trained: dict[str, Any]) -> Any:
    folds = trained["folds"]
    mean, std = sum(folds) / len(folds), float(stats.tstd(folds))
    version = registry.register(
        trained["model"],
        "churn",
        reference=trained["X_train"],
        target=trained["y_train"],
        metrics={"auc": trained["auc"], "cv_auc": mean, "cv_auc_std": std},
        params={"n_estimators": 30, "min_samples_leaf": 5},
        tags={
            "owner": "risk-team",
            "license": "Apache-2.0",
            "card.intended_use": "Rank customers by churn risk for retention offers.",
            "card.limitations": "Trained on synthetic data; not for credit decisions.",
            "card.out_of_scope": "Decisions about individuals without human review.",
        },
        description="Quickstart-like churn model",
        convert_onnx=False,
    )
    registry.store.attach(
        "churn", version.version, "training", None, {"cv_scores": folds}, registry.actor
    )
    gates = GatesConfig(
        metrics=(MetricGate("roc_auc", min=0.5),),
        slices=(SliceGate("contract", "roc_auc", min=0.5, min_rows=20),),
    )
    report = evaluate_gates(gates, registry.load(version.ref), trained["X_test"], trained["y_test"])
    registry.store.attach(
        "churn", version.version, "gate_report", None, report.to_dict(), registry.actor
    )
    from shipyard.monitoring.store import MonitorStore

    now = datetime.now(UTC)
    MonitorStore(registry.db).record_run(
        model="churn",
        version=version.version,
        window_start=None,
        window_end=now,
        rows=250,
        status="ok",
        report={"summary": "no drift in 10 features"},
        started_at=now,
    )
    return version


def _sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_quickstart_card_has_every_section_filled(registry: Any, trained: Any) -> None:
    version = _register(registry, trained)
    card = model_card(registry, version.ref, importance_rows=100)
    assert set(card) >= MCT_KEYS

    markdown = render_markdown(card)
    sections = _sections(markdown)
    assert list(sections) == list(SECTIONS)
    for title, body in sections.items():
        # the one expected gap: the holdout auc has no recorded spread, so no interval
        lines = [line for line in body.splitlines() if not line.startswith("| auc |")]
        assert NOT_RECORDED not in "\n".join(lines), (title, body)
        assert "no monitoring runs" not in body.lower(), title
        assert len(body.strip()) > 20, title

    details = card["model_details"]
    assert details["name"] == version.ref
    assert details["owners"][0]["name"] == "risk-team"
    assert details["licenses"] == [{"identifier": "Apache-2.0"}]
    assert card["considerations"]["use_cases"][0]["description"].startswith("Rank customers")

    # the confidence interval of cv_auc: a t-interval over the five recorded folds
    metrics = {m["type"]: m for m in card["quantitative_analysis"]["performance_metrics"]}
    folds = trained["folds"]
    half = stats.t.ppf(0.975, 4) * stats.tstd(folds) / math.sqrt(5)
    interval = metrics["cv_auc"]["confidence_interval"]
    assert float(interval["lower_bound"]) == pytest.approx(sum(folds) / 5 - half, rel=1e-5)
    assert float(interval["upper_bound"]) == pytest.approx(sum(folds) / 5 + half, rel=1e-5)
    assert metrics["auc"]["confidence_interval"] == NOT_RECORDED  # a holdout score: no spread

    slices = [m for m in card["quantitative_analysis"]["performance_metrics"] if m["slice"]]
    assert {m["slice"] for m in slices} == {
        f"contract={level}" for level in ("month-to-month", "one-year", "two-year")
    }
    importance = card["shipyard"]["global_importance"]
    assert set(importance["features"]) == set(trained["X_train"].columns)
    assert importance["rows"] == 100
    assert card["shipyard"]["monitoring"][0]["status"] == "ok"
    assert "no drift in 10 features" in sections["Monitoring"]
    assert "contract=month-to-month" in sections["Evaluation"]
    assert "tenure_months" in sections["Training Details"]


def test_missing_facts_are_named_not_hidden(registry: Any, trained: Any) -> None:
    version = registry.register(
        trained["model"], "bare", input_example=trained["X_train"].head(5), convert_onnx=False
    )
    card = model_card(registry, version.ref)
    markdown = render_markdown(card)
    sections = _sections(markdown)
    assert list(sections) == list(SECTIONS)
    assert "No monitoring runs since this version was registered." in sections["Monitoring"]
    assert "Global importance: not available" in sections["Model Examination"]
    assert f"Gate report: {NOT_RECORDED}" in sections["Evaluation"]
    assert f"Developed by: {NOT_RECORDED}" in sections["Model Details"]


def test_formats_are_written_and_html_is_self_contained(
    registry: Any, trained: Any, tmp_path: Path
) -> None:
    version = _register(registry, trained)
    card = model_card(registry, version.ref, importance_rows=50)
    paths = write_card(card, tmp_path / "cards", ["md", "html", "json"])
    assert [p.name for p in paths] == ["churn-1.md", "churn-1.html", "churn-1.json"]
    assert json.loads(paths[2].read_text())["model_details"]["name"] == "churn/1"
    page = render_html(card)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=|https?://", page)
    for title in SECTIONS:
        assert f"<h2>{title}</h2>".replace("&", "&amp;") in page


def test_info_file_fills_and_overrides_fields(registry: Any, trained: Any, tmp_path: Path) -> None:
    version = _register(registry, trained)
    info = tmp_path / "card.yaml"
    info.write_text(
        "intended_use: Weekly retention lists.\nlimitations:\n  - Synthetic data.\n"
        "  - Drifts with pricing changes.\nowners: alice, bob\n"
    )
    card = model_card(registry, version.ref, info=read_info(info), importance_rows=50)
    assert [o["name"] for o in card["model_details"]["owners"]] == ["alice", "bob"]
    assert [u["description"] for u in card["considerations"]["limitations"]] == [
        "Synthetic data.",
        "Drifts with pricing changes.",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("intended_uses: typo\n")
    with pytest.raises(InvalidInputError, match=r"unknown field.*intended_uses.*use: overview"):
        read_info(bad)
