"""What the profiles app tells the others, without importing them.

All are sent after the transaction that made the change has committed. Each is announced inside
a transaction of its own (see `Announcement`): work a receiver queues with
`transaction.on_commit` runs only once every receiver has written, whatever order they run in.
That is how a segment refresh queued by `segments` always reads the consent `compliance` has
realigned for the same change.
"""

from django.db import transaction
from django.dispatch import Signal


class Announcement(Signal):
    """A signal whose receivers all run in one transaction.

    `on_commit` work a receiver queues runs after the last receiver (at the caller's commit when
    sent inside one), and a receiver that fails rolls back what the others wrote, so sending
    again starts from a clean slate. Receivers must therefore write, not call out: anything
    that leaves the database goes through `on_commit`.
    """

    def send(self, sender, **named):
        with transaction.atomic():
            return super().send(sender, **named)

    def send_robust(self, sender, **named):
        raise NotImplementedError(
            "An announcement is all or nothing: one failed receiver would leave the others' "
            "writes in a broken transaction. Use send()."
        )


# Identity resolution attached new events to profiles. Arguments: profile_ids (list[int], every
# profile whose events, identities or traits changed), event_ids (list[int]), and, from the
# resolver, events_between ((first, last) event time of those events): a receiver that reads the
# events by id adds it as a time condition, so that PostgreSQL reads only those months of the
# time-partitioned event table instead of looking each id up in every partition.
events_resolved = Announcement()

# Identity resolution merged profiles: merges (list of (winner_id, loser_id)), once per batch,
# so that a listener queues one piece of work for all of them rather than one per merge.
profiles_merged = Announcement()
# A person undid a merge: winner_id, loser_id.
profile_merge_undone = Announcement()

# `rebuild` re-derived every profile from the events. No arguments: listeners re-check all they
# keep per profile (consent records, segment memberships). Profiles kept their ids where the
# same person came back; the others were merged into the profile that holds most of their
# events now.
profiles_rebuilt = Announcement()
