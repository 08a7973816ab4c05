from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import ConfigError
from shipyard.settings import Settings


def test_defaults_put_everything_under_home(tmp_path: Path) -> None:
    s = Settings.load({"SHIPYARD_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'registry.db').resolve()}"
    assert s.resolved_artifacts_url == str((tmp_path / "artifacts").resolve())
    assert s.allow_pickle is False and s.sample_rows == 10_000


def test_file_then_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text(
        '[shipyard]\nallow_pickle = true\nsample_rows = 500\ntrusted_types = ["a.B", "c.D"]\n'
        'database_url = "sqlite:///from-file.db"\n'
    )
    env = {"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_SAMPLE_ROWS": "42"}
    s = Settings.load(env)
    assert s.allow_pickle is True
    assert s.sample_rows == 42
    assert s.trusted_types == ("a.B", "c.D")
    assert s.database_url == "sqlite:///from-file.db"
    assert s.config_file == tmp_path / "shipyard.toml"
    env["SHIPYARD_ALLOW_PICKLE"] = "0"
    env["SHIPYARD_TRUSTED_TYPES"] = "x.Y, z.W"
    s = Settings.load(env)
    assert s.allow_pickle is False and s.trusted_types == ("x.Y", "z.W")


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('actor = "ci-bot"\n')
    s = Settings.load({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_CONFIG": str(config)})
    assert s.actor == "ci-bot" and s.resolved_actor == "ci-bot"
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load({"SHIPYARD_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHIPYARD_ALLOW_PICKLE": "maybe"}, "allow_pickle"),
        ({"SHIPYARD_SAMPLE_ROWS": "many"}, "SHIPYARD_SAMPLE_ROWS"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load({"SHIPYARD_HOME": str(tmp_path), **env})


def test_bad_file_names_the_problem(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text("allow_pickle = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load({"SHIPYARD_HOME": str(tmp_path)})
    (tmp_path / "shipyard.toml").write_text("alow_pickle = true\n")
    with pytest.raises(ConfigError, match=r"unknown setting.*alow_pickle"):
        Settings.load({"SHIPYARD_HOME": str(tmp_path)})
