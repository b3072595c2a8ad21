"""Rate limits of the tracking API: requests per source, and unknown write keys per address.

Both are generous by default and configurable (`CDP_TRACKING_RATE_PER_SOURCE`,
`CDP_TRACKING_BAD_KEYS_PER_ADDRESS`, as "<requests>/<s|min|hour|day>"; empty or "0" turns one
off). Over a limit the request is refused with 429 and `Retry-After` (the seconds until the
window ends), before its body is read; the official SDKs wait and send again. Counted in the
shared cache (`cdp_site.counters`), so the limits hold across server processes.

An address that keeps sending unknown write keys (guessing them) is refused for the rest of the
window, whatever key it sends next; one source's traffic never slows another's.
"""

import time

from django.conf import settings

from cdp_site.counters import window_count, window_hit
from cdp_site.login_throttle import client_address
from cdp_site.throttles import rate_parse

from .http import TrackingRequestError


def source_rate_exceeded(source_id: int) -> None:
    """Count one request for the source; raise 429 once the source is over its rate."""
    rate = rate_parse(settings.CDP_TRACKING_RATE_PER_SOURCE)
    if rate is None:
        return
    limit, window = rate
    count, left = window_hit(f"tracking-source:{source_id}", window)
    if count > limit:
        raise TrackingRequestError(
            429,
            "rate_limited",
            f"This source sends more than {limit} requests per {_period(window)}: "
            f"wait {left} s, then send again.",
            retry_after=left,
        )


def bad_key_refused(request) -> None:
    """Raise 429 while the client's address is over its count of unknown write keys."""
    rate = rate_parse(settings.CDP_TRACKING_BAD_KEYS_PER_ADDRESS)
    if rate is None:
        return
    limit, window = rate
    if window_count(_bad_key(request), window) >= limit:
        raise _too_many_bad_keys(window)


def bad_key_count(request) -> None:
    """Count one unknown write key from the client's address."""
    rate = rate_parse(settings.CDP_TRACKING_BAD_KEYS_PER_ADDRESS)
    if rate is not None:
        window_hit(_bad_key(request), rate[1])


def _bad_key(request) -> str:
    return f"tracking-bad-key:{client_address(request)}"


def _too_many_bad_keys(window: int) -> TrackingRequestError:
    left = max(1, int(window - time.time() % window + 0.999))
    return TrackingRequestError(
        429,
        "too_many_invalid_keys",
        f"Too many requests with unknown write keys from this address: wait {left} s.",
        retry_after=left,
    )


def _period(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")
