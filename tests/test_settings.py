"""Step 1: one settings registry — layers, secrets from files, placeholder refusal, masking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import build_app
from hub.settings import (
    HEALTH_DORMANT_DAYS,
    HEALTH_SCORE_WEIGHTS,
    HEALTH_STALE_DAYS,
    Settings,
    load_settings,
)
from hub.settingsfile import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_then_environment_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _write(
        tmp_path / "x.toml", 'demo = true\n[store]\nurl = "sqlite:///from-file.db"\n[web]\nport = 9001\n'
    )
    monkeypatch.setenv("XINLIAN_WEB__PORT", "9002")
    settings = load_settings(config)
    assert settings.store.url == "sqlite:///from-file.db"
    assert settings.web.port == 9002  # environment wins over the file


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _write(tmp_path / "y.toml", "demo = true\n[sample]\nport = 8799\n")
    monkeypatch.setenv("XINLIAN_CONFIG", str(config))
    assert load_settings().sample.port == 8799


def test_unknown_option_in_file_is_an_error(tmp_path: Path) -> None:
    config = _write(tmp_path / "bad.toml", "demo = true\n[store]\nulr = 'typo'\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(config))}:3: store.ulr: Extra inputs"):
        load_settings(config)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.toml")


def test_placeholder_secret_refused_outside_demo_mode(tmp_path: Path) -> None:
    config = _write(tmp_path / "prod.toml", "demo = false\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(config))}: .*placeholder"):
        load_settings(config)


BAD_FILES = [
    # (file text, line named, what the message says)
    ("demo = true\n[web]\nport = 80\n[crawl\nretry_times = 1\n", 4, "Expected ']'"),
    ("demo = true\n\n[web]\nhost = 'h'\nport = 'eighty'\n", 5, "web.port: Input should be a valid integer"),
    ("demo = true\n[alerts.webhooks.ops]\nsecret = 'abcdefgh'\nurl = 'ftp://x'\n", 4, "webhooks.ops.url"),
    ("demo = true\nweb = 3\n", 2, "web: Input should be a valid dictionary"),
    ("demo = true\nweb = { port = 'x' }\n", 2, "web.port"),
    ("demo = true\n[crawl]\nobey_robots_txt = \"\"\"\nport = 1\n\"\"\"\n", 3, "crawl.obey_robots_txt"),
    ("demo = true\n[moderation]\n'lexicon_dir' = 3\n", 3, "moderation.lexicon_dir"),
    ("demo = true\n[web]\nport = 1\n[web\n", 4, "Cannot declare"),
    ("demo = true\n[store]\nurl = 'sqlite:///x.db'\n[store]\n", 4, "Cannot declare"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "says"), BAD_FILES)
def test_a_bad_config_file_is_named_with_its_line(tmp_path: Path, text: str, line: int, says: str) -> None:
    """Syntax errors, wrong types, bad values, unknown options: ``<file>:<line>: ...``, where the line
    is the one that sets the option (or opens its table)."""
    config = _write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert str(caught.value).startswith(f"{config}:{line}: ")
    assert says in str(caught.value)


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    config = tmp_path / "latin.toml"
    config.write_bytes(b"demo = true\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(config))}:2: not UTF-8"):
        load_settings(config)


def test_a_bad_value_from_the_environment_is_not_blamed_on_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path / "ok.toml", "demo = true\n")
    monkeypatch.setenv("XINLIAN_WEB__PORT", "eighty")
    with pytest.raises(ConfigError, match=r"web\.port: .* \(set in the environment or a secret file\)"):
        load_settings(config)


def test_the_cli_stops_on_a_bad_config_file_naming_file_and_line(tmp_path: Path) -> None:
    config = _write(tmp_path / "bad.toml", "demo = true\n[web]\nport = 'eighty'\n")
    result = CliRunner().invoke(build_app(), ["--config", str(config), "config", "show"])
    assert result.exit_code == 2
    assert f"{config.name}:3: web.port" in " ".join(result.output.split())


def test_secret_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = _write(tmp_path / "key", "s3cret-value-from-file\n")
    config = _write(tmp_path / "prod.toml", "demo = false\n")
    monkeypatch.setenv("XINLIAN_WEB__SECRET_KEY_FILE", str(secret))
    settings = load_settings(config)
    assert settings.web.secret_key.get_secret_value() == "s3cret-value-from-file"


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _write(
        tmp_path / "c.toml",
        'demo = true\n[store]\nurl = "postgresql://app:pg-pass-123@db/x"\n'
        '[search]\nes_password = "es-pass-456"\n',
    )
    monkeypatch.setenv("XINLIAN_WEB__SECRET_KEY", "web-secret-789")
    result = CliRunner().invoke(build_app(), ["--config", str(config), "config", "show", "--all"])
    assert result.exit_code == 0, result.output
    for secret in ("pg-pass-123", "es-pass-456", "web-secret-789"):
        assert secret not in result.output
    assert "***" in result.output
    assert "store.url" in result.output


def test_every_option_has_help_text() -> None:
    def walk(model: type) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            annotation = info.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += [f"{name}.{sub}" for sub in walk(annotation)]
            elif not info.description:
                missing.append(name)
        return missing

    assert walk(Settings) == []


def test_a_partial_health_table_keeps_the_other_defaults(tmp_path: Path) -> None:
    """Naming one unit type or one indicator must not drop the levels and indicators left unnamed: a city
    site stays stale after 7 days, and the score keeps its other weights (issue 7)."""
    config = tmp_path / "xinlian.toml"
    config.write_text(
        "demo = true\n[health]\nstale_days = { school = 60 }\ndormant_days = { branch = 400 }\n"
        "expected_per_week = { city = 10 }\nscore_weights = { moderation = 0 }\n",
        encoding="utf-8",
    )
    health = load_settings(config).health
    assert health.stale_days == {**dict(HEALTH_STALE_DAYS), "school": 60.0}
    assert health.stale_days["city"] == 7.0
    assert health.dormant_days == {**dict(HEALTH_DORMANT_DAYS), "branch": 400.0}
    assert health.expected_per_week["city"] == 10.0 and health.expected_per_week["branch"] == 1.0
    assert health.score_weights == {**dict(HEALTH_SCORE_WEIGHTS), "moderation": 0.0}


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("score_weights = { frequence = 1 }", "unknown indicator"),
        ("score_weights = { frequency = -1 }", ">= 0"),
        ("stale_days = { city = 0 }", "> 0"),
    ],
)
def test_a_bad_health_table_is_refused(tmp_path: Path, table: str, says: str) -> None:
    config = tmp_path / "xinlian.toml"
    config.write_text(f"demo = true\n[health]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=says):
        load_settings(config)
