"""Where errors become exit codes: the one table, and the root group that applies it.

Every command runs inside :meth:`ShipyardGroup.invoke`, so a ``ShipyardError`` (or Ctrl-C)
anywhere below becomes one ``error: ...`` line on stderr and the exit code from
:data:`EXIT_CODES`, whether the app runs from the console script or from a test's ``CliRunner``.
``--debug`` re-raises instead, for the full traceback.
"""

from __future__ import annotations

import errno
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from shipyard.errors import (
    AccessDeniedError,
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    ShipyardError,
    StoreError,
    UnsafeFormatError,
    UnsupportedModelError,
)

__all__ = ["EXIT_CODES", "INTERRUPTED", "ShipyardGroup", "exit_code_for"]

# Looked up along the exception's MRO, so a subclass inherits its parent's code:
# InvalidNameError, InvalidReferenceError and SignatureError are InvalidInputErrors (2).
EXIT_CODES: dict[type[BaseException], int] = {
    ShipyardError: 1,
    InvalidInputError: 2,
    ConfigError: 2,
    UnsupportedModelError: 2,
    NotFoundError: 3,
    ConflictError: 4,
    UnsafeFormatError: 5,
    IntegrityError: 6,
    MissingDependencyError: 7,
    StoreError: 8,
    AccessDeniedError: 9,
}
UNEXPECTED = 1
INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def exit_code_for(exc: ShipyardError) -> int:
    for cls in type(exc).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return UNEXPECTED


class ShipyardGroup(TyperGroup):
    """The root command group: turns errors into one line on stderr and an exit code."""

    # ``Any``: Typer types ``ctx`` with its vendored Click's Context, which is private API.
    def invoke(self, ctx: Any) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except ShipyardError as exc:
            if debug:
                raise
            _fail(str(exc), exit_code_for(exc))
        except KeyboardInterrupt:
            if debug:
                raise
            _fail("interrupted", INTERRUPTED, prefix="")
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the CLI framework's own control flow and usage errors
        except Exception as exc:
            if debug or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
                raise  # Typer quiets a closed pipe (`shipyard ... | head`) itself
            _fail(_unexpected(exc), UNEXPECTED)


def _unexpected(exc: BaseException) -> str:
    return (
        f"unexpected {type(exc).__name__}: {exc} "
        "(rerun with --debug for the traceback, and please report it)"
    )


def _fail(message: str, code: int, *, prefix: str = "error: ") -> NoReturn:
    typer.echo(f"{prefix}{message}", err=True)
    raise typer.Exit(code) from None
