"""What the profiles app tells the others, without importing them.

All are sent after the transaction that made the change has committed.
"""

from django.dispatch import Signal

# Identity resolution attached new events to profiles. Arguments: profile_ids (list[int], every
# profile whose events, identities or traits changed), event_ids (list[int]).
events_resolved = Signal()

# Identity resolution merged profiles: merges (list of (winner_id, loser_id)), once per batch,
# so that a listener queues one piece of work for all of them rather than one per merge.
profiles_merged = Signal()
# A person undid a merge: winner_id, loser_id.
profile_merge_undone = Signal()

# `rebuild` re-derived every profile from the events. No arguments: listeners re-check all they
# keep per profile (consent records, segment memberships). Profiles kept their ids where the
# same person came back; the others were merged into the profile that holds most of their
# events now.
profiles_rebuilt = Signal()
