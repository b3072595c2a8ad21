"""Audience records and batches for the destination tests."""

from integrations.connectors.base import AudienceRecord, DeliveryBatch


def person(profile_id: int, email: str | None = None, phone: str | None = None, **traits):
    identifiers = {
        "email": [email] if email else [],
        "phone": [phone] if phone else [],
        "user_id": [f"user-{profile_id}"],
        "anonymous_id": [],
    }
    return AudienceRecord(profile_id=profile_id, identifiers=identifiers, traits=traits)


def batch(batch_id: str, entered=(), exited=(), key: str = "cdp-sync-1") -> DeliveryBatch:
    return DeliveryBatch(
        batch_id=batch_id,
        audience_key=key,
        audience_name="Big spenders",
        entered=list(entered),
        exited=list(exited),
    )
