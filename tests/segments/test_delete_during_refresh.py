"""A segment deleted while a refresh of it is in flight is deleted whole, with no server error.

The refresh holds the segment's row and adds members in one transaction; a delete that gathered
what goes with the segment before that commit left the new members behind, and the commit of
the delete was refused (`DELETE /api/segments/{id}/` right after a create answered 500).
"""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Profile
from segments.models import Segment, SegmentMembership
from segments.services import segment_delete

EVERYONE = {"match": "all", "negate": False, "conditions": []}


def _in_thread(target, errors):
    def run():
        try:
            target()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_segment_deleted_during_its_first_refresh_is_deleted_with_its_members(marketer):
    if connection.vendor != "postgresql":
        pytest.skip("Row locks between two connections need PostgreSQL")
    profile = Profile.objects.create()
    segment = Segment.objects.create(name="Just made", definition=EVERYONE, owner=marketer)
    refresh_started, refresh_may_commit = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def refresh_in_flight():
        # What `segment_refresh` does in its transaction: lock the row, then add the members.
        with transaction.atomic():
            Segment.objects.select_for_update().get(pk=segment.pk)
            SegmentMembership.objects.create(
                segment_id=segment.pk, profile=profile, entered_at=timezone.now(), version=1
            )
            refresh_started.set()
            refresh_may_commit.wait(10)

    refresh = _in_thread(refresh_in_flight, errors)
    assert refresh_started.wait(10)
    delete = _in_thread(lambda: segment_delete(segment=segment, user=marketer), errors)
    time.sleep(0.5)
    assert delete.is_alive(), "the delete waits for the refresh in flight"
    refresh_may_commit.set()
    refresh.join(10)
    delete.join(10)

    assert errors == []
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not SegmentMembership.objects.filter(segment_id=segment.pk).exists()
