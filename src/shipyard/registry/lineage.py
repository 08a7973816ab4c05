"""Where a version came from: the caller's git commit, library versions, the running Python."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["git_state", "library_versions"]

_LIBRARIES = (
    "shipyard",
    "numpy",
    "pandas",
    "scikit-learn",
    "skops",
    "onnx",
    "onnxruntime",
    "xgboost",
    "xgboost-cpu",
    "lightgbm",
)


def git_state(path: str | Path | None = None) -> dict[str, Any] | None:
    """The commit and dirty flag of the git working tree containing ``path`` (default: the
    current directory), or None outside a repository or without git."""
    cwd = Path(path) if path is not None else Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def library_versions(flavor_libraries: tuple[str, ...] = ()) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in (*_LIBRARIES, *flavor_libraries):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
