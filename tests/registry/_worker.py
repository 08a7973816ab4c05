"""Separate processes that register versions, for the concurrency and crash-safety tests.

    python _worker.py concurrent N GO_FILE P fit once, fork P processes that each wait for
                                             GO_FILE, then register N versions (printing each
                                             number) after printing "ready"; exit 1 if any failed
    python _worker.py zygote                 import and fit once, then fork one registration per
                                             "go" line read, printing "pid P" at once and
                                             "exit killed" or "exit done SECONDS" when it ends

Forking from a warm process puts every kill point inside the registration itself rather than in
interpreter start-up. Settings come from the environment (SHIPYARD_HOME, SHIPYARD_DATABASE_URL).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from sklearn.ensemble import RandomForestClassifier

from shipyard import datasets
from shipyard.registry.client import Registry
from shipyard.settings import Settings


def _model(rows: int, trees: int) -> tuple[RandomForestClassifier, object, object]:
    data = datasets.churn(rows, seed=2)
    X = data.X[data.numeric].fillna(0.0)
    return RandomForestClassifier(n_estimators=trees, random_state=0).fit(X, data.y), X, data.y


def concurrent(count: int, go: Path, processes: int) -> None:
    # Forked from one warm process: eight cold interpreters importing scikit-learn at once cost
    # half a minute on two cores, and only the registrations need to be separate processes.
    model, X, y = _model(400, 5)
    with tempfile.TemporaryDirectory() as warm:  # load every lazy import before forking
        Registry(Settings(home=Path(warm))).register(model, "warm", reference=X, target=y)
    sys.stdout.flush()
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                registry = Registry()  # its own engine and connections, made after the fork
                while not go.exists():
                    time.sleep(0.005)
                for _ in range(count):
                    version = registry.register(model, "churn", reference=X, target=y).version
                    os.write(1, f"{version}\n".encode())  # one write: lines never interleave
                code = 0
            finally:
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    os.write(1, b"ready\n")
    failed = [pid for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    if failed:
        sys.exit(f"{len(failed)} of {processes} registering processes failed")


def zygote() -> None:
    model, X, y = _model(3000, 40)
    with tempfile.TemporaryDirectory() as warm:  # load every lazy import before forking
        Registry(Settings(home=Path(warm))).register(model, "warm", reference=X, target=y)
    print("ready", flush=True)
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            started = time.perf_counter()
            Registry().register(model, "churn", reference=X, target=y)
            os.write(1, f"done {time.perf_counter() - started:.4f}\n".encode())
            os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        print(
            "exit killed" if killed else f"exit status {os.waitstatus_to_exitcode(status)}",
            flush=True,
        )


if __name__ == "__main__":
    if sys.argv[1] == "concurrent":
        concurrent(int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    else:
        zygote()
