"""Compliance services: recording every access to personal data."""

from cdp_site.signals import personal_data_accessed

from .models import AuditEvent


def audit_event_record(*, user, action: str, profile_id: int | None, detail: dict) -> AuditEvent:
    return AuditEvent.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=user.get_username() if getattr(user, "pk", None) else "",
        action=action,
        profile_id=profile_id,
        detail=_storable_copy(detail or {}),
    )


def _storable_copy(value: object) -> object:
    """`value` with text any database keeps: details echo what people typed, and an access
    must be recorded even when that held a NUL character or broken Unicode."""
    if isinstance(value, dict):
        return {_storable_copy(str(key)): _storable_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_copy(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode()
    return value


def _on_personal_data_accessed(sender, *, user, profile_id=None, action, detail=None, **_kwargs):
    audit_event_record(user=user, action=action, profile_id=profile_id, detail=detail or {})


personal_data_accessed.connect(_on_personal_data_accessed, dispatch_uid="compliance.audit")
