from pathlib import Path

import pytest
from pydantic import ValidationError

from lensguard.errors import ConfigurationError
from lensguard.settings import Mode, check_secrets, load_settings, weakness
from tests.harness.server import strong_secret


def test_yaml_file_is_read(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mode: dev\nsecurity:\n  authentication:\n    token_expiry: 600\n")
    settings = load_settings(cfg)
    assert settings.mode is Mode.DEV
    assert settings.security.authentication.token_expiry == 600
    assert settings.security.access_control.default_role == "viewer"


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("security:\n  authentication:\n    token_expiry: 600\n    enabled: true\n")
    monkeypatch.setenv("LENSGUARD_SECURITY__AUTHENTICATION__TOKEN_EXPIRY", "1200")
    settings = load_settings(cfg)
    assert settings.security.authentication.token_expiry == 1200
    assert settings.security.authentication.enabled is True


def test_seed_configuration_block_shape(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "security:\n"
        "  authentication: {enabled: true, method: jwt, token_expiry: 3600}\n"
        "  encryption: {enabled: true, protocol: TLSv1.3, certificate: /etc/cert.pem, key: /k}\n"
        "  access_control: {enabled: true, default_role: operator}\n"
        "  monitoring: {enabled: true, log_level: WARNING, alert_threshold: critical}\n"
    )
    sec = load_settings(cfg).security
    assert sec.encryption.protocol == "TLSv1.3"
    assert str(sec.encryption.certificate) == "/etc/cert.pem"
    assert sec.access_control.default_role == "operator"
    assert sec.monitoring.alert_threshold.value == "critical"


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("security:\n  authentcation: {enabled: false}\n")
    with pytest.raises(ValidationError, match="authentcation"):
        load_settings(cfg)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_non_mapping_yaml_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("- a\n- b\n")
    with pytest.raises(ConfigurationError, match="mapping"):
        load_settings(cfg)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("changeme", "well-known default"),
        ("your-secret-key", "well-known default"),
        ("short-but-random-8fA", "shorter than 32"),
        ("a" * 64, "too predictable"),
        ("abababababababababababababababababababab", "too predictable"),
    ],
)
def test_weak_secrets_are_named(value: str, reason: str) -> None:
    found = weakness(value)
    assert found is not None and reason in found


def test_generated_secret_is_strong() -> None:
    assert weakness(strong_secret()) is None


def test_production_refuses_missing_secret() -> None:
    settings = load_settings(None, mode="production")
    with pytest.raises(ConfigurationError, match="lensguard secret generate"):
        check_secrets(settings)


def test_production_refuses_weak_secret() -> None:
    settings = load_settings(None, mode="production", secret_key="changeme")
    with pytest.raises(ConfigurationError, match="well-known default"):
        check_secrets(settings)


def test_dev_mode_accepts_missing_secret() -> None:
    check_secrets(load_settings(None, mode="dev"))


def test_secrets_do_not_print() -> None:
    secret = strong_secret()
    settings = load_settings(None, secret_key=secret, redis={"url": "redis://:pw@h:6379/0"})
    assert secret not in repr(settings)
    assert secret not in settings.model_dump_json()
    assert "pw@" not in settings.model_dump_json()


@pytest.mark.parametrize("name", ["lensguard.example.yaml", "lensguard.dev.yaml"])
def test_shipped_configuration_files_load(name: str) -> None:
    path = Path(__file__).resolve().parents[1] / "config" / name
    settings = load_settings(path)
    assert settings.server.port == 8443
