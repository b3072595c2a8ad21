"""The audit log records every announced access to personal data."""

from cdp_site.signals import personal_data_accessed
from compliance.models import AuditEvent


def test_personal_data_access_is_written_to_the_audit_log(support_agent):
    personal_data_accessed.send(
        sender=None,
        user=support_agent,
        profile_id=42,
        action="profile.view",
        detail={"page": "360"},
    )
    row = AuditEvent.objects.get()
    assert (row.user, row.username, row.action, row.profile_id, row.detail) == (
        support_agent,
        support_agent.username,
        "profile.view",
        42,
        {"page": "360"},
    )
