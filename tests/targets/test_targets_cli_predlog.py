"""`shipyard export --predlog-mode`: the prediction log's mode reaches the ConfigMap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _deploy_helpers import load_documents


def test_predlog_mode_option(deploy_registry: Any, shipyard_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    shipyard_cli(
        "export",
        "kubernetes",
        "churn",
        "--image",
        "churn:1",
        "--out",
        str(out),
        "--predlog-mode",
        "buffered",
    )
    (config,) = load_documents(out / "configmap.yaml")
    assert config["data"]["SHIPYARD_PREDLOG_MODE"] == "buffered"
    bad = shipyard_cli(
        "export",
        "kserve",
        "churn",
        "--image",
        "churn:1",
        "--out",
        str(out),
        "--predlog-mode",
        "fast",
        ok=False,
    )
    assert bad.exit_code != 0 and "--predlog-mode" in bad.output + (bad.stderr or "")
