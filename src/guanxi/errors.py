"""Errors that carry an HTTP status and a stable code.

Every error a person can read is a translatable message (``guanxi.i18n.N_``) formatted with
``params`` in the language of the request. The API answers
``{"error": {"code", "message", "details"}}``; codes never change once released.
"""

from __future__ import annotations

from typing import Any, ClassVar

from guanxi.i18n import N_, Message


class InvalidValue(ValueError):
    """A value that cannot be normalised or stored (raised by pure validators, turned into a
    4xx at the edges); ``message`` says why, in either language."""

    def __init__(self, template: str, **params: Any) -> None:
        self.message = Message(template, **params)
        super().__init__(str(self.message))


class GuanxiError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = N_("The request could not be processed.")

    def __init__(self, message: str | None = None, *, details: Any = None, **params: Any) -> None:
        self.text = message or self.message
        self.params = params
        self.details = details
        super().__init__(self.text.format(**params) if params else self.text)


class BadRequest(GuanxiError):
    pass


class NotAuthenticated(GuanxiError):
    status = 401
    code = "not_authenticated"
    message = N_("Sign in or send a valid API key.")


class InvalidCredentials(GuanxiError):
    status = 401
    code = "invalid_credentials"
    message = N_("The email or password is not correct.")


class InvalidApiKey(GuanxiError):
    status = 401
    code = "invalid_api_key"
    message = N_("The API key is unknown, revoked or expired.")


class Forbidden(GuanxiError):
    status = 403
    code = "forbidden"
    message = N_("Your role does not allow this action.")


class InsufficientScope(GuanxiError):
    status = 403
    code = "insufficient_scope"
    message = N_("The API key lacks the scope {scope}.")


class CsrfFailed(GuanxiError):
    status = 403
    code = "csrf_failed"
    message = N_("The form has expired. Reload the page and try again.")


class NotFound(GuanxiError):
    status = 404
    code = "not_found"
    message = N_("{resource} not found.")


class Conflict(GuanxiError):
    status = 409
    code = "conflict"
    message = N_("The request conflicts with the current state.")


class AlreadyExists(Conflict):
    code = "already_exists"
    message = N_("{resource} already exists.")


class InUse(Conflict):
    code = "in_use"
    message = N_("{resource} is still in use.")


class InvalidCursor(GuanxiError):
    status = 400
    code = "invalid_cursor"
    message = N_("The pagination cursor is not valid for this list.")


class InvalidSort(GuanxiError):
    status = 400
    code = "invalid_sort"
    message = N_("Cannot sort by {field}; allowed: {allowed}.")


class ValidationFailed(GuanxiError):
    status = 422
    code = "validation_error"
    message = N_("Some fields are not valid.")
