"""Names and references: ``churn/3``, ``churn@champion`` and ``churn``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidNameError, InvalidReferenceError

__all__ = ["ModelRef", "check_name", "parse_ref"]

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_NAME_RULE = (
    "names are 1-63 characters of lowercase letters, digits, '.', '_' and '-', "
    "starting with a letter or digit"
)


def check_name(name: object, what: str = "model name") -> str:
    """Return ``name`` if it follows the naming rule, else raise ``InvalidNameError``."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        hint = ""
        if isinstance(name, str) and NAME_PATTERN.match(name.lower()):
            hint = f" (did you mean {name.lower()!r}?)"
        raise InvalidNameError(f"invalid {what} {name!r}: {_NAME_RULE}{hint}")
    return name


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: exactly one of ``version`` and ``alias`` is set, or neither
    (the model's ``champion`` alias, else its latest usable version)."""

    model: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.model}/{self.version}"
        if self.alias is not None:
            return f"{self.model}@{self.alias}"
        return self.model


def parse_ref(ref: str | ModelRef) -> ModelRef:
    """Parse ``name``, ``name/VERSION`` or ``name@ALIAS``."""
    if isinstance(ref, ModelRef):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidReferenceError(
            f"invalid model reference {ref!r}: use 'name', 'name/3' or 'name@alias'"
        )
    text = ref.strip()
    if "/" in text and "@" in text:
        raise InvalidReferenceError(
            f"invalid model reference {ref!r}: give a version ('name/3') or an alias "
            "('name@champion'), not both"
        )
    if "/" in text:
        name, _, version = text.partition("/")
        check_name(name)
        if not version.isdigit() or int(version) < 1:
            raise InvalidReferenceError(
                f"invalid model reference {ref!r}: the version after '/' must be a "
                "positive integer, as in 'churn/3'"
            )
        return ModelRef(name, version=int(version))
    if "@" in text:
        name, _, alias = text.partition("@")
        check_name(name)
        check_name(alias, "alias")
        return ModelRef(name, alias=alias)
    return ModelRef(check_name(text))
