"""Sensitive features: hashed (sha256 with the store's salt) or dropped before they are stored.

The rules come from each model's config, for example ``{"email": "hash", "ssn": "drop"}``; a
missing value stays missing so the missing share can still be monitored. Hashes are stable per
store, so equal values still compare equal (counts and new-category checks keep working) without
the value itself being kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from shipyard.errors import ConfigError

__all__ = ["Action", "Redactor"]

Action = Literal["hash", "drop"]
_ACTIONS = ("hash", "drop")


class Redactor:
    """Applies per-model rules ``{model: {feature: "hash" | "drop"}}`` to a record's inputs."""

    def __init__(
        self, salt: bytes, rules: Mapping[str, Mapping[str, Action]] | None = None
    ) -> None:
        self._salt = salt
        self._rules: dict[str, dict[str, Action]] = {}
        for model, features in (rules or {}).items():
            self.set_rules(model, features)

    def set_rules(self, model: str, features: Mapping[str, Action]) -> None:
        """Replace one model's rules (for example when a new version's config is loaded)."""
        bad = {f: a for f, a in features.items() if a not in _ACTIONS}
        if bad:
            raise ConfigError(
                f"sensitive features of {model!r} have unknown actions {bad}; use 'hash' or 'drop'"
            )
        self._rules[model] = dict(features)

    def redacts(self, model: str) -> bool:
        """Whether ``model`` has features to hash or drop."""
        return bool(self._rules.get(model))

    def apply(self, model: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
        rules = self._rules.get(model)
        if not rules:
            return inputs
        out: dict[str, Any] = {}
        for name, value in inputs.items():
            action = rules.get(name)
            if action is None:
                out[name] = value
            elif action == "hash":
                out[name] = None if value is None else self.hash(value)
        return out

    def hash(self, value: Any) -> str:
        data = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        return "sha256:" + hashlib.sha256(self._salt + data).hexdigest()
