"""The client's exceptions, one per thing a caller would do differently.

GenjobsError                 anything the client raises
├── ApiError                 the service answered with an error (status, code, field)
│   ├── AuthError            401/403: the API key is missing, wrong or revoked
│   ├── NotFound             404: no such job or batch (or another user's)
│   ├── InvalidRequest       400/413/422: bad input; `field` names what is wrong
│   ├── Conflict             409: illegal transition, or an Idempotency-Key reused
│   ├── QuotaExceeded        429: over a quota or rate limit; see `retry_after_s`
│   └── ServiceUnavailable   5xx, or the service could not be reached at all
├── JobFailed                the job ended `failed`; `job.error` says why
│   └── JobCanceled          the job ended `canceled`
└── WaitTimeout              the job did not finish within the wait's timeout
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genjobs_client.models import Job


class GenjobsError(Exception):
    """Base of every exception the client raises."""


class ApiError(GenjobsError):
    """The service answered with an error body {"error": {"code", "message", "field"?}}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{message} (HTTP {status}, {code})" if status else message)
        self.status, self.code, self.message = status, code, message
        self.field, self.retry_after_s = field, retry_after_s


class AuthError(ApiError):
    """The API key is missing, unknown or revoked (401), or not allowed (403)."""


class NotFound(ApiError):
    """No such job or batch, or it belongs to someone else (404)."""


class InvalidRequest(ApiError):
    """The request was refused as bad input (400, 413, 422); `field` names the culprit."""


class Conflict(ApiError):
    """The job is in a state that forbids this, or the Idempotency-Key was reused (409)."""


class QuotaExceeded(ApiError):
    """Over a quota or rate limit (429); try again after `retry_after_s`."""


class ServiceUnavailable(ApiError):
    """The service failed (5xx) or could not be reached; retried already, still down."""


class JobFailed(GenjobsError):
    """The job finished as `failed`; `job.error` holds {code, message, retryable}."""

    def __init__(self, job: Job) -> None:
        error: dict[str, Any] = job.error or {}
        code = error.get("code", "unknown")
        super().__init__(f"job {job.id} {job.status}: {error.get('message', code)} ({code})")
        self.job = job


class JobCanceled(JobFailed):
    """The job finished as `canceled`."""

    def __init__(self, job: Job) -> None:
        GenjobsError.__init__(self, f"job {job.id} was canceled")
        self.job = job


class WaitTimeout(GenjobsError):
    """The job was still running when the wait's timeout ran out; `job` is its last state."""

    def __init__(self, job_id: str, timeout_s: float, job: Job | None = None) -> None:
        state = f" (still {job.status}, {job.progress}%)" if job else ""
        super().__init__(f"job {job_id} did not finish within {timeout_s:g} s{state}")
        self.job_id, self.timeout_s, self.job = job_id, timeout_s, job


STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
    429: QuotaExceeded,
}
"""HTTP status -> the exception it raises; other 4xx are plain ApiError, 5xx ServiceUnavailable."""


def error_for_status(status: int) -> type[ApiError]:
    """The exception class for an error answer with this status."""
    if status >= 500:
        return ServiceUnavailable
    return STATUS_ERRORS.get(status, ApiError)
