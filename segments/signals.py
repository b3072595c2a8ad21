"""What the segments app tells the others, without importing them.

`membership_changed` is sent after a refresh that moved anyone in or out of a segment has
committed, so a receiver (the real-time audience syncs of `integrations`) reads the membership as
it now stands. Arguments: segment_id (int), entered (int), exited (int): counts, never a list of
profiles, since a listener queues one piece of work per change, not one per profile.
"""

from django.dispatch import Signal

membership_changed = Signal()
