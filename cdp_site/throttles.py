"""Request rates: parsing "<requests>/<period>", and the REST API's throttles per person and per
token (settings `CDP_API_RATE_PER_USER`, `CDP_API_RATE_PER_TOKEN`).

Counted in fixed windows with one atomic cache increment per request (`cdp_site.counters`), so
the limit holds across server processes sharing the cache. Over the limit the API answers 429
with `Retry-After` (the seconds until the window ends), which DRF adds from `wait()`.
"""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from .counters import window_hit

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
PERIODS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def rate_parse(rate: str) -> tuple[int, int] | None:
    """("3000/min") -> (3000, 60); None for an empty rate (no limit) or "0"."""
    rate = (rate or "").strip().lower()
    if not rate or rate in ("0", "none", "off"):
        return None
    count, _, period = rate.partition("/")
    if not count.strip().isdigit() or period.strip() not in PERIODS:
        raise ValueError(f"A rate is <requests>/<s|min|hour|day>, not {rate!r}.")
    return int(count), PERIODS[period.strip()]


class _WindowThrottle(BaseThrottle):
    setting = ""

    def key(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self._wait = None
        rate = rate_parse(getattr(settings, self.setting))
        key = self.key(request)
        if rate is None or key is None:
            return True
        limit, window = rate
        count, left = window_hit(f"{self.setting}:{key}", window)
        if count > limit:
            self._wait = left
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


class UserRateThrottle(_WindowThrottle):
    """Requests per person, however they authenticate (session or any of their tokens)."""

    setting = "CDP_API_RATE_PER_USER"

    def key(self, request) -> str | None:
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None


class TokenRateThrottle(_WindowThrottle):
    """Requests per API token: a script's token has its own allowance beside its owner's."""

    setting = "CDP_API_RATE_PER_TOKEN"

    def key(self, request) -> str | None:
        token = getattr(request, "auth", None)
        token_key = getattr(token, "key", None)
        return token_key[:12] if token_key else None
