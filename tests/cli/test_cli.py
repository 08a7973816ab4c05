"""The app itself: help, version, the exit-code table, one-line errors, --debug and Ctrl-C."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from shipyard import errors
from shipyard.cli._errors import EXIT_CODES, exit_code_for

Invoke = Callable[..., Result]


def test_help_lists_every_command(cli: Invoke) -> None:
    out = cli("--help").stdout
    for command in (
        "register",
        "models",
        "versions",
        "alias",
        "tag",
        "audit",
        "quickstart",
        "import-mlflow",
    ):
        assert command in out
    assert "--debug" in out and "--version" in out
    assert "--name" in cli("import-mlflow", "--help").stdout


def test_version(cli: Invoke) -> None:
    from shipyard import __version__

    assert cli("--version").stdout == f"shipyard {__version__}\n"


def test_help_imports_nothing_heavy() -> None:
    """``shipyard --help`` must stay fast: no rich, pandas, numpy, SQLAlchemy or registry."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shipyard", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    heavy = {"rich", "pandas", "numpy", "sqlalchemy", "shipyard.registry.client", "sklearn"}
    assert not heavy & imported


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.ShipyardError, 1),
        (errors.ConfigError, 2),
        (errors.InvalidInputError, 2),
        (errors.InvalidNameError, 2),
        (errors.InvalidReferenceError, 2),
        (errors.SignatureError, 2),
        (errors.UnsupportedModelError, 2),
        (errors.NotFoundError, 3),
        (errors.ConflictError, 4),
        (errors.UnsafeFormatError, 5),
        (errors.IntegrityError, 6),
        (errors.MissingDependencyError, 7),
        (errors.StoreError, 8),
    ],
)
def test_exit_code_table(error: type[errors.ShipyardError], code: int) -> None:
    assert exit_code_for(error("x")) == code


def test_every_error_class_has_a_code() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert any(base in EXIT_CODES for base in cls.__mro__), name

    class Custom(errors.NotFoundError):
        pass

    assert exit_code_for(Custom("x")) == 3


def test_error_is_one_line_without_traceback(run_shipyard: Callable[..., Any]) -> None:
    result = run_shipyard("models", "show", "nope")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and "'nope'" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(run_shipyard: Callable[..., Any]) -> None:
    result = run_shipyard("--debug", "models", "show", "nope")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "NotFoundError" in result.stderr


def test_ctrl_c_exits_130(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from shipyard.registry.client import Registry

    def interrupted(self: Registry) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Registry, "list_models", interrupted)
    result = cli("models", "list", ok=False)
    assert result.exit_code == 130 and result.stderr == "interrupted\n"


def test_unexpected_errors_are_one_line_too(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from shipyard.registry.client import Registry

    def broken(self: Registry) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Registry, "list_models", broken)
    result = cli("models", "list", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unexpected RuntimeError: disk on fire")
    assert result.stderr.count("\n") == 1


def test_usage_errors_exit_2(cli: Invoke) -> None:
    assert cli("models", "show", ok=False).exit_code == 2
    assert cli("no-such-command", ok=False).exit_code == 2


def test_empty_registry_listings(cli: Invoke) -> None:
    assert "no models yet" in cli("models", "list").stdout
    assert cli("versions", "list").stdout == "no versions match\n"
    assert cli("audit", "verify").stdout == "audit chain intact: 1 entries\n"


def test_import_mlflow_reports_a_folder_without_a_model(cli: Invoke, tmp_path: Path) -> None:
    result = cli("import-mlflow", str(tmp_path), "--name", "churn", ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "has no MLmodel file" in result.stderr
