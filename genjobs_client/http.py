"""One HTTP request with the client's retry rules; error answers become typed exceptions.

Retried (with exponential backoff, never sooner than the server's Retry-After):
connection failures, and 5xx answers. A request that is not safe to repeat (cancel,
retry) is repeated only when the service surely did not act on it: it could not be
reached, or it said 503 (unavailable). Submits are safe to repeat because each carries
an Idempotency-Key that stays the same across the repeats.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx2

from genjobs_client.errors import ApiError, ServiceUnavailable, error_for_status

RETRY_DELAY_MAX_S = 30.0
"""The longest the client sleeps between two tries of one request."""

NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
"""Transport errors raised before the request reached the service."""


def retry_after_s(response: httpx2.Response) -> float | None:
    """The Retry-After header in seconds (delta form only), or None."""
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def api_error(response: httpx2.Response) -> ApiError:
    """The typed exception for an error answer, from its JSON body when it has one."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": f"http_{response.status_code}", "message": response.reason_phrase}
    return error_for_status(response.status_code)(
        response.status_code,
        str(error.get("code", "error")),
        str(error.get("message", "")),
        field=error.get("field"),
        retry_after_s=retry_after_s(response),
    )


class Requester:
    """Sends requests on one httpx2 client, retrying what is safe to retry."""

    def __init__(self, http: httpx2.Client, *, max_retries: int, backoff_s: float) -> None:
        self.http, self.max_retries, self.backoff_s = http, max_retries, backoff_s

    def request(
        self,
        method: str,
        path: str,
        *,
        repeatable: bool,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        """Send; return a 2xx/304 answer or raise the typed error once retries are spent."""
        attempt = 0
        while True:
            if deadline is not None:
                kwargs["timeout"] = max(0.1, min(self._read_timeout(), deadline - time.monotonic()))
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx2.TransportError as exc:
                failure: ApiError = ServiceUnavailable(
                    0, "unreachable", f"cannot reach {self.http.base_url}: {exc!r}"
                )
                if not repeatable and not isinstance(exc, NOT_SENT):
                    raise failure from exc
                cause: Exception | None = exc
            else:
                if response.status_code < 400:
                    return response
                failure = api_error(response)
                if not isinstance(failure, ServiceUnavailable) or not (
                    repeatable or response.status_code == 503
                ):
                    raise failure
                cause = None
            delay = self._delay(attempt, failure.retry_after_s)
            if attempt >= self.max_retries or (
                deadline is not None and time.monotonic() + delay >= deadline
            ):
                raise failure from cause
            attempt += 1
            time.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff: float = self.backoff_s * 2.0**attempt * random.uniform(1.0, 1.5)  # jitter
        return min(RETRY_DELAY_MAX_S, max(backoff, retry_after or 0.0))

    def _read_timeout(self) -> float:
        read: float | None = self.http.timeout.read
        return read or 30.0
