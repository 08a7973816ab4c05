"""The pinned dependency set of an image: shipyard's own requirements plus exactly the extras
the served flavors need, each pinned to the version installed here.

Pinning to what is installed means the image runs the library versions the models were
registered and tested with; a version missing here is an error naming the extra to install,
rather than an unpinned line that floats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

from shipyard.errors import MissingDependencyError

__all__ = ["FLAVOR_EXTRAS", "Pinned", "extras_for", "pinned_requirements"]

DISTRIBUTION = "shipyard"

# Which optional extra a flavor (or an attachment the server uses) needs at serving time.
FLAVOR_EXTRAS: dict[str, str] = {
    "onnx": "onnx",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "pickle": "pickle",
}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?")
_EXTRA = re.compile(r"""extra\s*==\s*["']([A-Za-z0-9._-]+)["']""")
# Only these extras are installed by serving images; training-time ones (automl, dev) never.
_SERVING_EXTRAS = frozenset({"postgres", "onnx", "xgboost", "lightgbm", "pickle"})


@dataclass(frozen=True)
class Pinned:
    """The requirement lines of an image and the extras they cover."""

    shipyard_version: str
    extras: tuple[str, ...]
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        header = (
            "# Pinned from the environment that ran `shipyard build`: shipyard "
            f"{self.shipyard_version}, extras: {', '.join(self.extras) or 'none'}.\n"
        )
        return header + "".join(f"{line}\n" for line in self.lines)


def extras_for(flavors: Iterable[str], *, postgres: bool) -> tuple[str, ...]:
    """The extras serving these flavors needs (the ``onnx`` attachment counts as a flavor)."""
    extras = {FLAVOR_EXTRAS[f] for f in flavors if f in FLAVOR_EXTRAS}
    if postgres:
        extras.add("postgres")
    return tuple(sorted(extras))


def pinned_requirements(extras: Iterable[str]) -> Pinned:
    """``name==version`` for shipyard's requirements and those of ``extras``, from the
    installed distributions (environment markers are kept for pip to evaluate in the image)."""
    wanted = set(extras)
    unknown = wanted - _SERVING_EXTRAS
    if unknown:
        raise ValueError(f"not a serving extra: {', '.join(sorted(unknown))}")
    try:
        own = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:  # running from a source tree, not installed
        raise MissingDependencyError(
            "shipyard is not installed as a distribution, so its dependency versions cannot be "
            "pinned; install it with: pip install -e ."
        ) from exc
    lines: dict[str, str] = {}
    for requirement in own.requires or []:
        spec, _, marker = requirement.partition(";")
        found = _EXTRA.search(marker)
        if found is not None and found.group(1) not in wanted:
            continue
        match = _NAME.match(spec)
        if match is None:
            continue
        name, extra_part = match.group(1), match.group(2) or ""
        if name.lower() == DISTRIBUTION:
            continue  # "shipyard[...]; extra == 'all'" and the like: aggregates, not packages
        rest = _EXTRA.sub("", marker).strip()
        rest = re.sub(r"^(and\s+)|(\s+and)$", "", rest).strip()
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            if rest:  # a platform-specific requirement (uvloop) that does not apply here
                continue
            extra = found.group(1) if found else None
            hint = f"pip install 'shipyard[{extra}]'" if extra else f"pip install {name}"
            raise MissingDependencyError(
                f"{name} is needed in the image but not installed here, so its version cannot "
                f"be pinned; install it with: {hint}"
            ) from None
        line = f"{name}{extra_part}=={version}"
        lines[name.lower()] = f"{line}; {rest}" if rest else line
    return Pinned(
        shipyard_version=own.version,
        extras=tuple(sorted(wanted)),
        lines=tuple(lines[key] for key in sorted(lines)),
    )
