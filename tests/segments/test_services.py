"""Segment services refuse with the domain's errors, and record the actions the audit log keeps."""

import pytest
from guardian.shortcuts import assign_perm

from cdp_site.errors import InUseError, InvalidInputError, NotOwnerError
from compliance.models import AuditEvent
from profiles.models import Profile
from segments.definition import DefinitionError, definition_validate
from segments.models import Segment
from segments.selectors import segment_preview_for_user
from segments.services import (
    segment_delete,
    segment_export,
    segment_share,
    segment_unshare,
    segment_update,
)
from tests.factories import UserFactory

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}


@pytest.fixture
def germany(marketer):
    return Segment.objects.create(name="Germany", definition=DE, owner=marketer)


def test_a_definition_error_is_invalid_input_with_its_path():
    with pytest.raises(DefinitionError) as caught:
        definition_validate({"match": "both", "conditions": []})
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert (error.code, error.status, error.path, error.field) == (
        "invalid_definition",
        400,
        "match",
        "match",
    )
    assert str(error) == f"match: {error.message}"


@pytest.mark.parametrize(
    "change",
    [
        lambda segment, user: segment_update(segment=segment, name="Mine", user=user),
        lambda segment, user: segment_delete(segment=segment, user=user),
        lambda segment, user: segment_share(segment=segment, user=user, target_user_id=user.pk),
        lambda segment, user: segment_unshare(segment=segment, user=user, target_user_id=user.pk),
    ],
    ids=["update", "delete", "share", "unshare"],
)
def test_whom_a_segment_is_only_shown_may_not_change_it(germany, change):
    viewer = UserFactory(username="viewer", roles=["marketer"])
    assign_perm("segments.view_segment", viewer, germany)
    with pytest.raises(NotOwnerError):
        change(germany, viewer)
    germany.refresh_from_db()
    assert germany.name == "Germany"
    assert viewer.has_perm("segments.view_segment", germany)
    assert not viewer.has_perm("segments.change_segment", germany)


def test_a_segment_another_uses_is_in_use(marketer, germany):
    Segment.objects.create(
        name="Outer",
        owner=marketer,
        definition={"match": "all", "conditions": [{"type": "segment", "segment": germany.pk}]},
    )
    with pytest.raises(InUseError) as caught:
        segment_delete(segment=germany, user=marketer)
    assert (caught.value.code, caught.value.status) == ("segment_in_use", 409)
    assert Segment.objects.filter(pk=germany.pk).exists()


@pytest.mark.parametrize(("user_id", "group_id"), [(None, None), (999999, 999999)])
def test_sharing_with_nobody_is_refused(marketer, germany, user_id, group_id):
    with pytest.raises(InvalidInputError, match=r"Choose a user or a group to share with\."):
        segment_share(
            segment=germany, user=marketer, target_user_id=user_id, target_group_id=group_id
        )


def test_the_owner_cannot_be_unshared(marketer, germany):
    with pytest.raises(InvalidInputError, match=r"The owner of a segment always keeps it\."):
        segment_unshare(segment=germany, user=marketer, target_user_id=marketer.pk)
    assert Segment.objects.filter(pk=germany.pk, owner=marketer).exists()


def test_the_export_is_audited_when_asked_for_with_the_row_count(marketer, germany):
    from segments.services import segment_refresh

    Profile.objects.create(traits={"country": "DE", "email": "jane@example.com", "name": "Jane"})
    segment_refresh(segment_id=germany.pk)
    rows = segment_export(user=marketer, segment=germany)
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.detail["rows"], audit.detail["segment_id"]) == (
        "segment.export",
        1,
        germany.pk,
    )
    assert [row[2:] for row in rows] == [
        ["email", "name", "country"],
        ["j***@example.com", "J***", "DE"],
    ]


def test_a_preview_sample_shown_unmasked_is_audited_and_a_masked_one_is_not(marketer, germany):
    both = UserFactory(username="mo", roles=["marketer", "support_agent"])
    jane = Profile.objects.create(traits={"country": "DE", "email": "jane@example.com"})
    masked = segment_preview_for_user(marketer, DE, segment=germany)
    assert masked["rows"] == [
        {"id": jane.pk, "traits": masked["rows"][0]["traits"], "country": "DE"}
    ]
    assert masked["rows"][0]["traits"]["email"] != "jane@example.com"
    assert not AuditEvent.objects.exists()
    shown = segment_preview_for_user(both, DE, segment=germany)
    assert shown["rows"][0]["traits"]["email"] == "jane@example.com"
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.detail) == (
        "segment.members_view",
        {"segment_id": germany.pk, "profile_ids": [jane.pk]},
    )
