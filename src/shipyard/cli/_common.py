"""What every command shares: the registry, option parsing and the two kinds of output.

Human output is rich tables; ``--json`` output is the entities' ``to_dict()``, alone on stdout.
rich and the registry are imported inside the functions, so ``shipyard --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion

__all__ = [
    "JsonOption",
    "format_time",
    "group",
    "open_registry",
    "parse_metrics",
    "parse_pairs",
    "parse_params",
    "print_json",
    "print_table",
    "short_digest",
    "use_server",
    "version_line",
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (machine-readable) instead of a table.")
]


def group(help: str) -> typer.Typer:
    """A command group with the app's settings (plain help: rich costs 0.2 s per start)."""
    return typer.Typer(
        help=help, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False
    )


_server: tuple[str, str | None] | None = None


def use_server(url: str | None, api_key: str | None) -> None:
    """Set by the root command from ``--server``/``--api-key`` (None: the local registry)."""
    global _server
    _server = None if not url else (url, api_key)


@contextmanager
def open_registry() -> Iterator[Registry]:
    """The registry configured by ``Settings.load()``, closed when the command ends; with the
    root option ``--server URL``, the server's management API in its place (a
    :class:`~shipyard.registry.remote.RemoteRegistry`, which answers the read calls and alias
    moves and refuses the rest with a clear error)."""
    from shipyard.registry.client import Registry
    from shipyard.settings import Settings

    if _server is not None:
        from shipyard.registry.remote import RemoteRegistry

        remote = RemoteRegistry(*_server)
        try:
            yield cast("Registry", remote)
        finally:
            remote.close()
        return
    registry = Registry(Settings.load())
    try:
        yield registry
    finally:
        registry.close()


# -- parsing ---------------------------------------------------------------------------------


def parse_pairs(values: Iterable[str] | None, option: str) -> dict[str, str]:
    """``["team=growth", ...]`` from a repeated ``--tag KEY=VALUE`` option, as a dict."""
    pairs: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(
                f"invalid {option} {item!r}: expected the form {option} KEY=VALUE"
            )
        pairs[key.strip()] = value
    return pairs


def parse_metrics(values: Iterable[str] | None) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for key, value in parse_pairs(values, "--metric").items():
        try:
            metrics[key] = float(value)
        except ValueError:
            raise InvalidInputError(
                f"invalid --metric {key}={value!r}: the value must be a number, "
                "as in --metric auc=0.91"
            ) from None
    return metrics


def parse_params(values: Iterable[str] | None) -> dict[str, Any]:
    """Values that read as JSON (``5``, ``0.1``, ``true``, ``null``) keep their type; the rest
    stay text, so ``--param solver=lbfgs`` needs no quoting."""
    params: dict[str, Any] = {}
    for key, value in parse_pairs(values, "--param").items():
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


# -- output ----------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title, title_justify="left", box=None, pad_edge=False)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped or redirected: one line per row, never cut, so grep and awk see whole cells.
        console = Console(highlight=False, width=100_000)
    console.print(table)


def format_time(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def short_digest(digest: str) -> str:
    return f"sha256 {digest[:8]}…"


def version_line(version: ModelVersion) -> str:
    """``churn/3 (sklearn, sha256 ab12cd34…)``: how a command names the version it made."""
    return f"{version.ref} ({version.flavor}, {short_digest(version.artifact_digest)})"
