"""What people do that the audit log keeps: one enum of actions and one way to record them.

The service that performs an action records it, in its own transaction (as Zulip's `do_*`
actions write their own audit rows). Recording goes through the `personal_data_accessed` signal,
which `compliance` turns into an audit row, so no app imports `compliance` to be audited.
"""

from django.db import models

from .signals import personal_data_accessed


class AuditAction(models.TextChoices):
    """Every action the audit log records: `<thing>.<verb>`, with the words people read."""

    PROFILE_VIEW = "profile.view", "Viewed a customer profile"
    PROFILE_SEARCH = "profile.search", "Searched customers"
    PROFILE_API_LIST = "profile.api_list", "Listed customers through the API"
    PROFILE_MERGE_UNDO = "profile.merge_undo", "Undid a merge"
    CONSENT_VIEW = "consent.view", "Viewed consent choices"
    CONSENT_RECORD = "consent.record", "Recorded a consent choice by hand"
    CONSENT_PURPOSE_CREATE = "consent_purpose.create", "Created a consent purpose"
    CONSENT_PURPOSE_CHANGE = "consent_purpose.change", "Changed a consent purpose"
    SEGMENT_EXPORT = "segment.export", "Exported segment members"
    SEGMENT_MEMBERS_VIEW = "segment.members_view", "Viewed segment members unmasked"
    SOURCE_DEBUGGER_VIEW = "source.debugger_view", "Opened a source's live debugger"
    SOURCE_DEBUGGER_POLL = "source.debugger_poll", "Saw new messages in the live debugger"
    SOURCE_MESSAGE_VIEW = "source.message_view", "Opened a tracked message"
    QUARANTINE_MESSAGE_VIEW = "quarantine.message_view", "Opened a quarantined message"
    SOURCE_FILE_PREVIEW = "source.file_preview", "Saw the first rows of an uploaded file"
    SOURCE_BAD_ROWS_DOWNLOAD = "source.bad_rows_download", "Downloaded the bad rows of an import"
    AUDIT_LOG_VIEW = "audit_log.view", "Read the audit log"
    DATA_FIELD_CLASSIFY = "data_field.classify", "Classified a field of the data catalogue"
    REQUEST_LOG = "request.log", "Logged a data subject request"
    REQUEST_VIEW = "request.view", "Opened a data subject request"
    REQUEST_ASSIGN = "request.assign", "Assigned a data subject request"
    REQUEST_VERIFY = "request.verify", "Verified a requester's identity"
    REQUEST_EXTEND = "request.extend", "Extended a request's deadline"
    REQUEST_REJECT = "request.reject", "Rejected a data subject request"
    REQUEST_RUN = "request.run", "Ran a data subject request"
    REQUEST_COMPLETE = "request.complete", "Completed a data subject request"
    REQUEST_ARCHIVE_DOWNLOAD = "request.archive_download", "Downloaded an access archive"
    AUDIT_LOG_EXPORT = "audit_log.export", "Exported the audit log"
    # Configuration changes: who changed what the product does with the data.
    SEGMENT_CREATE = "segment.create", "Created a segment"
    SEGMENT_CHANGE = "segment.change", "Changed a segment"
    SEGMENT_SHARE = "segment.share", "Shared a segment"
    SEGMENT_UNSHARE = "segment.unshare", "Stopped sharing a segment"
    SEGMENT_DELETE = "segment.delete", "Deleted a segment"
    SOURCE_CREATE = "source.create", "Created a source"
    SOURCE_ENABLE = "source.enable", "Enabled a source"
    SOURCE_DISABLE = "source.disable", "Disabled a source"
    SOURCE_KEY_ROTATE = "source.key_rotate", "Rotated a source's write key"
    SOURCE_DELETE = "source.delete", "Deleted a source"
    QUARANTINE_REPLAY = "quarantine.replay", "Replayed quarantined messages"
    QUARANTINE_DISCARD = "quarantine.discard", "Discarded a quarantined message"
    IDENTITY_RULE_CHANGE = "identity_rule.change", "Changed an identity rule"
    ROLE_CHANGE = "user.roles_change", "Changed a person's roles"


# Codes written before the actions had one naming style; rows keep them, so they keep their words.
LEGACY_ACTION_CODES = {
    "source_debugger_view": AuditAction.SOURCE_DEBUGGER_VIEW,
    "source_debugger_poll": AuditAction.SOURCE_DEBUGGER_POLL,
    "source_debugger_message_view": AuditAction.SOURCE_MESSAGE_VIEW,
    "quarantine_message_view": AuditAction.QUARANTINE_MESSAGE_VIEW,
}


def action_label(code: str) -> str:
    """The words for an action code as stored (an unknown code is shown as it is)."""
    action = LEGACY_ACTION_CODES.get(code)
    if action is None and code in AuditAction.values:
        action = AuditAction(code)
    return action.label if action is not None else code


def audit_record(
    *,
    user,
    action: AuditAction,
    profile_id: int | None = None,
    detail: dict | None = None,
    sender: object = None,
) -> None:
    """Record that `user` did `action` (on `profile_id`, with `detail`) in the audit log.

    Called inside the caller's transaction, so the row commits or rolls back with the action.
    """
    personal_data_accessed.send(
        sender=sender or AuditAction,
        user=user,
        profile_id=profile_id,
        action=AuditAction(action).value,
        detail=detail or {},
    )
