"""``shipyard register``: a model file becomes the next version of a model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._common import (
    JsonOption,
    open_registry,
    parse_metrics,
    parse_pairs,
    parse_params,
    print_json,
    version_line,
)
from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

_ACCEPTED = "a .csv or .parquet file of the training data"


def register(
    file: Annotated[
        Path, typer.Argument(help="The model file: .skops, .onnx, .ubj, LightGBM .txt, ...")
    ],
    name: Annotated[str, typer.Option("--name", help="The model to add a version to.")],
    reference: Annotated[
        Path | None,
        typer.Option(
            help="Training data (.csv or .parquet): gives the signature, profile and fingerprint."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The label column of --reference (left out of the inputs).")
    ] = None,
    flavor: Annotated[
        str | None, typer.Option(help="The model format, when the file name does not tell.")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="KEY=NUMBER, as in auc=0.91 (repeatable).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="KEY=VALUE training parameter (repeatable)."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE tag (repeatable).")
    ] = None,
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
    json: JsonOption = False,
) -> None:
    """Register a model file as the next version of a model."""
    if target is not None and reference is None:
        raise InvalidInputError(
            "--target names a column of the reference data: give --reference too"
        )
    metrics = parse_metrics(metric)
    params = parse_params(param)
    tags = parse_pairs(tag, "--tag")
    frame = None if reference is None else read_reference(reference)
    with open_registry() as registry:
        version = registry.register_file(
            file,
            name,
            flavor=flavor,
            reference=frame,
            target=target,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
        )
    if json:
        print_json(version.to_dict())
    else:
        typer.echo(f"registered {version_line(version)}")


def read_reference(path: Path) -> pd.DataFrame:
    """Read ``--reference`` by its suffix; every failure names the option and what it takes."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InvalidInputError(f"--reference {path}: unsupported file type; give {_ACCEPTED}")
    if not path.is_file():
        raise InvalidInputError(f"--reference {path}: no such file; give {_ACCEPTED}")
    import pandas as pd

    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pandas' and pyarrow's parse errors are ValueErrors
        raise InvalidInputError(
            f"--reference {path}: cannot read it ({exc}); give {_ACCEPTED}"
        ) from exc
    if frame.empty:
        raise InvalidInputError(f"--reference {path}: the file has no rows; give {_ACCEPTED}")
    return frame
