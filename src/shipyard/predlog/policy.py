"""Per-model logging policy from the model's tags: sampling rate and sensitive features (pure).

Two tags, set like any other (``shipyard tag churn shipyard.log.sample_rate=0.1``):

* ``shipyard.log.sample_rate`` — the share of requests logged, from 0 to 1 (default 1: all).
  The choice is a hash of the request id, so it is deterministic (a retried request, or the
  same request seen by another replica, gets the same answer) and every row of a request is
  kept or skipped together (a multi-row request is never split).
* ``shipyard.log.sensitive`` — features hashed or dropped before they are stored, as
  ``"email:hash,ssn:drop"`` (see :mod:`shipyard.predlog.redact`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from shipyard.errors import InvalidInputError
from shipyard.predlog.redact import Action

__all__ = ["SAMPLE_RATE_TAG", "SENSITIVE_TAG", "LogPolicy", "keeps", "policy_from_tags"]

SAMPLE_RATE_TAG = "shipyard.log.sample_rate"
SENSITIVE_TAG = "shipyard.log.sensitive"
_ACTIONS: tuple[Action, ...] = ("hash", "drop")
_SCALE = float(1 << 64)


@dataclass(frozen=True)
class LogPolicy:
    """How one model's predictions are logged."""

    sample_rate: float = 1.0
    sensitive: Mapping[str, Action] = field(default_factory=dict)


def policy_from_tags(model: str, tags: Mapping[str, str]) -> LogPolicy:
    """The policy a model's tags ask for; a bad value raises :class:`InvalidInputError` naming
    the tag and the form it accepts."""
    return LogPolicy(
        _sample_rate(model, tags.get(SAMPLE_RATE_TAG)), _sensitive(model, tags.get(SENSITIVE_TAG))
    )


def keeps(request_id: str, rate: float) -> bool:
    """Whether a request is logged at this sampling rate: the first 8 bytes of the blake2b hash
    of its id, as a fraction of 2**64, fall below ``rate``."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE < rate


def _sample_rate(model: str, text: str | None) -> float:
    if text is None or not text.strip():
        return 1.0
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:  # also refuses NaN
        raise InvalidInputError(
            f"tag {SAMPLE_RATE_TAG} of model {model!r} is {text!r}: it must be the share of "
            f"requests to log, a number from 0 to 1 (as in {SAMPLE_RATE_TAG}=0.25; 1 logs all)"
        )
    return rate


def _sensitive(model: str, text: str | None) -> dict[str, Action]:
    rules: dict[str, Action] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, action = (s.strip() for s in part.partition(":"))
        if not sep or not name or action not in _ACTIONS or rules.get(name, action) != action:
            raise InvalidInputError(
                f"tag {SENSITIVE_TAG} of model {model!r} has an invalid entry {part.strip()!r}: "
                f"use comma-separated FEATURE:hash or FEATURE:drop, each feature once (as in "
                f'{SENSITIVE_TAG}="email:hash,ssn:drop")'
            )
        rules[name] = action
    return rules
