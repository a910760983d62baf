"""Step 1: one settings registry — layers, secrets from files, placeholder refusal, masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import build_app
from hub.settings import Settings, load_settings


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
    with pytest.raises(ValidationError, match="ulr"):
        load_settings(config)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.toml")


def test_placeholder_secret_refused_outside_demo_mode(tmp_path: Path) -> None:
    config = _write(tmp_path / "prod.toml", "demo = false\n")
    with pytest.raises(ValidationError, match="placeholder"):
        load_settings(config)


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
