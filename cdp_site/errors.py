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
