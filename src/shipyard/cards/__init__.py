"""Model cards: what the registry knows about a version, as Markdown, HTML and JSON.

``model_card(registry, "churn/3")`` gathers the facts (:mod:`~shipyard.cards.gather`), builds
the card in Model Card Toolkit fields (:mod:`~shipyard.cards.card`), and
:func:`render_markdown` / :func:`render_html` write it under the Hugging Face template's
headings (:mod:`~shipyard.cards.render`). ``shipyard card MODEL/VERSION`` is the command.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.cards.card import NOT_RECORDED, build_card
from shipyard.cards.gather import INFO_FIELDS, gather, read_info
from shipyard.cards.render import SECTIONS, render_html, render_markdown
from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = [
    "FORMATS",
    "INFO_FIELDS",
    "NOT_RECORDED",
    "SECTIONS",
    "build_card",
    "model_card",
    "read_info",
    "render",
    "render_html",
    "render_markdown",
    "write_card",
]

FORMATS = {"md": "md", "html": "html", "json": "json"}


def model_card(
    registry: Registry,
    ref: str,
    *,
    info: Mapping[str, str] | None = None,
    importance_rows: int = 1_000,
    compute_importance: bool = True,
) -> dict[str, Any]:
    """The card of one version as data (Model Card Toolkit fields); ``compute_importance=False``
    uses only a stored global importance."""
    facts = gather(
        registry,
        ref,
        info=info,
        importance_rows=importance_rows,
        compute_importance=compute_importance,
    )
    return build_card(facts)


def render(card: dict[str, Any], fmt: str) -> str:
    if fmt == "md":
        return render_markdown(card)
    if fmt == "html":
        return render_html(card)
    if fmt == "json":
        return json.dumps(card, indent=2, sort_keys=False, default=str) + "\n"
    raise InvalidInputError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")


def write_card(card: dict[str, Any], out: str | Path, formats: Iterable[str]) -> list[Path]:
    """Write the card in each format to ``out`` (created if needed) as
    ``MODEL-VERSION.{md,html,json}``; returns the paths."""
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"--out: cannot create {folder}: {exc.strerror}") from exc
    stem = card["model_details"]["name"].replace("/", "-")
    paths = []
    for fmt in formats:
        text = render(card, fmt)
        path = folder / f"{stem}.{fmt}"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"--out: cannot write {path}: {exc.strerror}") from exc
        paths.append(path)
    return paths
