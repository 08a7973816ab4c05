"""``shipyard feedback``: Send ground-truth labels for logged predictions.

``upload`` reads a CSV or Parquet file of labels (request id, row index, true value) and attaches
them to the local prediction log, the one the server writes (``predlog_url`` or
``predictions.db`` beside the registry); with ``--server`` it posts them to a running server's
``/api/v1/feedback`` in batches instead. Labels that match no logged prediction are counted and
listed, not stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli import _common
from shipyard.cli._common import JsonOption, group, print_json
from shipyard.errors import (
    AccessDeniedError,
    InvalidInputError,
    NotFoundError,
    ShipyardError,
    StoreError,
)

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.predlog.feedback import FeedbackItem, FeedbackResult

app = group("Send ground-truth labels for logged predictions.")

BATCH = 10_000
"""Labels per request with ``--server`` (about 1 MB of JSON, well under the body limit)."""
_SHOWN = 10
_STATUS_ERRORS: dict[int, type[ShipyardError]] = {
    400: InvalidInputError,
    401: AccessDeniedError,
    403: AccessDeniedError,
    404: NotFoundError,
}


@app.command("upload")
def upload(
    path: Annotated[
        Path,
        typer.Argument(help="A CSV or Parquet file with one label per row.", show_default=False),
    ],
    request_id_column: Annotated[
        str, typer.Option("--request-id-column", help="The column of request ids.")
    ] = "request_id",
    row_column: Annotated[
        str,
        typer.Option(
            "--row-column",
            help="The column of row indexes (optional in the file: without it, every request "
            "must have one row).",
        ),
    ] = "row_index",
    value_column: Annotated[
        str, typer.Option("--value-column", help="The column of true values.")
    ] = "value",
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="Post to a running server's /api/v1/feedback instead of the local prediction "
            "log, as in --server http://10.0.0.5:8080 (default: the root --server, if given).",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="The API key for --server (predict scope).", show_default=False
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Attach true outcomes to logged predictions, from a CSV or Parquet file."""
    items = read_labels(path, request_id_column, row_column, value_column)
    root = _common._server
    if server is None and root is not None:
        server, api_key = root[0], api_key or root[1]
    result = _post(items, server, api_key) if server else _store_locally(items)
    if json:
        print_json(result.to_dict())
        return
    typer.echo(
        f"accepted {result.accepted} labels; {len(result.unknown)} match no logged prediction"
    )
    if result.unknown:
        shown = ", ".join(r if i is None else f"{r}#{i}" for r, i in result.unknown[:_SHOWN])
        more = f" (and {len(result.unknown) - _SHOWN} more)" if len(result.unknown) > _SHOWN else ""
        typer.echo(f"unknown (not stored): {shown}{more}")


def read_labels(
    path: Path, request_id_column: str, row_column: str, value_column: str
) -> list[FeedbackItem]:
    """The labels of a CSV or Parquet file, checked (one clear error for a bad file)."""
    from shipyard.predlog.feedback import check_item

    frame = _read_table(path, request_id_column)
    missing = [c for c in (request_id_column, value_column) if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{path} has no column {', '.join(missing)} (its columns: "
            f"{', '.join(map(str, frame.columns)) or 'none'}); name the columns with "
            "--request-id-column and --value-column"
        )
    if frame.empty:
        raise InvalidInputError(f"{path} has no labels (no rows under its header)")
    ids = frame[request_id_column].tolist()
    values = frame[value_column].tolist()
    rows: list[Any] = [None] * len(frame)
    if row_column in frame.columns:
        rows = [_row_index(v, n, path, row_column) for n, v in enumerate(frame[row_column])]
    items = []
    for n, (request_id, row, value) in enumerate(zip(ids, rows, values, strict=True)):
        if value is None or (isinstance(value, float) and value != value):
            raise InvalidInputError(f"{path} line {n + 2}: {value_column} is empty")
        if isinstance(request_id, float) and request_id != request_id:
            request_id = None  # an empty cell
        elif request_id is not None and not isinstance(request_id, str):
            request_id = str(request_id)  # ids stored as numbers in a Parquet file
        items.append(check_item(request_id, row, value, f"{path} line {n + 2}: "))
    return items


def _read_table(path: Path, request_id_column: str) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise InvalidInputError(f"no labels file {path}; give the path of a CSV or Parquet file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        # Ids stay text ("007" is not 7); other columns get pandas' usual types.
        return pd.read_csv(path, dtype={request_id_column: str})
    except pd.errors.EmptyDataError:
        raise InvalidInputError(
            f"{path} is empty; it needs a header and one label per row"
        ) from None
    except Exception as exc:  # pandas/pyarrow raise many types for a file they cannot read
        kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"cannot read {path} as {kind}: {message}") from None


def _row_index(value: Any, n: int, path: Path, column: str) -> int | None:
    if value is None or (isinstance(value, float) and value != value):
        return None  # an empty cell: the request's only row
    if isinstance(value, float) and value.is_integer():
        return int(value)  # pandas reads an integer column with empty cells as floats
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidInputError(
        f"{path} line {n + 2}: {column} must be a non-negative integer (or empty for a one-row "
        f"request), got {value!r}"
    )


def _store_locally(items: list[FeedbackItem]) -> FeedbackResult:
    from shipyard.predlog.store import PredictionStore, default_url
    from shipyard.settings import Settings

    settings = Settings.load()
    store = PredictionStore(settings.predlog_url or default_url(settings))
    try:
        return store.add_feedback(items)
    finally:
        store.dispose()


def _post(items: list[FeedbackItem], server: str, api_key: str | None) -> FeedbackResult:
    """Post in batches of :data:`BATCH`; the counts add up over the batches."""
    import httpx

    from shipyard.predlog.feedback import FeedbackResult

    if not server.startswith(("http://", "https://")):
        raise InvalidInputError(
            f"invalid --server {server!r}: give the server's base URL, as in "
            "--server http://127.0.0.1:8080"
        )
    url = server.rstrip("/") + "/api/v1/feedback"
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    accepted, unknown = 0, []
    with httpx.Client(headers=headers, timeout=120.0) as http:
        for start in range(0, len(items), BATCH):
            batch = [
                {"request_id": r, "row_index": i, "value": v}
                for r, i, v in items[start : start + BATCH]
            ]
            try:
                reply = http.post(url, json={"items": batch})
            except httpx.HTTPError as exc:
                raise StoreError(f"cannot reach the server {server}: {exc}") from exc
            data = _answer(reply, server, done=accepted)
            accepted += int(data["accepted"])
            unknown += [(u["request_id"], u["row_index"]) for u in data["unknown"]]
    return FeedbackResult(accepted, unknown)


def _answer(reply: Any, server: str, *, done: int) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError:
        data = None
    if reply.status_code == 200 and isinstance(data, dict) and "accepted" in data:
        return data
    message = data.get("error") if isinstance(data, dict) else None
    message = message or f"{reply.status_code} {reply.reason_phrase}"
    sent = f" ({done} labels were accepted before this batch)" if done else ""
    error = _STATUS_ERRORS.get(reply.status_code, StoreError)
    raise error(f"the server {server} answered {reply.status_code}: {message}{sent}")
