"""Errors the domain raises when it refuses a request, each with a stable code.

Services raise a subclass of `DomainError`; the DRF exception handler (`cdp_site.rest`) maps each
kind to its HTTP status, and pages show `message` in place. Domain code never builds responses.
"""


class DomainError(Exception):
    """A request the domain refuses. `code` is stable for programs, `message` is for people."""

    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str = ""):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        # The input the problem is about (a form field or a definition path), when there is one.
        self.field = field


class InvalidInputError(DomainError):
    """What was sent cannot be used as it is (a bad definition, a bad name)."""

    code = "invalid"
    status = 400


class NotOwnerError(DomainError):
    """Only the owner of the object may do this."""

    code = "not_owner"
    status = 403


class InUseError(DomainError):
    """The object cannot change this way while something else depends on it."""

    code = "in_use"
    status = 409


class ConflictError(DomainError):
    """The object is not in a state that allows this (already done, no longer possible)."""

    code = "conflict"
    status = 409


class TooExpensiveError(DomainError):
    """The work asked for costs more than a person's request may spend (a live count, a search):
    the same work can run in the background instead."""

    code = "too_expensive"
    status = 422


class TooManyRequestsError(DomainError):
    """Too many requests of this kind at once or within a window: try again after a pause."""

    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))
