"""Login forms that slow password guessing: a few failures, then a pause.

After `MAX_FAILURES_PER_USER` failed logins for one user name from one address within
`WINDOW_SECONDS`, or `MAX_FAILURES_PER_ADDRESS` from one address for any names, that login is
refused until the window has passed, with a message that says so. Counted per pair, not per
user name alone, so a stranger cannot lock a colleague out from elsewhere.

Each attempt is counted before the password is checked, so parallel requests cannot all slip
under the limit while the (slow) password hashing runs; a success takes its count back.

The address is the connection's, or, behind a reverse proxy, the one the proxy reports in the
header named by the setting `CDP_CLIENT_IP_HEADER` (e.g. `X-Forwarded-For`: the last address
there, the one the proxy itself added). The counts live in the cache: set CACHE_URL to a shared
cache (Redis) in production, or each server process counts on its own.
"""

import contextlib
import hashlib

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 50
WINDOW_SECONDS = 15 * 60


def client_address(request) -> str:
    """The address a request came from, as far as this server can trust it."""
    if request is None:
        return "unknown"
    header = getattr(settings, "CDP_CLIENT_IP_HEADER", "")
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        # The last entry is the one the trusted proxy added; earlier ones the client may forge.
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _keys(request, username: str) -> tuple[str, str]:
    address = client_address(request)
    name = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()
    return f"login-attempt:{address}:{name}", f"login-attempt:{address}"


def _count(key: str) -> int:
    """One more attempt on `key`; the count so far, this one included."""
    # add() starts the window; incr() keeps it (the key expires WINDOW_SECONDS after the first).
    if cache.add(key, 1, WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, WINDOW_SECONDS)
        return 1


def _uncount(key: str) -> None:
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(key)


class _Throttled:
    # Set when the login was refused for the pause, so the page can say so.
    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        per_user, per_address = _keys(self.request, username)
        if (
            _count(per_user) > MAX_FAILURES_PER_USER
            or _count(per_address) > MAX_FAILURES_PER_ADDRESS
        ):
            self.throttled = True
            raise ValidationError(
                "Too many failed logins. Wait 15 minutes, then try again.", code="throttled"
            )
        cleaned = super().clean()  # a wrong password raises: the attempt stays counted
        cache.delete(per_user)
        _uncount(per_address)
        return cleaned


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    """The product's login form."""


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    """Django admin's login form, with the same limits."""
