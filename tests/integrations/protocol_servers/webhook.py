"""A webhook receiver that checks signatures as the README tells receivers to, and keeps audiences.

It verifies `X-CDP-Signature: t=<unix>,v1=<hex>` over `"<t>." + raw body` with its own HMAC
code (not the product's), refuses a bad or stale signature with 401, takes each `Idempotency-Key`
once (a repeat is answered 200 and not applied again), and applies `Audience Entered` / `Audience
Exited` events to the members it holds per audience, keyed by `context.cdp.profile_id`.
"""

import hashlib
import hmac
import time
from collections import Counter, defaultdict

from tests.integrations.protocol_servers.scripted import Reply, Request, ScriptedServer

TOLERANCE_SECONDS = 300


def verify(secret: str, request: Request) -> bool:
    """The check the README asks of receivers, written here without the product's code."""
    fields = [
        part.strip().partition("=")
        for part in request.headers.get("x-cdp-signature", "").split(",")
    ]
    timestamp = next((value for name, _, value in fields if name == "t"), "")
    offered = [value for name, _, value in fields if name == "v1"]
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    expected = mac.hexdigest()
    # Every candidate is compared, so the time taken says nothing about which one matched.
    return sum(hmac.compare_digest(expected, value) for value in offered) > 0


class WebhookReceiver(ScriptedServer):
    def __init__(self, secret: str = "whsec-test-secret", **kwargs):  # noqa: S107
        super().__init__(**kwargs)
        self.secret = secret
        self.members: dict[str, dict[int, dict]] = defaultdict(
            dict
        )  # audience -> profile -> traits
        self.batches_applied: set[str] = set()
        self.duplicate_batches = 0
        self.message_ids: Counter = Counter()  # every messageId applied, with how often
        self.deleted_subjects: list[dict] = []
        self.connection_checks = 0
        self.refused_signatures = 0

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405, {"message": "POST only"})
        if not verify(self.secret, request):
            self.refused_signatures += 1
            return Reply(401, {"message": "signature mismatch"})
        key = request.headers.get("idempotency-key", "")
        if not key:
            return Reply(400, {"message": "Idempotency-Key header missing"})
        try:
            payload = request.json()
        except ValueError:
            return Reply(400, {"message": "body is not JSON"})
        if key in self.batches_applied:
            self.duplicate_batches += 1
            return Reply(200, {"ok": True, "duplicate": True})
        self.batches_applied.add(key)
        if not payload["batch"]:
            self.connection_checks += 1
        for event in payload["batch"]:
            self._apply(event)
        return Reply(200, {"ok": True})

    def _apply(self, event: dict) -> None:
        self.message_ids[event["messageId"]] += 1
        if event["event"] == "Subject Deleted":
            self.deleted_subjects.append(event["properties"]["identifiers"])
            return
        audience = event["properties"]["audience_key"]
        profile_id = event["context"]["cdp"]["profile_id"]
        if event["event"] == "Audience Entered":
            self.members[audience][profile_id] = event["context"]["traits"]
        elif event["event"] == "Audience Exited":
            self.members[audience].pop(profile_id, None)

    def member_ids(self, audience_key: str) -> set[int]:
        with self.state_lock:
            return set(self.members[audience_key])
