from __future__ import annotations

import pytest

from shipyard.errors import InvalidNameError, InvalidReferenceError
from shipyard.registry.refs import ModelRef, check_name, parse_ref


@pytest.mark.parametrize("name", ["churn", "a", "fraud-v2", "m.1_x", "0abc", "a" * 63])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Churn", "-x", ".x", "a b", "a/b", "a@b", "a" * 64, "é"])
def test_invalid_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidNameError, match="lowercase letters"):
        check_name(name)


def test_uppercase_name_suggests_the_lowercase_one() -> None:
    with pytest.raises(InvalidNameError, match="did you mean 'churn'"):
        check_name("Churn")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelRef("churn")),
        ("churn/3", ModelRef("churn", version=3)),
        ("churn@champion", ModelRef("churn", alias="champion")),
        (" churn@challenger ", ModelRef("churn", alias="challenger")),
    ],
)
def test_parse_ref(text: str, expected: ModelRef) -> None:
    assert parse_ref(text) == expected
    assert parse_ref(str(expected)) == expected


@pytest.mark.parametrize("text", ["", "churn/", "churn/0", "churn/x", "churn/3@a", "@a", "churn@"])
def test_bad_refs_say_what_is_expected(text: str) -> None:
    with pytest.raises((InvalidReferenceError, InvalidNameError)):
        parse_ref(text)
