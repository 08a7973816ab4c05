"""Running the server in a background thread of this process, on a free loopback port: for the
quickstart and for tests that want a real socket without a subprocess."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.serving.app import ServingApp

__all__ = ["BackgroundServer", "post_json", "v2_body"]


class BackgroundServer:
    """``with BackgroundServer(app) as url: ...`` serves ``app`` on 127.0.0.1 until the block
    ends, after every model is ready."""

    def __init__(
        self, app: ServingApp, *, ready_timeout: float = 60.0, loop: str = "asyncio"
    ) -> None:
        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            access_log=False,
            log_level="warning",
            proxy_headers=False,  # as `shipyard serve` runs it
            server_header=False,
            loop=loop,  # "uvloop" as ``shipyard serve`` runs it, when the test wants that
            http="h11" if _no_httptools() else "httptools",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="shipyard-server", daemon=True
        )
        self._ready_timeout = ready_timeout

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/v2/health/ready", timeout=2) as reply:
                    if reply.status == 200:
                        return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if not self._thread.is_alive():
                break
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise ShipyardError(f"the server on {self.url} did not become ready")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def _no_httptools() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return True
    return False


def post_json(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST JSON with the standard library; returns (status, decoded JSON)."""
    import orjson

    request = urllib.request.Request(
        url,
        data=orjson.dumps(body),
        method="POST",
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read() or b"null")


def v2_body(rows: Any) -> dict[str, Any]:
    """A V2 (Open Inference Protocol) request body for a DataFrame: one input tensor per column
    (BYTES for text, FP64 otherwise; NaN sent as null, a missing value)."""
    records = rows.to_dict(orient="records")
    return {
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
