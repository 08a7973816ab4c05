"""``shipyard quickstart``: the end-to-end demo on the embedded default store.

Generates a churn data set locally, trains a scikit-learn pipeline, registers it with its
reference profile, makes it the champion, loads it back by alias and predicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shipyard.settings import Settings

__all__ = ["run"]


def run(settings: Settings | None = None, echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run the demo and return what it did (for tests); ``echo`` prints each step."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from shipyard import datasets
    from shipyard.registry.client import Registry

    started = time.perf_counter()
    settings = settings if settings is not None else Settings.load()
    registry = Registry(settings)
    data = datasets.churn(5000, seed=7)
    echo(
        f"1. generated a churn data set: {len(data.frame)} customers, "
        f"{len(data.numeric)} numeric and {len(data.categorical)} categorical features, "
        f"target '{data.target}' ({data.y.mean():.0%} churned)"
    )
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
            (
                "forest",
                RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=7),
            ),
        ]
    )
    pipeline.fit(X_train, y_train)
    proba = pipeline.predict_proba(X_test)[:, 1]
    metrics = {
        "auc": float(roc_auc_score(y_test, proba)),
        "accuracy": float(accuracy_score(y_test, pipeline.predict(X_test))),
    }
    echo(
        f"2. trained a scikit-learn pipeline (one-hot + 100-tree random forest): "
        f"AUC {metrics['auc']:.3f}, accuracy {metrics['accuracy']:.3f} on held-out data"
    )

    version = registry.register(
        pipeline,
        "churn",
        reference=X_train,
        target=y_train,
        metrics=metrics,
        params={"n_estimators": 100, "min_samples_leaf": 5},
        tags={"source": "quickstart"},
        description="Quickstart churn model",
    )
    echo(
        f"3. registered {version.ref} (flavor {version.flavor}, skops artifact "
        f"sha256 {version.artifact_digest[:12]}…, reference profile of {len(X_train)} rows)"
    )

    registry.set_alias("churn", "champion", version.version)
    echo(f"4. set churn@champion → {version.version}")

    model = registry.load("churn@champion")
    sample = X_test.head(3).to_dict(orient="records")
    predictions = model.predict(sample)
    probabilities = model.predict_proba(sample)[:, 1]
    echo("5. loaded churn@champion (digest verified) and predicted 3 customers:")
    for record, label, p in zip(sample, predictions, probabilities, strict=True):
        echo(
            f"   contract={record['contract']:<15} tenure={record['tenure_months']:>3} "
            f"→ churned={label} (p={p:.2f})"
        )
    served = _serve_and_predict(registry, X_test.head(2), echo)
    elapsed = time.perf_counter() - started
    echo(f"done in {elapsed:.1f}s; the registry lives in {settings.home}/\n")
    echo("Next, try:")
    for line in (
        "shipyard serve churn@champion --port 8080",
        "shipyard models list",
        f"shipyard versions show {version.ref}",
        "shipyard alias history churn",
        "shipyard audit verify",
        "python -c \"import shipyard; print(shipyard.load('churn@champion'))\"",
    ):
        echo(f"  {line}")
    registry.close()
    return {
        "version": version,
        "metrics": metrics,
        "predictions": list(predictions),
        "served": served,
        "seconds": elapsed,
    }


def _serve_and_predict(registry: Any, rows: Any, echo: Callable[[str], Any]) -> dict[str, Any]:
    """Serve churn@champion on a free loopback port, predict through two protocols, stop."""
    from shipyard.serving.background import BackgroundServer, post_json
    from shipyard.serving.server import build_app

    records = rows.to_dict(orient="records")
    v2_body = {
        "inputs": [
            {
                "name": name,
                "shape": [len(records)],
                "datatype": "BYTES" if isinstance(records[0][name], str) else "FP64",
                "data": [None if r[name] != r[name] else r[name] for r in records],
            }
            for name in rows.columns
        ]
    }
    with BackgroundServer(build_app(registry, ["churn@champion"])) as url:
        echo(f"6. started the model server on {url} (the same app `shipyard serve` runs)")
        status, v2 = post_json(f"{url}/v2/models/churn/infer", v2_body)
        labels = next(o["data"] for o in v2["outputs"] if o["name"] == "label")
        echo(
            f"   POST /v2/models/churn/infer (Open Inference Protocol) → {status}: "
            f"model_version {v2['model_version']}, label {labels}"
        )
        status_ml, ml = post_json(f"{url}/invocations", {"dataframe_records": records})
        echo(
            f"   POST /invocations (MLflow scoring format) → {status_ml}: "
            f"predictions {ml['predictions']}"
        )
    echo("   stopped the server")
    return {"v2": labels, "mlflow": ml["predictions"], "status": [status, status_ml]}
