"""Login forms that slow password guessing: a few failures, then a pause.

After `MAX_FAILURES_PER_USER` failed logins for one user name from one address within
`WINDOW_SECONDS`, or `MAX_FAILURES_PER_ADDRESS` from one address for any names, that login is
refused until the window has passed, with a message that says so. Counted per pair, not per
user name alone, so a stranger cannot lock a colleague out from elsewhere. The counts live in
the cache: set CACHE_URL to a shared cache (Redis) in production, or each server process
counts on its own.
"""

import hashlib

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 50
WINDOW_SECONDS = 15 * 60


def _keys(request, username: str) -> tuple[str, str]:
    address = (request.META.get("REMOTE_ADDR", "") if request is not None else "") or "unknown"
    name = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()
    return f"login-fail:{address}:{name}", f"login-fail:{address}"


def _failures(key: str) -> int:
    return cache.get(key, 0)


def _count_failure(key: str) -> None:
    # add() starts the window; incr() keeps it (the key expires WINDOW_SECONDS after the first).
    if not cache.add(key, 1, WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:
            cache.add(key, 1, WINDOW_SECONDS)


class _Throttled:
    # Set when the login was refused for the pause, so the page can say so.
    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        per_user, per_address = _keys(self.request, username)
        if (
            _failures(per_user) >= MAX_FAILURES_PER_USER
            or _failures(per_address) >= MAX_FAILURES_PER_ADDRESS
        ):
            self.throttled = True
            raise ValidationError(
                "Too many failed logins. Wait 15 minutes, then try again.", code="throttled"
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            _count_failure(per_user)
            _count_failure(per_address)
            raise
        cache.delete(per_user)
        return cleaned


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    """The product's login form."""


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    """Django admin's login form, with the same limits."""
