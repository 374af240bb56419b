import pytest

from servicekit import config


def test_development_secrets_are_refused_outside_local_mode(monkeypatch):
    monkeypatch.setenv("VO2_MODE", "saas")
    monkeypatch.delenv("SOME_SECRET", raising=False)
    with pytest.raises(config.ConfigError):
        config.secret("SOME_SECRET")
    monkeypatch.setenv("SOME_SECRET", config.DEV_SECRET_PREFIX + "x")
    with pytest.raises(config.ConfigError):
        config.secret("SOME_SECRET")
    monkeypatch.setenv("SOME_SECRET", "a-real-one")
    assert config.secret("SOME_SECRET") == "a-real-one"


def test_local_mode_has_embedded_defaults(monkeypatch):
    monkeypatch.setenv("VO2_MODE", "local")
    monkeypatch.delenv("SOME_SECRET", raising=False)
    assert config.secret("SOME_SECRET").startswith(config.DEV_SECRET_PREFIX)


def test_unknown_mode_is_an_error(monkeypatch):
    monkeypatch.setenv("VO2_MODE", "cloud")
    with pytest.raises(config.ConfigError):
        config.mode()
