"""Configuration: settings from the environment and the embedded services they imply."""

from __future__ import annotations

from functools import cache

from config.embedded import ensure_services
from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "get_settings", "load_settings", "service_urls"]


@cache
def get_settings() -> Settings:
    """The process-wide settings, parsed once."""
    return load_settings()


@cache
def service_urls() -> tuple[str, str]:
    """(database_url, redis_url), starting embedded services when the URLs are unset."""
    return ensure_services(get_settings())
