"""What the profiles app tells the others, without importing them.

All are sent after the transaction that made the change has committed.
"""

from django.dispatch import Signal

# Identity resolution attached new events to profiles. Arguments: profile_ids (list[int], every
# profile whose events, identities or traits changed), event_ids (list[int]).
events_resolved = Signal()

# Two profiles were merged (winner_id, loser_id) or a merge was undone (winner_id, loser_id).
profiles_merged = Signal()
profile_merge_undone = Signal()
