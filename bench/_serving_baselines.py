"""The two baselines of ``bench_serving.py``, as ASGI apps for uvicorn.

* ``bare``: a bare ASGI app that reads the body and answers a constant: the HTTP stack's ceiling.
* ``mimic``: the same, answering the bytes and headers shipyard answered for the benchmark's row
  (read from the JSON file ``SHIPYARD_BENCH_MIMIC``): what shipyard's response alone costs the
  HTTP stack (``bench_serving.py --breakdown``).
* ``plain``: a plain Starlette handler calling scikit-learn's ``predict`` / ``predict_proba``,
  as users write it by hand today. It takes the same V2 body as shipyard (one ``[1, 20]`` FP64
  tensor) and loads the fitted models that the benchmark pickled (its own files, in its own
  temporary folder) from ``SHIPYARD_BENCH_MODELS``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

_CONSTANT = b'{"outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[0]}]}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_CONSTANT))]


def _constant(body: bytes, headers: list[tuple[bytes, bytes]]) -> Any:
    """An ASGI app that reads the request's body and answers ``body`` with ``headers``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: accept start-up and shutdown
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


bare = _constant(_CONSTANT, _HEADERS)


def _mimic() -> Any:
    import json

    with open(os.environ["SHIPYARD_BENCH_MIMIC"], encoding="utf-8") as fh:
        answer = json.load(fh)
    headers = [(k.encode(), v.encode()) for k, v in answer["headers"]]
    return _constant(answer["body"].encode(), headers)


def _plain() -> Any:
    import numpy as np
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    folder = Path(os.environ.get("SHIPYARD_BENCH_MODELS", "."))
    models: dict[str, Any] = {}
    for path in folder.glob("*.pkl"):
        with open(path, "rb") as fh:  # the benchmark's own file, written a moment ago
            models[path.stem] = pickle.load(fh)

    async def infer(request: Request) -> JSONResponse:
        model = models[request.path_params["name"]]
        body = await request.json()
        tensor = body["inputs"][0]
        X = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
        labels = model.predict(X)
        proba = model.predict_proba(X)
        return JSONResponse(
            {
                "model_name": request.path_params["name"],
                "outputs": [
                    {
                        "name": "label",
                        "datatype": "INT64",
                        "shape": [len(labels)],
                        "data": labels.tolist(),
                    },
                    {
                        "name": "probabilities",
                        "datatype": "FP64",
                        "shape": list(proba.shape),
                        "data": proba.ravel().tolist(),
                    },
                ],
            }
        )

    return Starlette(routes=[Route("/v2/models/{name}/infer", infer, methods=["POST"])])


def __getattr__(name: str) -> Any:  # ``plain``, ``mimic``: built on first use (they read files)
    builders = {"plain": _plain, "mimic": _mimic}
    if name in builders:
        app = builders[name]()
        globals()[name] = app
        return app
    raise AttributeError(name)
