"""Types the CLI tests share (a module of its own: test modules must not import ``conftest``,
which names a different module in each test folder)."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

Invoke = Callable[..., Result]
