"""Identity resolution: stored events -> one profile per real person.

Events are resolved in batches, in event-time order. For each batch the resolver looks up every
identifier of every event at once, locks the profiles they point at, applies the matching rule
in memory, then writes the outcome set-based. Three modules, one job each:

- `matching`: the rule (attach, create, merge within per-kind limits, keep splits apart) and
  last-write-wins traits, in memory, without any I/O;
- `store`: claiming events, loading and locking what they point at, writing the outcome, on
  PostgreSQL as JSON-parameter statements and elsewhere through the ORM;
- `runner`: the loop of batches with its retries, the announcements to other apps, and the
  advisory lock that pauses resolution while a rebuild runs.
"""

from .matching import traits_apply
from .runner import REBUILD_LOCK_KEY, events_resolve_pending, rebuild_lock

__all__ = ["REBUILD_LOCK_KEY", "events_resolve_pending", "rebuild_lock", "traits_apply"]
