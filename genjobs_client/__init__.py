"""genjobs_client: a typed Python client and the `genjobs` command line for the genjobs API."""

from genjobs_client.client import Client
from genjobs_client.errors import (
    ApiError,
    AuthError,
    Conflict,
    GenjobsError,
    InvalidRequest,
    JobCanceled,
    JobFailed,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
    WaitTimeout,
)
from genjobs_client.events import Event
from genjobs_client.models import Artifact, Batch, Job, Page, Progress

__all__ = [
    "ApiError",
    "Artifact",
    "AuthError",
    "Batch",
    "Client",
    "Conflict",
    "Event",
    "GenjobsError",
    "InvalidRequest",
    "Job",
    "JobCanceled",
    "JobFailed",
    "NotFound",
    "Page",
    "Progress",
    "QuotaExceeded",
    "ServiceUnavailable",
    "WaitTimeout",
]
