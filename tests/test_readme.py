"""The README's examples run: its Python blocks are executed, and every CLI command it shows
exists (its --help answers)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_shows_the_two_setup_commands() -> None:
    setup = _blocks("console")[0]
    assert [line.split()[1] for line in setup.splitlines()] == ["quickstart", "test"]


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_blocks("python")[index], f"README.md[python {index}]", "exec"), namespace)
    if "version" in namespace:
        assert namespace["version"].ref == "churn/1"  # type: ignore[attr-defined]
        assert len(namespace["predictions"]) == 5  # type: ignore[arg-type]


def _cli_lines() -> list[list[str]]:
    lines = []
    for block in _blocks("console")[1:]:
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if command.startswith("shipyard "):
                lines.append(shlex.split(command))
    return lines


@pytest.mark.parametrize("argv", _cli_lines(), ids=lambda a: " ".join(a[:3]))
def test_cli_command_in_readme_exists(argv: list[str]) -> None:
    from typer.testing import CliRunner

    from shipyard.cli import app

    words = [w for w in argv[1:3] if not w.startswith("-") and w.replace("-", "").isalpha()]
    result = CliRunner().invoke(app, [*words[:2], "--help"])
    if result.exit_code != 0:  # a one-word command whose second word is an argument
        result = CliRunner().invoke(app, [words[0], "--help"])
    assert result.exit_code == 0, result.output


def test_every_image_in_the_readme_exists() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    assert images, "the README shows the console"
    for image in images:
        assert (README.parent / image).is_file(), image
