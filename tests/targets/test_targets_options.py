"""Deployment options: parsed strictly, and a bad one is one line naming the option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import InvalidInputError
from shipyard.targets.options import (
    Replicas,
    k8s_name,
    parse_cpu,
    parse_image,
    parse_memory,
    parse_predlog_mode,
    parse_replicas,
)


def test_parsing() -> None:
    assert parse_replicas("2..10") == Replicas(2, 10)
    assert parse_replicas("3") == Replicas(3, 3)
    assert [parse_cpu(v) for v in ("1", "0.5", "500m")] == ["1", "0.5", "500m"]
    assert [parse_memory(v) for v in ("1Gi", "512Mi", "2G")] == ["1Gi", "512Mi", "2G"]
    assert parse_image("ghcr.io/team/churn:1.0") == "ghcr.io/team/churn:1.0"
    assert k8s_name("churn_v2.1") == "shipyard-churn-v2-1"
    assert [parse_predlog_mode(v) for v in ("durable", "Buffered", " off")] == [
        "durable",
        "buffered",
        "off",
    ]


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_replicas, "10..2"),
        (parse_replicas, "0..3"),
        (parse_replicas, "many"),
        (parse_cpu, "0"),
        (parse_cpu, "fast"),
        (parse_memory, "lots"),
        (parse_memory, "1GB"),
        (parse_image, "Not An Image"),
        (parse_predlog_mode, "fast"),
    ],
)
def test_bad_values_are_rejected(parse: Any, value: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid --"):
        parse(value)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--replicas", "10..2"), "--replicas"),
        (("--memory", "lots"), "--memory"),
        (("--cpu", "x"), "--cpu"),
        (("--namespace", "Bad_NS"), "--namespace"),
        (("--format", "helm"), "--format"),
    ],
)
def test_bad_arguments_exit_with_one_line_naming_the_option(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    result = shipyard_cli(
        "export",
        "kubernetes",
        "churn",
        "--image",
        "churn:1",
        "--out",
        str(tmp_path / "o"),
        *args,
        ok=False,
    )
    assert result.exit_code != 0
    assert option in result.stderr
    if option != "--format":  # Typer's own usage errors carry a usage header
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_endpoint_and_reference(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    result = shipyard_cli(
        "export",
        "kubernetes",
        "nope",
        "--image",
        "churn:1",
        "--out",
        str(tmp_path / "o"),
        ok=False,
    )
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert "nope" in line and "churn" in line
    result = shipyard_cli("export", "kserve", "nope", "--image", "churn:1", ok=False)
    assert result.exit_code == 3
    result = shipyard_cli("build", "nope@champion", "--out", str(tmp_path / "b"), ok=False)
    assert result.exit_code == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_build_refuses_a_folder_with_files(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    result = shipyard_cli("build", "churn", "--out", str(tmp_path / "b"), ok=False)
    assert result.exit_code == 4 and "--out" in result.stderr
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["keep.txt"]
