"""Suppressed and restricted people are never sent: left out of the plan, counted by reason
beside the consent reason, and removed from the destination when they were sent before."""

import pytest
from django.utils import timezone

from compliance.requests import request_create, request_run, request_verify
from integrations.activation.runner import audience_sync_run_execute, audience_sync_run_start
from integrations.models import AudienceSyncMember, SyncRun
from profiles.models import Identity, Profile
from segments.services import segment_refresh

from .conftest import consent_set, profiles_make, sync_make, vip_segment, webhook_destination

pytestmark = pytest.mark.django_db


def run_sync(sync) -> SyncRun:
    run = audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
    return audience_sync_run_execute(run.pk)


def request_done(officer, type: str, email: str, capture) -> None:
    request = request_create(user=officer, type=type, identifiers={"email": email})
    request_verify(request=request, user=officer)
    with capture(execute=True):
        request_run(request=request, user=officer)


@pytest.fixture
def scene(receiver, settings):
    settings.CDP_AUDIENCE_BATCH_SIZE = 4
    people = profiles_make(10)
    consent_set([p.pk for p in people[:8]], True)
    segment = vip_segment()
    sync = sync_make(segment, webhook_destination(receiver))
    return people, segment, sync


def test_restricted_people_are_removed_and_counted_apart_from_consent(
    scene, receiver, compliance_officer, django_capture_on_commit_callbacks
):
    people, _, sync = scene
    assert run_sync(sync).records_entered == 8
    # One person with consent objects, and one without consent too (counted once: no consent).
    for person in (people[0], people[9]):
        request_done(
            compliance_officer,
            "restriction",
            f"p{person.pk}@example.com",
            django_capture_on_commit_callbacks,
        )

    run = run_sync(sync)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.records_entered, run.records_exited) == (0, 1)
    assert receiver.member_ids(sync.audience_key) == {p.pk for p in people[1:8]}
    assert run.left_out_reasons == {"no consent for Advertising": 2, "restricted": 1}
    assert run.records_left_out == 3
    assert "3 left out: 2 no consent for Advertising, 1 restricted" in run.message
    assert not AudienceSyncMember.objects.filter(sync=sync, profile_id=people[0].pk).exists()


def test_an_erased_person_who_comes_back_is_never_sent(
    scene, receiver, compliance_officer, django_capture_on_commit_callbacks
):
    people, segment, sync = scene
    erased_email = f"p{people[1].pk}@example.com"
    request_done(compliance_officer, "erasure", erased_email, django_capture_on_commit_callbacks)
    assert not Profile.objects.filter(pk=people[1].pk).exists()
    # The person comes back by a path that bypassed the ingest's drop: a profile made anew.
    now = timezone.now()
    back = Profile.objects.create(traits={"vip": True}, first_seen=now, last_seen=now)
    Identity.objects.create(
        kind="email", value=erased_email, profile=back, first_seen=now, last_seen=now
    )
    consent_set([back.pk], True)
    segment_refresh(segment_id=segment.pk)
    # (The erasure asked the destination to forget the person: requests before the run.)
    before = len(receiver.requests)

    run = run_sync(sync)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    held = receiver.member_ids(sync.audience_key)
    assert back.pk not in held
    assert held == {p.pk for p in people[:8] if p.pk != people[1].pk}
    assert run.left_out_reasons == {"no consent for Advertising": 2, "suppressed": 1}
    sent = b" ".join(request.body for request in receiver.requests[before:]).decode()
    assert erased_email not in sent


def test_a_sent_person_who_becomes_suppressed_is_removed(
    scene, receiver, compliance_officer, django_capture_on_commit_callbacks
):
    from compliance.models import Suppression
    from compliance.selectors import identifier_hash

    people, _, sync = scene
    run_sync(sync)
    # Suppressed while still held (their identifiers listed by another request's erasure).
    Suppression.objects.create(
        kind="email", digest=identifier_hash("email", f"p{people[2].pk}@example.com")
    )
    run = run_sync(sync)
    assert (run.records_entered, run.records_exited) == (0, 1)
    assert people[2].pk not in receiver.member_ids(sync.audience_key)
    assert run.left_out_reasons == {"no consent for Advertising": 2, "suppressed": 1}
