"""``shipyard quickstart``: the end-to-end demo on the embedded default store.

Generates a churn data set locally, trains a scikit-learn pipeline, registers it with its
reference profile, makes it the champion, loads it back by alias and predicts. Then it serves
the model, sends a batch of normal traffic and a batch with drift injected into two features
(and their true labels), and runs the monitor twice with an alert rule delivered to a webhook
receiver on loopback: nothing is flagged on the normal batch; exactly the two shifted features
are flagged on the second, and the alert reaches the receiver.

With ``--keep-serving`` the CLI then leaves ``shipyard serve churn@champion`` running on
loopback, with the web console at ``/ui`` (:func:`keep_serving`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from shipyard.settings import Settings

__all__ = ["check_port", "keep_serving", "run"]

HOST = "127.0.0.1"


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
    monitored = _monitor_demo(registry, settings, echo)
    canary = _canary_demo(registry, pipeline, echo)
    elapsed = time.perf_counter() - started
    echo(f"done in {elapsed:.1f}s; the registry lives in {settings.home}/\n")
    echo("Next, try:")
    for line in (
        "shipyard serve churn@champion --port 8080",
        "shipyard models list",
        f"shipyard versions show {version.ref}",
        "shipyard alias history churn",
        "shipyard monitor report churn --since 24h --format html --out report.html",
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
        "monitor": monitored,
        "canary": canary,
        "seconds": elapsed,
    }


def _serve_and_predict(registry: Any, rows: Any, echo: Callable[[str], Any]) -> dict[str, Any]:
    """Serve churn@champion on a free loopback port, predict through two protocols, stop."""
    from shipyard.serving.background import BackgroundServer, post_json, v2_body
    from shipyard.serving.server import build_app

    records = rows.to_dict(orient="records")
    body = v2_body(rows)
    with BackgroundServer(build_app(registry, ["churn@champion"])) as url:
        echo(f"6. started the model server on {url} (the same app `shipyard serve` runs)")
        status, v2 = post_json(f"{url}/v2/models/churn/infer", body)
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


DRIFTED = ("monthly_charges", "tenure_months")
_BATCH_ROWS = 600
_REQUEST_ROWS = 100


def _canary_demo(registry: Any, pipeline: Any, echo: Callable[[str], Any]) -> dict[str, Any]:
    """Retrain on fresh data, register the candidate, and let a canary on the running server
    promote it: traffic and feedback go in, the rollout controller decides."""
    from sklearn.base import clone

    from shipyard import datasets
    from shipyard.rollouts.demo import run_canary_demo
    from shipyard.serving.background import BackgroundServer
    from shipyard.serving.server import build_app

    fresh = datasets.churn(5000, seed=8)
    retrained = clone(pipeline).fit(fresh.X, fresh.y)
    candidate = registry.register(
        retrained,
        "churn",
        reference=fresh.X,
        target=fresh.y,
        tags={"source": "quickstart", "retrained": "true"},
        description="Quickstart churn model, retrained on fresh data",
    )
    echo(f"9. retrained on 5000 fresh customers and registered {candidate.ref}")
    with BackgroundServer(build_app(registry, ["churn@champion"], rollout_interval=0.5)) as url:
        promoted = run_canary_demo(registry, url, "churn", candidate.version, echo)
    champion = registry.get_model("churn").aliases.get("champion")
    echo(
        f"   the canary {'promoted' if promoted else 'did not promote'} {candidate.ref}: "
        f"churn@champion → {champion}"
    )
    return {"version": candidate.version, "promoted": promoted, "champion": champion}


def _monitor_demo(registry: Any, settings: Settings, echo: Callable[[str], Any]) -> dict[str, Any]:
    """Normal traffic, then traffic with two drifted features, each monitored in its own window,
    with a drift rule that posts to a webhook receiver started here on loopback."""
    from shipyard import datasets
    from shipyard.errors import ShipyardError
    from shipyard.monitoring.alerts import AlertRule
    from shipyard.monitoring.alerts.channels import WebhookChannel
    from shipyard.monitoring.run import run_monitor
    from shipyard.predlog import PredictionStore, default_url
    from shipyard.serving.background import BackgroundServer, post_json, v2_body
    from shipyard.serving.server import build_app

    normal = datasets.churn(_BATCH_ROWS, seed=9)
    later = datasets.churn(_BATCH_ROWS, seed=12)
    shifted = datasets.inject_drift(later.X, columns=list(DRIFTED), strength=1.5, seed=12)
    batches = (("normal", normal.X, normal.y), ("drifted", shifted, later.y))
    bounds = [time.time()]
    sent: dict[str, list[tuple[str, int, Any]]] = {}
    with BackgroundServer(build_app(registry, ["churn@champion"])) as url:
        for name, frame, labels in batches:
            items = sent.setdefault(name, [])
            for start in range(0, len(frame), _REQUEST_ROWS):
                rows = frame.iloc[start : start + _REQUEST_ROWS]
                request_id = f"quickstart-{name}-{start // _REQUEST_ROWS}"
                status, _ = post_json(
                    f"{url}/v2/models/churn/infer", v2_body(rows), {"x-request-id": request_id}
                )
                if status != 200:
                    raise ShipyardError(f"the demo's prediction request failed with {status}")
                truth = labels.iloc[start : start + _REQUEST_ROWS].tolist()
                items.extend((request_id, i, int(v)) for i, v in enumerate(truth))
            bounds.append(time.time())
    # Leaving the block stopped the server, and a graceful stop flushes the prediction log.
    echo(
        f"7. sent {_BATCH_ROWS} rows of normal traffic, then {_BATCH_ROWS} rows with drift "
        f"injected into {' and '.join(DRIFTED)} (+1.5 standard deviations); every prediction "
        "was recorded in the prediction log"
    )
    store = PredictionStore(settings.predlog_url or default_url(settings))
    labelled = 0
    for items in sent.values():
        labelled += store.add_feedback(items).accepted
    echo(f"   sent the true outcome of {labelled} customers as feedback (ground truth)")
    receiver = _Receiver()
    rule = AlertRule.from_dict(
        {
            "name": "churn-drift",
            "figure": "drift.share",
            "op": ">=",
            "threshold": 0.2,
            "severity": "critical",
            "channels": ["ops-webhook"],
            "description": "at least 20% of the features drifted",
        }
    )
    channels = {"ops-webhook": WebhookChannel(receiver.url, retries=1)}
    try:
        first = run_monitor(
            registry, store, "churn", since=bounds[0], until=bounds[1], rules=[rule],
            channels=channels,
        )  # fmt: skip
        second = run_monitor(
            registry, store, "churn", until=bounds[2], rules=[rule], channels=channels
        )
    finally:
        store.dispose()
        receiver.close()
    echo(
        f"8. ran the monitor with the rule '{rule.name}' ({rule.figure} {rule.op} "
        f"{rule.threshold:g}) → webhook on {receiver.url}"
    )
    for label, result in (("normal window", first), ("drifted window", second)):
        flagged = ", ".join(result.drifted_features) or "none"
        echo(f"   {label}: {result.rows} rows, drifted features: {flagged}; status {result.status}")
        if result.performance is not None and result.performance.n_labelled:
            perf = result.performance
            acc = perf.metrics.get("accuracy")
            if acc is not None:
                delta = perf.delta.get("accuracy")
                change = "" if delta is None else f" ({delta:+.3f} since registration)"
                echo(f"     accuracy on {perf.n_labelled} labelled rows: {acc:.3f}{change}")
    exact = sorted(second.drifted_features) == sorted(DRIFTED) and not first.drifted_features
    # Each feature's test raises a false alarm in at most 5% of windows without drift, so on
    # other data a window can flag one feature by chance; say so rather than claim otherwise.
    echo(
        "   exactly the shifted features were flagged"
        if exact
        else "   note: the flagged features differ from the shifted ones; each feature's test "
        "raises a false alarm in up to 5% of windows without drift"
    )
    for body in receiver.bodies:
        echo(f"   the webhook receiver got: {body.get('summary')}")
    return {
        "normal": first,
        "drifted": second,
        "received": receiver.bodies,
        "labelled": labelled,
    }


class _Receiver:
    """A tiny webhook receiver on loopback: keeps the JSON bodies posted to it."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", 0))
                bodies.append(json.loads(self.rfile.read(size)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def check_port(port: int, host: str = HOST) -> None:
    """Refuse a port something else already listens on, naming the fix."""
    import socket

    from shipyard.errors import InvalidInputError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInputError(
                f"option '--port': {host}:{port} is taken ({exc.strerror}); pick another, "
                f"as in: shipyard quickstart --keep-serving --port {port + 1}"
            ) from exc


def keep_serving(
    settings: Settings | None = None, *, port: int = 8080, echo: Callable[[str], Any] = print
) -> None:
    """Serve the demo's champion, with the console, on loopback until SIGINT/SIGTERM (what
    ``shipyard serve churn@champion`` does, plus the monitor every minute)."""
    from shipyard.registry.client import Registry
    from shipyard.serving.server import run as serve

    settings = settings if settings is not None else Settings.load()
    check_port(port)
    registry = Registry(settings)
    base = f"http://{HOST}:{port}"
    echo(f"Serving churn@champion on {base} until Ctrl-C:")
    echo(f"  console      {base}/ui/")
    echo(f"  predict      POST {base}/v2/models/churn/infer")
    echo(f"  API docs     {base}/docs")
    echo(f"  metrics      {base}/metrics")
    sys.stdout.flush()  # the URL must reach a pipe before the server blocks
    try:
        serve(registry, ["churn@champion"], host=HOST, port=port, monitor_interval=60.0)
    finally:
        registry.close()
