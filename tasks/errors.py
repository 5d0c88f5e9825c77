"""What went wrong, named for what the worker should do about it.

    GenerationError                  base; carries a stable `code` and a user-facing message
    ├── TransientError               retry with backoff (a later attempt may succeed)
    │   ├── RateLimited              provider said slow down; honour retry_after_s
    │   ├── ProviderTimeout          the call took longer than provider_timeout_s
    │   ├── ProviderUnavailable      connection failure or a 5xx
    │   └── WorkerLost               the worker running the stage died (found by the reaper)
    └── PermanentError               fail the stage at once; retrying the same input will not help
        ├── ContentRejected          the provider's content policy refused the request
        ├── InvalidInput             the input cannot be processed
        └── ProviderAuthError        the provider rejected our credentials
    InvalidTransition                a state change the table does not allow (a bug or a race)

Providers translate their own exceptions into these at the provider boundary;
the stage runner's retry policy looks only at this tree, never at bare Exception.
"""

from __future__ import annotations


class GenerationError(Exception):
    """A stage failed; `code` is stable for clients, the message is for people."""

    code = "generation_error"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_json(self) -> dict[str, object]:
        """The job's `error` object for this failure."""
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class TransientError(GenerationError):
    """A failure a later attempt may not hit; the runner retries it with backoff."""

    code = "provider_error"
    retryable = True


class RateLimited(TransientError):
    """The provider asked us to slow down; wait at least `retry_after_s`."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderTimeout(TransientError):
    """The provider did not answer in time."""

    code = "provider_timeout"


class ProviderUnavailable(TransientError):
    """The provider could not be reached or answered with a server error."""

    code = "provider_unavailable"


class WorkerLost(TransientError):
    """The worker running the stage stopped heartbeating (killed, or its machine lost)."""

    code = "worker_lost"


class PermanentError(GenerationError):
    """A failure that retrying the same input will not fix."""

    code = "permanent_error"


class ContentRejected(PermanentError):
    """The provider refused the content under its usage policy."""

    code = "content_rejected"


class InvalidInput(PermanentError):
    """The job's input cannot be processed."""

    code = "invalid_input"


class ProviderAuthError(PermanentError):
    """The provider rejected the configured credentials."""

    code = "provider_auth_failed"


class InvalidTransition(Exception):
    """A job state change that the transition table does not allow."""

    def __init__(self, source: str, target: str) -> None:
        super().__init__(f"a job cannot move from {source} to {target}")
        self.source = source
        self.target = target
