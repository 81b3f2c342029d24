"""Layered configuration: base -> profile -> local -> environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_kit import Workbench
from platform_kit.config import available_profiles, load_raw_config
from platform_kit.config._loader import deep_merge
from platform_kit.errors import ConfigError, UnknownBackendError, UnknownProfileError

REPO = Path(__file__).resolve().parents[2]


def _tree(tmp_path: Path, base: str, **profiles: str) -> Path:
    env = tmp_path / "environments"
    env.mkdir()
    (env / "base.yml").write_text(base)
    for name, text in profiles.items():
        (env / f"{name}.yml").write_text(text)
    return tmp_path


def test_load_raw_config_defaults_to_embedded_profile() -> None:
    raw = load_raw_config(root=REPO, environ={})
    assert raw["profile"] == "embedded"
    assert raw["broker"]["type"] == "tansu"


def test_load_raw_config_profile_from_environment_variable() -> None:
    raw = load_raw_config(root=REPO, environ={"WORKBENCH_PROFILE": "compose"})
    assert raw["profile"] == "compose"
    assert raw["broker"]["type"] == "kafka"


def test_load_raw_config_profile_type_change_replaces_section() -> None:
    raw = load_raw_config("compose", root=REPO, environ={})
    # tansu-only keys from base.yml must not leak into the kafka section
    assert "bucket" not in raw["broker"] and "cluster_id" not in raw["broker"]


def test_load_raw_config_local_file_overrides_profile(tmp_path: Path) -> None:
    root = _tree(tmp_path, "olap: {type: chdb, path: /a}\n", embedded="olap: {path: /b}\n")
    (root / "environments" / "local.yml").write_text("olap: {path: /c}\n")
    assert load_raw_config(root=root, environ={})["olap"]["path"] == "/c"


def test_load_raw_config_environment_overrides_win_and_parse_yaml_scalars() -> None:
    environ = {"WORKBENCH__BROKER__PORT": "29092", "WORKBENCH__SPARK__UI_ENABLED": "true"}
    raw = load_raw_config(root=REPO, environ=environ)
    assert raw["broker"]["port"] == 29092
    assert raw["spark"]["ui_enabled"] is True


def test_load_raw_config_unknown_profile_lists_valid_ones() -> None:
    with pytest.raises(UnknownProfileError) as info:
        load_raw_config("prod", root=REPO, environ={})
    assert "compose" in str(info.value) and "embedded" in str(info.value)
    assert info.value.fix


@pytest.mark.parametrize("name", ["base", "local"])
def test_load_raw_config_reserved_names_are_not_profiles(name: str) -> None:
    with pytest.raises(UnknownProfileError):
        load_raw_config(name, root=REPO, environ={})


def test_load_raw_config_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    root = _tree(tmp_path, "spark: [unclosed\n", embedded="{}\n")
    with pytest.raises(ConfigError, match="base.yml is not valid YAML"):
        load_raw_config(root=root, environ={})


def test_available_profiles_lists_repo_profiles() -> None:
    assert available_profiles(REPO) == ["compose", "embedded"]


def test_deep_merge_keeps_untouched_keys() -> None:
    merged = deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}})
    assert merged == {"a": {"x": 1, "y": 3}, "b": 1}


def test_workbench_compose_profile_resolves_typed_configs() -> None:
    workbench = Workbench("compose")
    assert workbench.configs["broker"].bootstrap_servers.count(",") == 2  # type: ignore[attr-defined]
    assert workbench.configs["olap"].type == "clickhouse"
    assert workbench.configs["postgres"].type == "postgres"
    assert workbench.configs["spark"].master == "spark://127.0.0.1:7077"  # type: ignore[attr-defined]


def test_workbench_unknown_backend_type_lists_valid_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH__BROKER__TYPE", "rabbitmq")
    with pytest.raises(UnknownBackendError) as info:
        Workbench("embedded")
    assert "kafka" in str(info.value) and "tansu" in str(info.value)


def test_workbench_misspelt_key_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH__POSTGRES__PROT", "5432")
    with pytest.raises(ConfigError, match="prot: Extra inputs are not permitted"):
        Workbench("embedded")


def test_workbench_invalid_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH__BROKER__PORT", "99999")
    with pytest.raises(ConfigError, match="port"):
        Workbench("embedded")


def test_workbench_unknown_section_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown config sections: warehouse"):
        Workbench("embedded", overrides={"warehouse": {"type": "snowflake"}})


def test_workbench_unknown_service_name_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown service 'kafka'"):
        Workbench("embedded").service("kafka")
