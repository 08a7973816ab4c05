"""The one place that reads configuration.

Operator settings come from ``shipyard.toml`` (its path in ``SHIPYARD_CONFIG``, by default
``$SHIPYARD_HOME/shipyard.toml``), and every setting can be overridden by a ``SHIPYARD_<NAME>``
environment variable, which wins, so a container can be configured by environment alone.
Nothing is read at import time: call :meth:`Settings.load`.

Objects created at run time (endpoints, rollout plans, alert rules, API keys) live in the
registry database, not here.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from shipyard.errors import ConfigError

__all__ = ["Settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
PREDLOG_MODES = ("buffered", "durable", "off")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Operator configuration. Every field is also ``SHIPYARD_<FIELD>`` in the environment."""

    home: Path = Path(".shipyard")
    """Folder for the default SQLite database and artifact store."""
    database_url: str = ""
    """SQLAlchemy URL of the metadata store; empty means SQLite at ``home/registry.db``."""
    artifacts_url: str = ""
    """Folder or fsspec URL of the artifact store; empty means ``home/artifacts``."""
    allow_pickle: bool = False
    """Allow pickle, cloudpickle and joblib artifacts (they can run code when loaded)."""
    trusted_types: tuple[str, ...] = ()
    """Extra fully qualified type names that skops may load, beyond the built-in list."""
    actor: str = ""
    """Who is acting, for the audit log; empty means the operating-system user."""
    sample_rows: int = 10_000
    """Rows kept in a version's reference sample."""
    convert_onnx: bool = True
    """Convert each registered model to ONNX (checked against the reference sample) for serving."""
    predlog_url: str = ""
    """SQLAlchemy URL of the prediction log (SQLite or PostgreSQL); empty means
    ``predictions.db`` beside the registry's SQLite file (in ``home`` otherwise)."""
    predlog_mode: str = "buffered"
    """How the server records predictions: ``buffered`` (answer at once, commit within
    ``predlog_flush_interval``), ``durable`` (answer only once the record is committed) or
    ``off`` (record nothing)."""
    predlog_flush_interval: float = 1.0
    """Seconds a buffered prediction record may wait before its batch is committed."""
    importance: str = "background"
    """When a version's global importance (mean |SHAP| over its reference sample) is computed
    and attached: ``background`` (by the server just after it loads the version), ``sync``
    (during registration: seconds for a forest) or ``off`` (on first use: card, monitor)."""
    attribution_rows: int = 200
    """Logged rows the monitor explains per pass for attribution drift (0: no attribution
    drift)."""
    attribution_seconds: float = 5.0
    """Time budget of the monitor's attributions per pass; fewer rows are explained past it."""
    cost_vcpu_hour: float = 0.031611
    """Dollars per vCPU-hour, for the cost figures (OpenCost's default)."""
    cost_gib_hour: float = 0.004237
    """Dollars per GiB-hour of memory, for the cost figures (OpenCost's default)."""
    cost_cpu_request: float = 1.0
    """vCPUs requested per served endpoint and replica (the allocation basis of the cost)."""
    cost_memory_request: int = 0
    """Bytes of memory requested per served endpoint and replica; 0: each version's measured
    footprint (so memory has no idle share)."""
    usage_flush_interval: float = 60.0
    """Seconds between the server's writes of its metered usage to the registry."""
    config_file: Path | None = None
    """The configuration file that was read, if any (informational)."""

    def __post_init__(self) -> None:
        # Accept plain strings from code (Settings(home="x")) as the environment would give them.
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            coerced = _coerce(f.name, value, hints[f.name])
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
        if self.predlog_mode not in PREDLOG_MODES:
            raise ConfigError(
                f"setting 'predlog_mode' (SHIPYARD_PREDLOG_MODE) has an invalid value "
                f"{self.predlog_mode!r}: use one of {', '.join(PREDLOG_MODES)}"
            )
        if self.importance not in ("background", "sync", "off"):
            raise ConfigError(
                f"setting 'importance' (SHIPYARD_IMPORTANCE) has an invalid value "
                f"{self.importance!r}: use one of background, sync, off"
            )
        if self.attribution_rows < 0 or not self.attribution_seconds > 0:
            raise ConfigError(
                "settings 'attribution_rows' (SHIPYARD_ATTRIBUTION_ROWS) must be 0 or more and "
                "'attribution_seconds' (SHIPYARD_ATTRIBUTION_SECONDS) positive; got "
                f"{self.attribution_rows!r} and {self.attribution_seconds!r}"
            )
        for name in ("cost_vcpu_hour", "cost_gib_hour", "cost_cpu_request", "cost_memory_request"):
            if not getattr(self, name) >= 0:
                raise ConfigError(
                    f"setting {name!r} (SHIPYARD_{name.upper()}) must be zero or more, got "
                    f"{getattr(self, name)!r}"
                )
        if not self.usage_flush_interval > 0:
            raise ConfigError(
                f"setting 'usage_flush_interval' (SHIPYARD_USAGE_FLUSH_INTERVAL) must be a "
                f"positive number of seconds, got {self.usage_flush_interval!r}"
            )
        if not self.predlog_flush_interval > 0:
            raise ConfigError(
                f"setting 'predlog_flush_interval' (SHIPYARD_PREDLOG_FLUSH_INTERVAL) must be a "
                f"positive number of seconds, got {self.predlog_flush_interval!r}"
            )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'registry.db').resolve()}"

    @property
    def resolved_artifacts_url(self) -> str:
        if self.artifacts_url:
            return self.artifacts_url
        return str((self.home / "artifacts").resolve())

    @property
    def resolved_actor(self) -> str:
        if self.actor:
            return self.actor
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the configuration file and the environment; keyword overrides win over both."""
        env = os.environ if environ is None else environ
        home = Path(env.get("SHIPYARD_HOME", overrides.get("home", ".shipyard")))
        config_path = Path(env["SHIPYARD_CONFIG"]) if env.get("SHIPYARD_CONFIG") else None
        explicit = config_path is not None
        if config_path is None:
            config_path = home / "shipyard.toml"
        values: dict[str, Any] = {}
        if config_path.is_file():
            values.update(_read_toml(config_path))
            values["config_file"] = config_path
        elif explicit:
            raise ConfigError(
                f"SHIPYARD_CONFIG points at {config_path}, which does not exist; "
                "create the file or unset the variable"
            )
        hints = get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if field.name == "config_file":
                continue
            var = f"SHIPYARD_{field.name.upper()}"
            if var in env:
                values[field.name] = env[var]
        values.update(overrides)
        return cls(
            **{
                name: _coerce(name, value, hints[name])
                for name, value in values.items()
                if name in hints
            }
        )

    def audited(self) -> dict[str, Any]:
        """The operator settings whose changes the audit log records."""
        return {
            "allow_pickle": self.allow_pickle,
            "trusted_types": sorted(self.trusted_types),
            "sample_rows": self.sample_rows,
            "artifacts_url": self.resolved_artifacts_url,
        }

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file") from exc
    section = data.get("shipyard", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [shipyard] must be a table")
    known = {f.name for f in dataclasses.fields(Settings)} - {"config_file"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known settings are "
            f"{', '.join(sorted(known))}"
        )
    return dict(section)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    text = str(hint)
    try:
        if hint is bool or text == "bool":
            if isinstance(value, bool):
                return value
            low = str(value).strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")
        if hint is int or text == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if hint is float or text == "float":
            return float(value)
        if hint is Path or text == "Path":
            return value if isinstance(value, Path) else Path(value)
        if "Path | None" in text:
            if value is None or isinstance(value, Path):
                return value
            return None if value == "" else Path(value)
        if text.startswith("tuple[str"):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                return value
            return tuple(str(v) for v in value)
        if hint is str or text == "str":
            return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"setting {name!r} (SHIPYARD_{name.upper()}) has an invalid value {value!r}: {exc}"
        ) from exc
    return value
