"""Sharing a segment, and the segments that refer to it: whom a share is offered to, and the
rule that a segment only ever refers to segments its owner may open."""

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from profiles.models import Profile
from segments.models import Segment
from segments.services import segment_refresh, segment_refresh_or_mark_failed
from tests.factories import UserFactory

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}


@pytest.fixture
def colleague(db):
    return UserFactory(username="colleague", roles=["marketer"])


@pytest.fixture
def germany(marketer, db):
    Profile.objects.create(traits={"country": "DE"})
    return Segment.objects.create(name="Germany", definition=DE, owner=marketer)


@pytest.fixture
def shared_with_colleague(germany, colleague, marketer, client_for):
    client_for(marketer).post(f"/segments/{germany.pk}/share/", {"user": colleague.pk})
    return germany


def _referring(owner, germany) -> Segment:
    return Segment.objects.create(
        name="Germans who are also in Germany",
        owner=owner,
        definition={"match": "all", "conditions": [{"type": "segment", "segment": germany.pk}]},
    )


def test_share_form_offers_only_people_and_groups_who_can_open_a_segment(
    marketer, colleague, support_agent, germany, client_for
):
    Group.objects.create(name="support team").user_set.add(support_agent)
    mixed = Group.objects.create(name="campaign team")
    mixed.user_set.add(colleague, support_agent)
    page = client_for(marketer).get(f"/segments/{germany.pk}/").content.decode()
    share_form = page[page.index('id="share-user"') : page.index("may edit")]
    assert "colleague" in share_form
    assert support_agent.username not in share_form
    assert "campaign team (1 marketer)" in share_form
    assert "support team" not in share_form
    assert "Only people with the marketer role open segments" in page


def test_sharing_with_someone_who_cannot_open_it_says_so_plainly(
    marketer, support_agent, germany, client_for
):
    team = Group.objects.create(name="support team")
    team.user_set.add(support_agent)
    client = client_for(marketer)
    for field, target, name in (
        ("user", support_agent.pk, support_agent.username),
        ("group", team.pk, "support team"),
    ):
        response = client.post(f"/segments/{germany.pk}/share/", {field: target}, follow=True)
        assert (
            f"Shared with {name}, who cannot open it yet: only people with the marketer role "
            "open segments." in response.content.decode()
        )
    assert client_for(support_agent).get(f"/segments/{germany.pk}/").status_code == 403


def test_stopping_a_share_a_referring_segment_needs_is_refused_naming_it(
    marketer, colleague, shared_with_colleague, client_for
):
    referring = _referring(colleague, shared_with_colleague)
    client = client_for(marketer)
    response = client.post(
        f"/segments/{shared_with_colleague.pk}/unshare/", {"user": colleague.pk}, follow=True
    )
    body = response.content.decode()
    assert "Segments that use this one would lose it" in body
    assert "“Germans who are also in Germany” (of colleague)" in body
    # Nothing changed: the colleague still opens it, and the referring segment still computes.
    assert client_for(colleague).get(f"/segments/{shared_with_colleague.pk}/").status_code == 200
    assert segment_refresh(segment_id=referring.pk).size == 1
    # Once the colleague's segment no longer refers to it, the share can be taken back.
    referring.delete()
    client.post(f"/segments/{shared_with_colleague.pk}/unshare/", {"user": colleague.pk})
    assert client_for(colleague).get(f"/segments/{shared_with_colleague.pk}/").status_code == 404


def test_a_share_through_a_group_may_go_while_a_direct_share_keeps_access(
    marketer, colleague, germany, client_for
):
    team = Group.objects.create(name="campaign team")
    team.user_set.add(colleague)
    client = client_for(marketer)
    client.post(f"/segments/{germany.pk}/share/", {"group": team.pk})
    client.post(f"/segments/{germany.pk}/share/", {"user": colleague.pk})
    _referring(colleague, germany)
    response = client.post(f"/segments/{germany.pk}/unshare/", {"group": team.pk}, follow=True)
    assert "No longer shared with campaign team" in response.content.decode()


def test_a_referring_segment_whose_owner_lost_access_another_way_is_marked_failed(
    marketer, colleague, germany, client_for
):
    team = Group.objects.create(name="campaign team")
    team.user_set.add(colleague)
    assign_perm("segments.view_segment", team, germany)
    referring = _referring(colleague, germany)
    assert segment_refresh(segment_id=referring.pk).size == 1
    # An administrator takes the colleague out of the group: no share was taken back.
    team.user_set.remove(colleague)
    assert segment_refresh_or_mark_failed(segment_id=referring.pk) is None
    referring.refresh_from_db()
    assert referring.status == Segment.Status.FAILED
    assert f"Segment {germany.pk} is no longer shared with this segment's owner" in (
        referring.last_error
    )
    # Its page no longer names the segment it may not open, and an edit keeping it is refused.
    page = client_for(colleague).get(f"/segments/{referring.pk}/").content.decode()
    assert "Germany”" not in page
    api = APIClient()
    api.force_authenticate(colleague)
    answer = api.patch(
        f"/api/segments/{referring.pk}/", {"definition": referring.definition}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == f"Segment {germany.pk} does not exist."


def test_an_editor_may_not_make_the_owners_segment_refer_to_what_the_owner_cannot_open(
    marketer, colleague, germany, client_for
):
    """The colleague may edit the marketer's segment and open their own private one; the
    marketer may not open that one, so the marketer's segment may not refer to it."""
    private = Segment.objects.create(name="Colleague's list", definition=DE, owner=colleague)
    shared = Segment.objects.create(name="Shared", definition=DE, owner=marketer)
    assign_perm("segments.view_segment", colleague, shared)
    assign_perm("segments.change_segment", colleague, shared)
    api = APIClient()
    api.force_authenticate(colleague)
    answer = api.patch(
        f"/api/segments/{shared.pk}/",
        {
            "definition": {
                "match": "all",
                "conditions": [{"type": "segment", "segment": private.pk}],
            }
        },
        format="json",
    )
    assert answer.status_code == 400
    shared.refresh_from_db()
    assert shared.definition == DE
