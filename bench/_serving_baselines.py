"""The two baselines of ``bench_serving.py``, as ASGI apps for uvicorn.

* ``bare``: a bare ASGI app that reads the body and answers a constant: the HTTP stack's ceiling.
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


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
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
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _CONSTANT})


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


def __getattr__(name: str) -> Any:  # ``plain`` is built on first use (uvicorn imports it)
    if name == "plain":
        app = _plain()
        globals()["plain"] = app
        return app
    raise AttributeError(name)
