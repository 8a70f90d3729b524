"""Settings, the dev secret and migration discovery: no engine involved."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError, Settings
from storage import migrate


def test_cors_origins_are_split() -> None:
    settings = Settings(_env_file=None, CORS_ORIGINS="https://a.example, https://b.example")  # type: ignore[call-arg]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_only_hs256() -> None:
    with pytest.raises(ValueError, match="HS256"):
        Settings(_env_file=None, JWT_ALGORITHM="none")  # type: ignore[call-arg]


@pytest.mark.parametrize("secret", [None, "", "changeme", "x" * 31])
def test_production_needs_a_strong_secret(secret: str | None) -> None:
    settings = Settings(_env_file=None, APP_ENV="production", JWT_SECRET_KEY=secret)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        settings.require_strong_secret()


def test_development_tolerates_a_missing_secret() -> None:
    Settings(_env_file=None, APP_ENV="development").require_strong_secret()  # type: ignore[call-arg]
    Settings(_env_file=None, APP_ENV="production", JWT_SECRET_KEY="k" * 40).require_strong_secret()  # type: ignore[call-arg]


def test_dev_secret_is_kept(tmp_path: Path) -> None:
    from devservices.stack import dev_secret

    first = dev_secret(tmp_path)
    assert len(first) >= 32 and dev_secret(tmp_path) == first


def test_discover_rejects_bad_names(tmp_path: Path) -> None:
    (tmp_path / "first.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError):
        migrate.discover(tmp_path)
    (tmp_path / "first.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError):
        migrate.discover(tmp_path)


def test_given_urls_start_nothing(tmp_path: Path) -> None:
    from devservices.stack import local_engines

    with local_engines(
        tmp_path / "var", "postgresql://db.example/x", "redis://cache.example/0"
    ) as e:
        assert e.database_url == "postgresql://db.example/x"
        assert e.redis_url == "redis://cache.example/0"
    assert not (tmp_path / "var").exists()
