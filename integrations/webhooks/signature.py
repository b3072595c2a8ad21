"""The signature of an incoming webhook: HMAC-SHA256 over "<timestamp>.<raw body>".

The sender puts `X-CDP-Signature: t=<unix seconds>,v1=<hex digest>` on the request, where the
digest is HMAC-SHA256 with the source's signing secret as key over the bytes of the timestamp,
a dot, and the body exactly as sent (Stripe's scheme). Several `v1=` values are accepted while a
secret is being rotated. The digest is compared in constant time, and a timestamp more than
`TOLERANCE_SECONDS` away from now is refused, so a captured request cannot be replayed later.
"""

import hashlib
import hmac
import time

HEADER = "X-CDP-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The request is not signed by the holder of the secret; `message` says how."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def signature_compute(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts on `body` (what the README shows, and tests use)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature_compute(secret, timestamp, body)}"


def signature_verify(
    *, secret: str, header: str | None, body: bytes, now: float | None = None
) -> None:
    """Return if `header` signs `body` with `secret` within the tolerance; else `SignatureError`."""
    if not header:
        raise SignatureError("missing_signature", f"The {HEADER} header is missing.")
    timestamp_text, candidates = "", []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp_text = value.strip()
        elif name == "v1":
            candidates.append(value.strip())
    if not timestamp_text.isdigit() or len(timestamp_text) > 12 or not candidates:
        raise SignatureError(
            "invalid_signature", f"The {HEADER} header must read t=<unix seconds>,v1=<hex>."
        )
    timestamp = int(timestamp_text)
    expected = signature_compute(secret, timestamp, body)
    # Every candidate is compared, in constant time, whether or not an earlier one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    if not matched:
        raise SignatureError("invalid_signature", "The signature does not match the body.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError(
            "stale_signature",
            f"The signature's timestamp is more than {TOLERANCE_SECONDS // 60} minutes from "
            "now: refused as a replay (check the sender's clock).",
        )
