"""``shipyard card MODEL/VERSION``: writes the card files; bad input is a clear error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from shipyard.cards import SECTIONS

Invoke = Callable[..., Result]

pytestmark = pytest.mark.usefixtures("registered")


def test_card_writes_all_formats_by_default(cli: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "cards"
    result = cli("card", "churn@champion", "--out", str(out), "--importance-rows", "50")
    written = [Path(line) for line in result.stdout.splitlines()]
    assert [p.name for p in written] == ["churn-1.md", "churn-1.html", "churn-1.json"]
    markdown = (out / "churn-1.md").read_text()
    for title in SECTIONS:
        assert f"\n## {title}\n" in markdown
    card = json.loads((out / "churn-1.json").read_text())
    assert card["model_details"]["name"] == "churn/1"
    assert set(card["shipyard"]["global_importance"]["features"]) == {
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "age",
        "data_usage_gb",
    }
    assert "no monitoring runs" in markdown.lower()


def test_card_one_format_and_an_info_file(cli: Invoke, tmp_path: Path) -> None:
    info = tmp_path / "card.yaml"
    info.write_text("intended_use: Retention campaigns only.\nlicense: MIT\n")
    result = cli("card", "churn/1", "--format", "html", "--info", str(info), "--out", str(tmp_path))
    assert result.stdout.strip().endswith("churn-1.html")
    page = (tmp_path / "churn-1.html").read_text()
    assert "Retention campaigns only." in page and "License: MIT" in page
    assert not (tmp_path / "churn-1.md").exists()


def test_card_bad_input_says_what_to_do(
    cli: Invoke, run_shipyard: Callable[..., Any], tmp_path: Path
) -> None:
    result = run_shipyard("card", "churn/9", "--out", str(tmp_path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "churn/9" in result.stderr or "version 9" in result.stderr
    result = cli("card", "churn/1", "--format", "pdf", ok=False)
    assert result.exit_code == 2 and "pdf" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    result = cli("card", "churn/1", "--info", str(bad), ok=False)
    assert result.exit_code != 0 and "must hold a mapping" in result.stderr
