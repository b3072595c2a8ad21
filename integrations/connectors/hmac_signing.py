"""HMAC-SHA256 request signatures on outgoing webhooks, and how a receiver checks them.

A signed request carries one header, in the same scheme the incoming webhook source accepts
(Stripe's):

    X-CDP-Signature: t=1767225600,v1=5257a869e7ec...8d8bd  (64 hex digits)

`v1` is the lower-case hex HMAC-SHA256, keyed with the shared secret, of the bytes
`"<t>." + raw body`. While a secret is being replaced both secrets sign, and the header lists one
`v1=` per secret; a receiver accepts the request when any of them matches (compared in constant
time) and `t` is within a few minutes of its clock, which stops replays.
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-CDP-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_headers(secrets: list[str], body: bytes, timestamp: int | None = None) -> dict:
    """The signature header for `body`, signed with each of `secrets` (the current one first)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = ",".join(f"v1={signature(secret, timestamp, body)}" for secret in secrets)
    return {SIGNATURE_HEADER: f"t={timestamp},{signed}"}


def signature_verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when a `v1=` of `header` signs `body` under `secret` and its `t` is recent."""
    timestamp_text, offered = "", []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp_text = value.strip()
        elif name == "v1":
            offered.append(value.strip())
    if not timestamp_text.isdigit() or len(timestamp_text) > 12 or not offered:
        return False
    timestamp = int(timestamp_text)
    expected = signature(secret, timestamp, body)
    # Every candidate is compared, so the time taken says nothing about which one matched.
    matched = False
    for value in offered:
        matched |= hmac.compare_digest(expected.encode(), value.encode("ascii", "replace"))
    now = time.time() if now is None else now
    return matched and abs(now - timestamp) <= tolerance
