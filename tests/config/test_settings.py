"""Settings: defaults that work on a fresh machine, and bad values that name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, flower_basic_auth, load_settings


def test_defaults_need_nothing() -> None:
    settings = load_settings({})
    assert settings.database_url is None and settings.redis_url is None
    assert settings.uses_embedded_services
    assert (settings.port, settings.flower_port, settings.host) == (8000, 5555, "127.0.0.1")
    assert settings.generation_provider == "local"
    assert settings.stage_max_attempts == 3


def test_an_openai_key_makes_openai_the_default_provider() -> None:
    settings = load_settings(
        {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    )
    assert settings.generation_provider == "openai"
    assert (
        load_settings({"OPENAI_API_KEY": "sk", "GENERATION_PROVIDER": "local"}).generation_provider
        == "local"
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"FLOWER_PORT": "0"}, "FLOWER_PORT"),
        ({"FLOWER_BASIC_AUTH": "nopassword"}, "FLOWER_BASIC_AUTH"),
        ({"GENERATION_PROVIDER": "midjourney"}, "GENERATION_PROVIDER"),
        ({"GENERATION_PROVIDER": "openai"}, "OPENAI_API_KEY"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"OPENAI_BASE_URL": "ftp://x"}, "OPENAI_BASE_URL"),
        ({"PROVIDER_TIMEOUT_S": "-1"}, "PROVIDER_TIMEOUT_S"),
        ({"STAGE_MAX_ATTEMPTS": "1.5"}, "STAGE_MAX_ATTEMPTS"),
        ({"STAGE_SOFT_TIME_LIMIT_S": "100", "STAGE_TIME_LIMIT_S": "50"}, "STAGE_TIME_LIMIT_S"),
        ({"WEBHOOK_RETRY_SCHEDULE_S": "5,soon"}, "WEBHOOK_RETRY_SCHEDULE_S"),
        ({"WEBHOOK_RETRY_SCHEDULE_S": "5,0"}, "WEBHOOK_RETRY_SCHEDULE_S"),
        ({"WEBHOOK_TIMEOUT_S": "0"}, "WEBHOOK_TIMEOUT_S"),
        ({"PROGRESS_PUSH_SECRET": "short"}, "PROGRESS_PUSH_SECRET"),
    ],
)
def test_a_bad_value_fails_naming_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_flower_password_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings({"LOCAL_DIR": str(tmp_path)})
    first = flower_basic_auth(settings)
    user, _, password = first.partition(":")
    assert user == "admin" and len(password) >= 12
    assert flower_basic_auth(settings) == first
    assert (tmp_path / "flower_basic_auth").stat().st_mode & 0o077 == 0
    assert flower_basic_auth(load_settings({"FLOWER_BASIC_AUTH": "ops:s3cret"})) == "ops:s3cret"


def test_webhook_settings_parse_lists() -> None:
    defaults = load_settings({}).webhooks
    assert defaults.allowed_hosts == frozenset() and defaults.progress_push_secret is None
    assert 20 * 3600 < sum(defaults.retry_schedule_s) < 30 * 3600  # about a day of retries
    webhooks = load_settings(
        {
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1, Hooks.internal ,[::1]",
            "WEBHOOK_RETRY_SCHEDULE_S": "1,2.5",
        }
    ).webhooks
    assert webhooks.allowed_hosts == {"127.0.0.1", "hooks.internal", "::1"}
    assert webhooks.retry_schedule_s == (1.0, 2.5)
