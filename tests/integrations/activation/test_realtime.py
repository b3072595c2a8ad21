"""Real-time syncs: a membership change announced by `segments` starts a run of the real-time
syncs of that segment (one coalesced task), and the destination holds the change."""

import pytest

from integrations.models import AudienceSync, SyncRun
from profiles.models import Profile
from segments.services import segment_refresh

from .conftest import consent_set, profiles_make, sync_make, vip_segment, webhook_destination

pytestmark = pytest.mark.django_db


def test_a_membership_change_is_pushed_to_real_time_syncs_only(
    receiver, django_capture_on_commit_callbacks
):
    people = profiles_make(3)
    consent_set([p.pk for p in people], True)
    segment = vip_segment()
    live = sync_make(segment, webhook_destination(receiver), mode=AudienceSync.Mode.REALTIME)
    manual = sync_make(segment, webhook_destination(receiver, name="Manual"))
    newcomer = profiles_make(1, vip=False)[0]
    consent_set([newcomer.pk], True)
    Profile.objects.filter(pk=newcomer.pk).update(traits={"vip": True, "first_name": "New"})
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=segment.pk, profile_ids=[newcomer.pk])
    runs = SyncRun.objects.filter(audience_sync=live)
    assert [run.trigger for run in runs] == [SyncRun.Trigger.REALTIME]
    assert runs[0].status == SyncRun.Status.SUCCEEDED
    # Its first run sends everyone, the newcomer with them.
    assert receiver.member_ids(live.audience_key) == {p.pk for p in [*people, newcomer]}
    assert not SyncRun.objects.filter(audience_sync=manual).exists()
    live.refresh_from_db()
    assert not live.realtime_pending


def test_a_refresh_that_changes_nobody_starts_nothing(receiver, django_capture_on_commit_callbacks):
    segment = vip_segment()
    sync_make(segment, webhook_destination(receiver), mode=AudienceSync.Mode.REALTIME)
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=segment.pk)
    assert not SyncRun.objects.exists()
