"""`shipyard build`: the build context's Dockerfile essentials, its pinned requirements, the
copied registry, and the image's entrypoint run as a local process against the context."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deploy_helpers import copies, dockerfile_env, dockerfile_instructions, exec_form, per_feature

SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL|CREDENTIAL", re.I)


def _build(shipyard_cli: Any, tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "context"
    shipyard_cli("build", *args, "--out", str(out))
    return out


def test_dockerfile_essentials(deploy_registry: Any, shipyard_cli: Any, tmp_path: Path) -> None:
    out = _build(shipyard_cli, tmp_path, "churn")
    instructions = dockerfile_instructions((out / "Dockerfile").read_text())
    keywords = [k for k, _ in instructions]

    base = instructions[0]
    assert base[0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim", base[1])
    # A numeric, non-root USER comes before the ENTRYPOINT (and no later USER undoes it).
    users = [(i, rest) for i, (k, rest) in enumerate(instructions) if k == "USER"]
    assert users and users[-1][0] < keywords.index("ENTRYPOINT")
    uid = users[-1][1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    # No secret in ENV, ARG or LABEL.
    env = dockerfile_env(instructions)
    for keyword, rest in instructions:
        if keyword in ("ENV", "ARG", "LABEL"):
            assert not SECRET_WORDS.search(rest), rest
    assert "SHIPYARD_DATABASE_URL" not in env
    # A health check on the readiness route with Python (slim images have no curl).
    (health,) = [rest for k, rest in instructions if k == "HEALTHCHECK"]
    assert "/v2/health/ready" in health and '"python"' in health and "curl" not in health
    assert ("EXPOSE", "8080") in instructions
    entrypoint = exec_form(instructions, "ENTRYPOINT")
    assert entrypoint[:3] == ["shipyard", "serve", "churn@champion"]
    assert entrypoint[entrypoint.index("--port") + 1] == "8080"
    assert env["SHIPYARD_HOME"] and env["SHIPYARD_CONFIG"]
    for name in ("shipyard.toml", ".dockerignore", "README.md", "requirements.txt"):
        assert (out / name).is_file()
    assert "docker build" in (out / "README.md").read_text()


def test_requirements_are_pinned_to_installed_versions(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    out = _build(shipyard_cli, tmp_path, "churn@champion")
    lines = [
        line
        for line in (out / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = set()
    for line in lines:
        spec = line.split(";")[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[a-z,]+\])?==([^=\s]+)", spec)
        assert match, f"not pinned: {line!r}"
        name, extras, version = match.groups()
        names.add(name.lower())
        if name == "shipyard":
            # champion (v2) carries an ONNX attachment: served by onnxruntime; copy store:
            # SQLite, so no PostgreSQL driver.
            assert extras == "[onnx]"
        assert version == metadata.version(name)
    assert {"onnxruntime", "scikit-learn", "skops", "uvicorn"} <= names
    assert not names & {"psycopg", "xgboost-cpu", "lightgbm", "optuna", "pytest"}


def test_shared_store_adds_postgres_and_copies_nothing(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    out = _build(shipyard_cli, tmp_path, "churn/1", "--store", "shared")
    requirements = (out / "requirements.txt").read_text()
    assert "psycopg" in requirements and "onnxruntime" not in requirements
    assert not (out / "registry").exists()
    text = (out / "Dockerfile").read_text()
    assert "registry/" not in text and "ENTRYPOINT" in text
    assert "SHIPYARD_DATABASE_URL" in (out / "README.md").read_text()


def test_copied_registry_holds_exactly_the_served_version(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.settings import Settings

    out = _build(shipyard_cli, tmp_path, "churn@champion")
    copy = Registry(Settings(home=out / "registry"))
    try:
        assert [m.name for m in copy.list_models()] == ["churn"]
        (version,) = copy.list_versions("churn")
        source = deploy_registry.get_version("churn@champion")
        assert version.ref == source.ref == "churn/2"
        assert version.artifact_digest == source.artifact_digest
        assert version.signature == source.signature
        assert copy.get_version("churn@champion").version == 2
        assert set(version.attachments) == set(source.attachments) == {"onnx"}
        assert EndpointStore(copy.db).get("churn").main.ref == "churn@champion"
        assert copy.verify_audit() > 0
        stored = {p.name for p in (out / "registry" / "artifacts").rglob("*") if p.is_file()}
        expected = {source.artifact_digest, source.profile_digest, source.sample_digest}
        expected |= set(source.attachments.values())
        assert stored == expected
    finally:
        copy.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_entrypoint_serves_the_build_context(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path, churn: Any
) -> None:
    """The image's ENTRYPOINT with the image's ENV, as a local process: container paths are
    mapped to where the Dockerfile copies them from; host and port are appended as
    `docker run IMAGE --host ... --port ...` would."""
    out = _build(shipyard_cli, tmp_path, "churn")
    instructions = dockerfile_instructions((out / "Dockerfile").read_text())
    mapping = copies(instructions)

    def local(value: str) -> str:
        for dest, src in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
            if value == dest or value.startswith(dest + "/"):
                return str(out / src) + value[len(dest) :]
        return value

    env = {key: local(value) for key, value in dockerfile_env(instructions).items()}
    assert Path(env["SHIPYARD_HOME"]).is_dir() and Path(env["SHIPYARD_CONFIG"]).is_file()
    argv = [local(a) for a in exec_form(instructions, "ENTRYPOINT")]
    executable = Path(sys.executable).with_name(argv[0])
    assert executable.is_file(), "the console script the image runs"
    port = _free_port()
    command = [str(executable), *argv[1:], "--host", "127.0.0.1", "--port", str(port)]
    process_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env}
    server = subprocess.Popen(
        command, env=process_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, server.communicate()[1].decode()
                try:
                    if http.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server never became ready"
                time.sleep(0.1)
            assert http.get("/v2/health/live").status_code == 200
            X = churn.X.dropna().iloc[:8].reset_index(drop=True)
            response = http.post("/v2/models/churn/infer", json=per_feature(X))
            assert response.status_code == 200, response.text
            assert response.headers["x-shipyard-model-version"] == "churn/2"
            (label,) = [o for o in response.json()["outputs"] if o["name"] == "label"]
        expected = deploy_registry.load("churn@champion").predict(X)
        assert [str(v) for v in label["data"]] == [str(v) for v in list(expected)]
        server.send_signal(signal.SIGTERM)
        # uvicorn drains, then re-raises the signal: a clean stop is 0 or -SIGTERM.
        assert server.wait(timeout=40) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
