"""The request's lifecycle: identifiers checked, deadlines and extensions, transitions, steps
audited; access, rectification and restriction carried out."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.utils import timezone

from cdp_site.errors import ConflictError, InvalidInputError
from compliance.deadlines import due_state, months_after
from compliance.erasure.archive import archive_build
from compliance.models import AuditEvent, DataSubjectRequest, Restriction
from compliance.requests import (
    request_create,
    request_extend,
    request_reject,
    request_run,
    request_verify,
)
from compliance.selectors import request_profiles, restricted_profile_ids
from profiles.models import Event, Profile
from tests.compliance.scene import JANE_EMAIL, JANE_PHONE, JANE_USER, scene_build

pytestmark = pytest.mark.django_db

Status = DataSubjectRequest.Status


@pytest.mark.parametrize(
    ("received", "months", "due"),
    [
        (dt.date(2026, 1, 15), 1, dt.date(2026, 2, 15)),
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 12, 10), 1, dt.date(2027, 1, 10)),
        (dt.date(2026, 1, 31), 3, dt.date(2026, 4, 30)),
    ],
)
def test_due_dates_are_calendar_months(received, months, due):
    assert months_after(received, months) == due


@pytest.mark.parametrize(
    ("days", "state"), [(-1, "overdue"), (0, "due_soon"), (7, "due_soon"), (8, "on_time")]
)
def test_due_state(days, state):
    today = dt.date(2026, 5, 1)
    assert due_state(today + dt.timedelta(days=days), today) == state


def test_request_is_due_one_month_after_receipt(compliance_officer):
    received = timezone.localdate() - dt.timedelta(days=3)
    request = request_create(
        user=compliance_officer,
        type="access",
        identifiers={"email": JANE_EMAIL},
        received_on=received,
    )
    assert request.due_on == months_after(received, 1)
    assert request.identifiers == {"email": [JANE_EMAIL]}
    assert request.status == Status.RECEIVED


@pytest.mark.parametrize(
    "identifiers",
    [{}, {"email": "not-an-address"}, {"phone": "12"}, {"email": ""}, "jane@example.com"],
)
def test_bad_identifiers_are_refused(compliance_officer, identifiers):
    with pytest.raises(InvalidInputError):
        request_create(user=compliance_officer, type="erasure", identifiers=identifiers)
    assert not DataSubjectRequest.objects.exists()


def test_extension_up_to_two_months_with_reason_told_within_the_first_month(compliance_officer):
    received = timezone.localdate() - dt.timedelta(days=10)
    request = request_create(
        user=compliance_officer, type="erasure", identifiers={"user_id": "u1"}, received_on=received
    )
    request = request_extend(
        request=request, user=compliance_officer, months=1, reason="Complex", told_on=received
    )
    assert request.due_on == months_after(received, 2)
    request = request_extend(
        request=request, user=compliance_officer, months=1, reason="Many systems", told_on=received
    )
    assert request.due_on == months_after(received, 3)
    assert request.extension_months == 2
    with pytest.raises(ConflictError):
        request_extend(
            request=request, user=compliance_officer, months=1, reason="More", told_on=received
        )
    request.refresh_from_db()
    assert request.due_on == months_after(received, 3)


def test_extension_told_after_the_first_month_is_refused(compliance_officer):
    received = timezone.localdate() - dt.timedelta(days=40)
    request = request_create(
        user=compliance_officer, type="erasure", identifiers={"user_id": "u1"}, received_on=received
    )
    with pytest.raises(InvalidInputError):
        request_extend(
            request=request,
            user=compliance_officer,
            months=1,
            reason="Late",
            told_on=received + dt.timedelta(days=35),
        )
    request.refresh_from_db()
    assert request.extension_months == 0


def test_run_needs_a_verified_identity_and_reject_needs_a_reason(compliance_officer):
    request = request_create(user=compliance_officer, type="erasure", identifiers={"user_id": "u"})
    with pytest.raises(ConflictError):
        request_run(request=request, user=compliance_officer)
    with pytest.raises(InvalidInputError):
        request_reject(request=request, user=compliance_officer, reason=" ")
    request = request_reject(request=request, user=compliance_officer, reason="Not verifiable")
    assert request.status == Status.REJECTED
    assert request.rejection_reason == "Not verifiable"
    with pytest.raises(ConflictError):
        request_verify(request=request, user=compliance_officer)


def test_every_step_is_audited_without_the_subjects_values(compliance_officer):
    request = request_create(
        user=compliance_officer, type="erasure", identifiers={"email": JANE_EMAIL}
    )
    request_verify(request=request, user=compliance_officer)
    request_reject(request=request, user=compliance_officer, reason="Duplicate")
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["request.log", "request.verify", "request.reject"]
    assert not AuditEvent.objects.filter(detail__icontains="jane").exists()
    assert all(e.detail["request"] == request.pk for e in AuditEvent.objects.all())


def _run(officer, capture, **kwargs) -> DataSubjectRequest:
    request = request_create(user=officer, **kwargs)
    request_verify(request=request, user=officer)
    with capture(execute=True):
        request_run(request=request, user=officer)
    request.refresh_from_db()
    return request


def test_request_lists_every_profile_including_merged_away_ones(compliance_officer):
    scene = scene_build()
    request = request_create(
        user=compliance_officer, type="access", identifiers={"phone": JANE_PHONE}
    )
    found = {row["id"]: row["merged_into"] for row in request_profiles(request)}
    assert found == {
        scene["merge"].winner_id: None,
        scene["merge"].loser_id: scene["merge"].winner_id,
    }


def test_access_archive_holds_every_event_of_the_subject(
    compliance_officer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scene = scene_build()  # consent is captured after the resolution commits
    request = _run(
        compliance_officer,
        django_capture_on_commit_callbacks,
        type="access",
        identifiers={"email": JANE_EMAIL},
    )
    assert request.status == Status.COMPLETED
    assert request.archive_token
    assert request.archive_expires_at > timezone.now()
    archive = zipfile.ZipFile(io.BytesIO(archive_build(request)))
    data = json.loads(archive.read("data.json"))
    jane_ids = {scene["merge"].winner_id, scene["merge"].loser_id}
    expected = set(
        Event.objects.filter(profile_id__in=jane_ids).values_list("message_id", flat=True)
    )
    # Her events, and Mary's that names her.
    expected |= set(
        Event.objects.filter(event="Friend Referred").values_list("message_id", flat=True)
    )
    assert {row["message_id"] for row in data["tables"]["events"]} == expected
    assert {row["id"] for row in data["tables"]["profiles"]} == jane_ids
    assert data["tables"]["consent_records"][0]["purpose"] == "email_marketing"
    assert data["tables"]["segment_memberships"][0]["segment"] == "Buyers"
    assert "events.csv" in archive.namelist()
    assert "identities.csv" in archive.namelist()
    assert archive.read("events.csv").decode().count("\n") == len(expected) + 1
    # Nothing was erased by an access request.
    assert Profile.objects.filter(pk__in=jane_ids).count() == 2


def test_rectification_corrects_the_trait_with_an_event_in_the_history(
    compliance_officer, django_capture_on_commit_callbacks
):
    scene = scene_build()
    details = {"trait": "name", "value": "Janet", "reason": "Misspelt at sign-up"}
    for _ in range(2):
        request = _run(
            compliance_officer,
            django_capture_on_commit_callbacks,
            type="rectification",
            identifiers={"user_id": JANE_USER},
            details=details,
        )
    jane = Profile.objects.get(pk=scene["jane"].pk)
    assert jane.traits["name"] == "Janet"
    events = Event.objects.filter(profile=jane, message_id__startswith="rectification-")
    assert events.count() == 2  # one per request, however often each runs
    assert events.first().context["rectification"]["reason"] == "Misspelt at sign-up"
    assert request.report["profiles_corrected"] == [jane.pk]


def test_restriction_marks_every_profile_of_the_person(
    compliance_officer, django_capture_on_commit_callbacks, client_for, support_agent
):
    scene = scene_build()
    _run(
        compliance_officer,
        django_capture_on_commit_callbacks,
        type="restriction",
        identifiers={"email": JANE_EMAIL},
    )
    jane_ids = {scene["merge"].winner_id, scene["merge"].loser_id}
    assert set(restricted_profile_ids()) == jane_ids
    assert Profile.objects.filter(pk__in=restricted_profile_ids()).count() == 2
    page = client_for(support_agent).get(f"/compliance/profile/{scene['jane'].pk}/consent/")
    assert b"profile-restricted" in page.content
    page = client_for(support_agent).get(f"/compliance/profile/{scene['mary'].pk}/consent/")
    assert b"profile-restricted" not in page.content
    assert Restriction.objects.count() == 2


def test_a_run_whose_worker_died_can_be_started_again(compliance_officer):
    request = request_create(user=compliance_officer, type="erasure", identifiers={"user_id": "u"})
    request_verify(request=request, user=compliance_officer)
    request_run(request=request, user=compliance_officer)  # queued; no worker takes it here
    with pytest.raises(ConflictError):
        request_run(request=request, user=compliance_officer)
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        started_at=timezone.now() - dt.timedelta(hours=1)
    )
    request = request_run(request=request, user=compliance_officer)
    assert request.status == Status.IN_PROGRESS
    assert request.started_at > timezone.now() - dt.timedelta(minutes=1)


def test_access_runs_again_for_a_fresh_archive_link(
    compliance_officer, django_capture_on_commit_callbacks
):
    request = _run(
        compliance_officer,
        django_capture_on_commit_callbacks,
        type="access",
        identifiers={"user_id": JANE_USER},
    )
    first = request.archive_token
    with django_capture_on_commit_callbacks(execute=True):
        request_run(request=request, user=compliance_officer)
    request.refresh_from_db()
    assert request.status == Status.COMPLETED
    assert request.archive_token != first
    assert request.runs == 2
