"""The one retry policy: which errors retry, how many times, and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass

from config import get_settings
from tasks.errors import GenerationError, RateLimited, TransientError


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, never sooner than the provider's Retry-After."""

    max_attempts: int
    base_s: float
    max_s: float

    def should_retry(self, error: GenerationError, attempt: int) -> bool:
        """True when `error` is transient and attempt `attempt` was not the last allowed."""
        return isinstance(error, TransientError) and attempt < self.max_attempts

    def delay_s(self, error: GenerationError, attempt: int) -> float:
        """Seconds to wait before attempt `attempt + 1`."""
        ceiling = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto
        if isinstance(error, RateLimited) and error.retry_after_s:
            delay = max(delay, min(error.retry_after_s, self.max_s))
        return delay


def stage_retry_policy() -> RetryPolicy:
    """The policy configured by STAGE_MAX_ATTEMPTS and RETRY_BACKOFF_*_S."""
    settings = get_settings()
    return RetryPolicy(
        max_attempts=settings.stage_max_attempts,
        base_s=settings.retry_backoff_base_s,
        max_s=settings.retry_backoff_max_s,
    )
