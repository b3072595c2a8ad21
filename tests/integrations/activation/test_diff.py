"""The difference each run sends: everyone the first time, then only who entered, changed or
left; people without consent left out and counted; a withdrawn consent removes the person."""

import pytest
from django.utils import timezone

from integrations.activation.runner import audience_sync_run_execute, audience_sync_run_start
from integrations.models import AudienceSyncMember, SyncRun
from profiles.models import Profile
from segments.services import segment_refresh

from .conftest import consent_set, profiles_make, sync_make, vip_segment, webhook_destination

pytestmark = pytest.mark.django_db


def run_sync(sync) -> SyncRun:
    run = audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
    return audience_sync_run_execute(run.pk)


@pytest.fixture
def scene(receiver, settings):
    settings.CDP_AUDIENCE_BATCH_SIZE = 4
    people = profiles_make(10)
    consent_set([p.pk for p in people[:8]], True)
    segment = vip_segment()
    sync = sync_make(segment, webhook_destination(receiver))
    return people, segment, sync


def test_the_first_run_sends_everyone_with_consent_and_counts_the_others(scene, receiver):
    people, _, sync = scene
    run = run_sync(sync)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert receiver.member_ids(sync.audience_key) == {p.pk for p in people[:8]}
    assert (run.records_stored, run.records_entered, run.records_exited) == (8, 8, 0)
    assert run.records_left_out == 2
    assert run.left_out_reasons == {"no consent for Advertising": 2}
    assert (
        run.message
        == "8 sent (8 added or updated, 0 removed), 2 left out: 2 no consent for Advertising."
    )
    assert run.kind == SyncRun.Kind.AUDIENCE
    assert set(
        AudienceSyncMember.objects.filter(sync=sync).values_list("profile_id", flat=True)
    ) == {p.pk for p in people[:8]}
    # 8 records in batches of 4: two requests, each with its own stable id.
    assert len(receiver.batches_applied) == 2


def test_a_second_run_with_nothing_changed_sends_nothing(scene, receiver):
    _, _, sync = scene
    run_sync(sync)
    requests = len(receiver.requests)
    run = run_sync(sync)
    assert (run.records_stored, run.records_read) == (0, 0)
    assert len(receiver.requests) == requests


def test_consent_withdrawn_removes_the_person_at_the_next_run(scene, receiver):
    people, _, sync = scene
    run_sync(sync)
    consent_set([people[0].pk], False)
    run = run_sync(sync)
    assert (run.records_entered, run.records_exited, run.records_stored) == (0, 1, 1)
    assert people[0].pk not in receiver.member_ids(sync.audience_key)
    assert run.records_left_out == 3


def test_who_leaves_the_segment_is_removed_and_who_enters_is_added(scene, receiver):
    people, segment, sync = scene
    run_sync(sync)
    Profile.objects.filter(pk=people[1].pk).update(traits={"vip": False}, updated_at=timezone.now())
    newcomer = profiles_make(1)[0]
    consent_set([newcomer.pk], True)
    segment_refresh(segment_id=segment.pk)
    run = run_sync(sync)
    assert (run.records_entered, run.records_exited) == (1, 1)
    assert receiver.member_ids(sync.audience_key) == {p.pk for p in people[:8]} - {people[1].pk} | {
        newcomer.pk
    }


def test_a_changed_mapped_trait_is_sent_again(scene, receiver):
    people, _, sync = scene
    run_sync(sync)
    # As the profiles app writes traits: updated_at with them.
    Profile.objects.filter(pk=people[2].pk).update(
        traits={"vip": True, "first_name": "Ada"}, updated_at=timezone.now()
    )
    run = run_sync(sync)
    assert (run.records_entered, run.records_exited) == (1, 0)
    assert receiver.members[sync.audience_key][people[2].pk]["first_name"] == "Ada"


def test_a_failed_run_is_caught_up_by_the_next(scene, receiver):
    people, _, sync = scene
    receiver.fail_next("401", times=1)
    run = run_sync(sync)
    assert run.status == SyncRun.Status.FAILED
    assert "signing secret" in run.message
    assert not AudienceSyncMember.objects.filter(sync=sync).exists()
    run = run_sync(sync)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert receiver.member_ids(sync.audience_key) == {p.pk for p in people[:8]}


def test_a_destination_failing_again_and_again_is_paused_until_resumed(scene, receiver, settings):
    from cdp_site.errors import ConflictError
    from integrations.activation.services import destination_resume

    settings.CDP_DESTINATION_PAUSE_AFTER = 2
    _, _, sync = scene
    receiver.fail_next("401", times=2)
    assert run_sync(sync).status == SyncRun.Status.FAILED
    assert run_sync(sync).status == SyncRun.Status.FAILED
    sync.destination.refresh_from_db()
    assert sync.destination.paused
    assert "2 runs in a row failed" in sync.destination.paused_reason
    with pytest.raises(ConflictError):
        audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
    destination_resume(destination=sync.destination)
    sync.refresh_from_db()
    assert run_sync(sync).status == SyncRun.Status.SUCCEEDED


def test_a_lost_answer_is_retried_and_the_receiver_applies_the_batch_once(scene, receiver):
    _, _, sync = scene
    receiver.fail_next("after_store:503", times=1)
    run = run_sync(sync)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert receiver.duplicate_batches == 1
    assert all(count == 1 for count in receiver.message_ids.values())


def test_a_second_run_while_one_is_active_is_refused(scene):
    from cdp_site.errors import ConflictError

    _, _, sync = scene
    audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
    with pytest.raises(ConflictError):
        audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
