"""Signals shared by the apps, so that no app has to import another to tell it something."""

from django.dispatch import Signal

# Sent whenever a person views personal data. Arguments: user, profile_id, action (str),
# detail (dict). The compliance app records each one in the audit log.
personal_data_accessed = Signal()

# Sent when ingestion drops messages of a person on the suppression list (an erased person).
# Arguments: source_id (int), count (int), day (date). The compliance app counts them per source.
suppressed_messages_dropped = Signal()
