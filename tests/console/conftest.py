"""Console fixtures: a registry with two models and a few versions (one rejected by its gates,
one converted to ONNX), API keys of each scope, and the console app over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _console_data import populate

from shipyard.settings import Settings


@pytest.fixture
def console_registry(tmp_path: Path) -> Iterator[Any]:
    """The populated registry on SQLite."""
    from shipyard.registry.client import Registry

    reg = Registry(Settings(home=tmp_path / "home", actor="tester"))
    populate(reg)
    yield reg
    reg.close()
