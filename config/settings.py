"""Typed settings, read once from the environment.

This is the only module that reads ``os.environ``. Every value has a default
that works on a fresh machine; a bad value fails at start with a message that
names the variable. Units live in the names (``provider_timeout_s``).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root; `.local/` (embedded services, artifacts) lives under it."""

PROVIDERS = ("openai", "local")
"""Generation providers a deployment may choose with GENERATION_PROVIDER."""

T = TypeVar("T")

RETENTION_DAYS_DEFAULTS = {"standard": 7.0, "vip": 30.0}
"""tier -> days a finished job and its files are kept (STANDARD_RETENTION_DAYS, ...)."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
"""LOG_LEVEL choices."""

TIER_DEFAULTS: dict[str, tuple[int, int, int, int]] = {
    "standard": (120, 2000, 500, 4),
    "vip": (600, 20000, 5000, 16),
}
"""tier -> (requests per minute, jobs per day, max pending, max in flight), unless the
environment says otherwise (e.g. VIP_MAX_IN_FLIGHT=32)."""

LIMIT_NAMES = ("requests_per_minute", "jobs_per_day", "max_pending", "max_in_flight")
"""The per-tier limits, in TIER_DEFAULTS order."""


@dataclass(frozen=True, kw_only=True)
class TierLimits:
    """A tier's default limits; a user's own values (users table) override them."""

    requests_per_minute: int
    jobs_per_day: int
    max_pending: int
    max_in_flight: int


@dataclass(frozen=True, kw_only=True)
class WebhookSettings:
    """Webhooks out (signed deliveries) and progress pushes in."""

    allowed_hosts: frozenset[str]
    retry_schedule_s: tuple[float, ...]
    timeout_s: float
    secret_grace_s: float
    progress_push_secret: str | None


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot start with."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the web app, workers and CLI are configured with."""

    database_url: str | None
    redis_url: str | None
    broker_key_prefix: str
    host: str
    port: int
    flower_port: int
    flower_basic_auth: str | None
    secret_key: str | None
    generation_provider: str
    openai_api_key: str | None
    openai_base_url: str | None
    image_model: str
    chat_model: str
    local_dir: Path
    artifacts_dir: Path
    embedded_pg_port: int
    embedded_redis_port: int
    provider_timeout_s: float
    stage_max_attempts: int
    stage_soft_time_limit_s: int
    stage_time_limit_s: int
    retry_backoff_base_s: float
    retry_backoff_max_s: float
    max_request_bytes: int
    heartbeat_interval_s: float
    heartbeat_timeout_s: float
    cancel_poll_interval_s: float
    maintenance_interval_s: float
    lost_message_grace_s: float
    bench_noop_kind: bool
    sse_heartbeat_s: float
    tier_limits: dict[str, TierLimits]
    sse_queue_refresh_s: float
    log_level: str
    log_format: str
    metrics_dir: Path
    worker_metrics_port: int
    flower_url: str
    flower_db_path: Path
    flower_state_save_interval_s: float
    retention_days: dict[str, float]
    retention_interval_s: float
    orphan_file_grace_s: float
    finished_job_events_kept: int
    openai_image_mode: str
    provider_poll_interval_s: float
    provider_poll_max_interval_s: float
    provider_job_timeout_s: float
    provider_callback_secret: str | None
    tryon_max_image_bytes: int
    tryon_max_image_pixels: int
    script_max_novel_bytes: int
    script_chunk_chars: int
    webhooks: WebhookSettings
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def uses_embedded_services(self) -> bool:
        """True when Postgres or Redis must be started under `.local/`."""
        return self.database_url is None or self.redis_url is None


def _read(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}={raw!r} is not valid: {exc}") from None


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("a port is a number from 1 to 65535")
    return value


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if value <= 0:  # type: ignore[operator]
            raise ValueError("must be greater than 0")
        return value

    return parse


def _port_or_off(raw: str) -> int:
    return 0 if raw == "0" else _port(raw)


def _not_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return parse


def _tier_limits(
    env: Mapping[str, str], tier: str, defaults: tuple[int, int, int, int]
) -> TierLimits:
    values = {
        name: _read(env, f"{tier.upper()}_{name.upper()}", _positive(int), default)
        for name, default in zip(LIMIT_NAMES, defaults, strict=True)
    }
    return TierLimits(**values)


def _flag(raw: str) -> bool:
    if raw.lower() not in ("1", "true", "yes", "0", "false", "no"):
        raise ValueError("must be 1/true/yes or 0/false/no")
    return raw.lower() in ("1", "true", "yes")


def _basic_auth(raw: str) -> str:
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ValueError("must look like user:password")
    return raw


def _whsec(raw: str) -> str:
    body = raw.removeprefix("whsec_")
    try:
        key = base64.b64decode(body + "==", validate=False) if body != raw else b""
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError("must be a Standard Webhooks secret: whsec_ and 16+ bytes of base64")
    return raw


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(schemes):
            raise ValueError(f"must start with {' or '.join(schemes)}")
        return raw

    return parse


def _schedule(raw: str) -> tuple[float, ...]:
    delays = tuple(float(part) for part in raw.split(","))
    if any(delay <= 0 for delay in delays):
        raise ValueError("must be comma-separated delays in seconds, each greater than 0")
    return delays


def _hosts(raw: str) -> frozenset[str]:
    return frozenset(host.strip().lower().strip("[]") for host in raw.split(",") if host.strip())


def _long_secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters")
    return raw


def _webhook_settings(env: Mapping[str, str]) -> WebhookSettings:
    return WebhookSettings(
        allowed_hosts=_read(env, "WEBHOOK_ALLOWED_HOSTS", _hosts, frozenset()),
        # About a day in all, as Svix schedules it: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
        retry_schedule_s=_read(
            env,
            "WEBHOOK_RETRY_SCHEDULE_S",
            _schedule,
            (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0),
        ),
        timeout_s=_read(env, "WEBHOOK_TIMEOUT_S", _positive(float), 10.0),
        secret_grace_s=_read(env, "WEBHOOK_SECRET_GRACE_S", _positive(float), 86400.0),
        progress_push_secret=_read(env, "PROGRESS_PUSH_SECRET", _long_secret, None),
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment into Settings; raises SettingsError naming the variable."""
    env = os.environ if env is None else env
    openai_api_key = _read(env, "OPENAI_API_KEY", str, None)
    local_dir = _read(env, "LOCAL_DIR", Path, PROJECT_ROOT / ".local")
    host = _read(env, "HOST", str, "127.0.0.1")
    flower_port = _read(env, "FLOWER_PORT", _port, 5555)
    settings = Settings(
        database_url=_read(env, "DATABASE_URL", _url("postgresql"), None),
        redis_url=_read(env, "REDIS_URL", _url("redis://", "rediss://", "unix://"), None),
        broker_key_prefix=_read(env, "BROKER_KEY_PREFIX", str, ""),
        host=host,
        port=_read(env, "PORT", _port, 8000),
        flower_port=flower_port,
        flower_basic_auth=_read(env, "FLOWER_BASIC_AUTH", _basic_auth, None),
        secret_key=_read(env, "SECRET_KEY", str, None),
        generation_provider=_read(
            env,
            "GENERATION_PROVIDER",
            _choice(*PROVIDERS),
            "openai" if openai_api_key else "local",
        ),
        openai_api_key=openai_api_key,
        openai_base_url=_read(env, "OPENAI_BASE_URL", _url("http://", "https://"), None),
        image_model=_read(env, "IMAGE_MODEL", str, "gpt-image-1"),
        chat_model=_read(env, "CHAT_MODEL", str, "gpt-4o-mini"),
        local_dir=local_dir,
        artifacts_dir=_read(env, "ARTIFACTS_DIR", Path, local_dir / "artifacts"),
        embedded_pg_port=_read(env, "EMBEDDED_PG_PORT", _port, 54329),
        embedded_redis_port=_read(env, "EMBEDDED_REDIS_PORT", _port, 56379),
        provider_timeout_s=_read(env, "PROVIDER_TIMEOUT_S", _positive(float), 120.0),
        stage_max_attempts=_read(env, "STAGE_MAX_ATTEMPTS", _positive(int), 3),
        stage_soft_time_limit_s=_read(env, "STAGE_SOFT_TIME_LIMIT_S", _positive(int), 600),
        stage_time_limit_s=_read(env, "STAGE_TIME_LIMIT_S", _positive(int), 660),
        retry_backoff_base_s=_read(env, "RETRY_BACKOFF_BASE_S", _positive(float), 2.0),
        retry_backoff_max_s=_read(env, "RETRY_BACKOFF_MAX_S", _positive(float), 300.0),
        max_request_bytes=_read(env, "MAX_REQUEST_BYTES", _positive(int), 16 * 1024 * 1024),
        heartbeat_interval_s=_read(env, "HEARTBEAT_INTERVAL_S", _positive(float), 5.0),
        heartbeat_timeout_s=_read(env, "HEARTBEAT_TIMEOUT_S", _positive(float), 60.0),
        cancel_poll_interval_s=_read(env, "CANCEL_POLL_INTERVAL_S", _positive(float), 0.5),
        maintenance_interval_s=_read(env, "MAINTENANCE_INTERVAL_S", _positive(float), 15.0),
        lost_message_grace_s=_read(env, "LOST_MESSAGE_GRACE_S", _positive(float), 60.0),
        bench_noop_kind=_read(env, "BENCH_NOOP_KIND", _flag, False),
        sse_heartbeat_s=_read(env, "SSE_HEARTBEAT_S", _positive(float), 15.0),
        tier_limits={
            tier: _tier_limits(env, tier, defaults) for tier, defaults in TIER_DEFAULTS.items()
        },
        sse_queue_refresh_s=_read(env, "SSE_QUEUE_REFRESH_S", _positive(float), 5.0),
        log_level=_read(env, "LOG_LEVEL", _choice(*LOG_LEVELS), "INFO"),
        log_format=_read(env, "LOG_FORMAT", _choice("auto", "json", "console"), "auto"),
        metrics_dir=_read(env, "METRICS_DIR", Path, local_dir / "metrics"),
        worker_metrics_port=_read(env, "WORKER_METRICS_PORT", _port_or_off, 9808),
        flower_url=_read(env, "FLOWER_URL", _url("http://", "https://"), None)
        or f"http://{host}:{flower_port}",
        flower_db_path=_read(env, "FLOWER_DB_PATH", Path, local_dir / "flower.db"),
        flower_state_save_interval_s=_read(
            env, "FLOWER_STATE_SAVE_INTERVAL_S", _positive(float), 10.0
        ),
        retention_days={
            tier: _read(env, f"{tier.upper()}_RETENTION_DAYS", _positive(float), default)
            for tier, default in RETENTION_DAYS_DEFAULTS.items()
        },
        retention_interval_s=_read(env, "RETENTION_INTERVAL_S", _positive(float), 600.0),
        orphan_file_grace_s=_read(env, "ORPHAN_FILE_GRACE_S", _positive(float), 3600.0),
        finished_job_events_kept=_read(env, "FINISHED_JOB_EVENTS_KEPT", _not_negative_int, 0),
        openai_image_mode=_read(env, "OPENAI_IMAGE_MODE", _choice("sync", "background"), "sync"),
        provider_poll_interval_s=_read(env, "PROVIDER_POLL_INTERVAL_S", _positive(float), 5.0),
        provider_poll_max_interval_s=_read(
            env, "PROVIDER_POLL_MAX_INTERVAL_S", _positive(float), 60.0
        ),
        provider_job_timeout_s=_read(env, "PROVIDER_JOB_TIMEOUT_S", _positive(float), 3600.0),
        provider_callback_secret=_read(env, "PROVIDER_CALLBACK_SECRET", _whsec, None),
        tryon_max_image_bytes=_read(env, "TRYON_MAX_IMAGE_BYTES", _positive(int), 7 * 1024 * 1024),
        tryon_max_image_pixels=_read(env, "TRYON_MAX_IMAGE_PIXELS", _positive(int), 40_000_000),
        script_max_novel_bytes=_read(env, "SCRIPT_MAX_NOVEL_BYTES", _positive(int), 2 * 1024**2),
        script_chunk_chars=_read(env, "SCRIPT_CHUNK_CHARS", _positive(int), 6000),
        webhooks=_webhook_settings(env),
    )
    if settings.heartbeat_timeout_s <= 2 * settings.heartbeat_interval_s:
        raise SettingsError("HEARTBEAT_TIMEOUT_S must be more than twice HEARTBEAT_INTERVAL_S")
    if settings.generation_provider == "openai" and not settings.openai_api_key:
        raise SettingsError("GENERATION_PROVIDER=openai needs OPENAI_API_KEY to be set")
    if settings.stage_time_limit_s <= settings.stage_soft_time_limit_s:
        raise SettingsError("STAGE_TIME_LIMIT_S must be greater than STAGE_SOFT_TIME_LIMIT_S")
    return settings


def local_secret(settings: Settings, name: str, make: Callable[[], str]) -> str:
    """Read a generated secret from `.local/`, creating it (mode 0600) on first use."""
    path = settings.local_dir / name
    if path.exists():
        return path.read_text().strip()
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    # Write aside, then link into place: link fails if another process won the race,
    # and then its value is the one everyone uses.
    draft = path.with_name(f".{name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make() + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


def flower_basic_auth(settings: Settings) -> str:
    """FLOWER_BASIC_AUTH, or a generated `admin:<password>` kept under `.local/`."""
    if settings.flower_basic_auth:
        return settings.flower_basic_auth
    return local_secret(settings, "flower_basic_auth", lambda: f"admin:{secrets.token_urlsafe(12)}")


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, or a generated key kept under `.local/` so sessions survive restarts."""
    if settings.secret_key:
        return settings.secret_key
    return local_secret(settings, "secret_key", lambda: secrets.token_urlsafe(32))
