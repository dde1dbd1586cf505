"""Errors, named as azure-core and azure-ai-ml name them, so ``except`` clauses port unchanged.

Every error the server answers carries its message, its error code (``RESOURCE_DOES_NOT_EXIST``,
``INVALID_PARAMETER_VALUE``, ...) and the HTTP status.
"""

from __future__ import annotations

from typing import Any, Optional


class AtelierError(Exception):
    """The root of every error this SDK raises."""

    def __init__(self, message: str = "", *, error_code: str = "", status_code: Optional[int] = None,
                 response: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status_code = status_code
        self.response = response

    def __str__(self) -> str:
        details = ", ".join(part for part in (self.error_code, f"HTTP {self.status_code}" if self.status_code else "")
                            if part)
        return f"{self.message} ({details})" if details else self.message


class HttpResponseError(AtelierError):
    """The server refused or failed a request (azure-core's name)."""

    @property
    def reason(self) -> str:
        return self.message


class ServiceRequestError(AtelierError):
    """The server could not be reached."""


class ClientAuthenticationError(HttpResponseError):
    """HTTP 401: no token, or one the server does not know (expired, revoked)."""


class PermissionDeniedError(HttpResponseError):
    """HTTP 403: the token's user holds no role that grants the action."""


class ResourceNotFoundError(HttpResponseError):
    """HTTP 404: no such workspace, job, model, ... (or one the token may not see)."""


class ResourceExistsError(HttpResponseError):
    """HTTP 409: the name (or version) is taken."""


class ValidationError(HttpResponseError):
    """HTTP 400, or a mistake found before anything was sent: the message names the field."""


# azure-ai-ml's name for the same thing.
ValidationException = ValidationError


class JobException(AtelierError):
    """A streamed job ended in ``Failed`` or ``Canceled``."""


def error_from_response(response: Any) -> HttpResponseError:
    """The error a failed HTTP response stands for, with the server's message and code."""
    status = response.status_code
    message, code = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or "")
        code = str(body.get("error_code") or "")
    if not message:
        message = (response.text or response.reason or "").strip() or f"HTTP {status}"
    kind: type = HttpResponseError
    if status == 401:
        kind = ClientAuthenticationError
    elif status == 403:
        kind = PermissionDeniedError
    elif status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        kind = ResourceNotFoundError
    elif status == 409 or code == "RESOURCE_ALREADY_EXISTS":
        kind = ResourceExistsError
    elif status == 400:
        kind = ValidationError
    return kind(message, error_code=code, status_code=status, response=response)
