"""JSON errors for every failure: {"error": {"code", "message", "field"?}}, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer with a status, a stable code, and (for bad input) the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.headers = field, headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The JSON error body with its status and headers."""
    body: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    response = jsonify(error=body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def register(app: Flask) -> None:
    """Install the handlers that turn every exception into a JSON error."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(
            exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or code)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc)
        return error_response(
            503,
            "database_unavailable",
            "the database is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "something went wrong on our side")
