"""Segment pages: list, builder (page, htmx edits, live preview, save), detail, actions, export."""

import pytest

from compliance.models import AuditEvent
from profiles.catalogue.scan import catalogue_refresh
from profiles.models import Profile
from segments.models import Segment, SegmentMembership
from segments.services import segment_refresh

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}


@pytest.fixture
def people(db):
    return [
        Profile.objects.create(traits={"country": "DE", "email": "anna@example.com", "ltv": 300}),
        Profile.objects.create(traits={"country": "DE", "email": "ben@example.com", "ltv": 50}),
        Profile.objects.create(traits={"country": "FR", "email": "clara@example.com", "ltv": 500}),
    ]


@pytest.fixture
def germany(marketer, people):
    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    segment_refresh(segment_id=segment.pk)
    return segment


def test_list_shows_own_segments(marketer, client_for, germany):
    body = client_for(marketer).get("/segments/").content.decode()
    assert "Germany" in body
    assert "took" in body


def test_builder_page_renders(marketer, client_for, people):
    catalogue_refresh()
    response = client_for(marketer).get("/segments/new/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="builder"' in body
    assert '<option value="country">string</option>' in body
    assert "3</strong> profiles" in body


def _form(**fields):
    data = {
        "name": "Rich Germans",
        "node": ["r", "r.0", "r.1"],
        "n-r-type": "group",
        "n-r-match": "all",
    }
    data.update(
        {
            "n-r.0-type": "trait",
            "n-r.0-trait": "country",
            "n-r.0-operator": "equals",
            "n-r.0-value": "de",
            "n-r.1-type": "trait",
            "n-r.1-trait": "ltv",
            "n-r.1-operator": "greater_than",
            "n-r.1-value": "100",
        }
    )
    data.update(fields)
    return data


def test_live_preview_counts_the_form(marketer, client_for, people):
    catalogue_refresh()
    response = client_for(marketer).post("/segments/preview/", _form(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-count="1"' in body
    # Masked for marketers.
    assert "a***@example.com" in body
    assert "anna@example.com" not in body


def test_preview_of_incomplete_definition_says_what_is_missing(marketer, client_for, people):
    response = client_for(marketer).post("/segments/preview/", _form(**{"n-r.1-value": "lots"}))
    assert "Enter a number." in response.content.decode()


def _event_form(count: str, days: str) -> dict:
    return {
        "name": "Buyers",
        "node": ["r", "r.0"],
        "n-r-type": "group",
        "n-r-match": "all",
        "n-r.0-type": "event",
        "n-r.0-event": "Order Completed",
        "n-r.0-count_op": "at_least",
        "n-r.0-count": count,
        "n-r.0-window": "last_days",
        "n-r.0-days": days,
    }


@pytest.mark.parametrize(
    ("count", "days", "message"),
    [
        ("-5", "90", "Condition 1: Enter a whole number of times from 0 to 1,000,000."),
        ("2", "1000000000", "Condition 1: Enter a whole number of days from 1 to 36,500"),
        ("2", "0", "Condition 1: Enter a whole number of days from 1 to 36,500"),
        ("two", "90", "Condition 1: Enter a whole number of times"),
    ],
)
def test_preview_refuses_what_saving_refuses_and_says_where(
    marketer, client_for, people, count, days, message
):
    client = client_for(marketer)
    preview = client.post("/segments/preview/", _event_form(count, days), HTTP_HX_REQUEST="true")
    body = preview.content.decode()
    assert "<strong>" + message.split(":")[0] + ":</strong>" + message.split(":", 1)[1] in body
    assert "preview-count" not in body
    saved = client.post("/segments/new/", {**_event_form(count, days), "save": "1"})
    assert saved.status_code == 200
    assert message.split(": ", 1)[1] in saved.content.decode()
    assert not Segment.objects.exists()


def test_preview_shows_small_shares_with_precision(marketer, client_for, db):
    Profile.objects.bulk_create(
        [Profile(traits={"country": "DE" if i < 8 else "US"}) for i in range(2000)]
    )
    catalogue_refresh()
    body = (
        client_for(marketer).post("/segments/preview/", _form(node=["r", "r.0"])).content.decode()
    )
    assert 'data-count="8"' in body
    assert "0.4% of 2,000 profiles" in body


def test_builder_shows_a_quiet_counting_state_while_a_count_is_in_flight(marketer, client_for, db):
    body = client_for(marketer).get("/segments/new/").content.decode()
    # htmx marks the card while the form's count request is in flight; the CSS shows the note.
    assert 'hx-indicator="#preview-card"' in body
    assert '<aside id="preview-card"' in body
    assert 'class="counting htmx-indicator" role="status">Counting…</p>' in body


def test_htmx_add_group_and_condition_rerenders_builder(marketer, client_for, people):
    client = client_for(marketer)
    response = client.post("/segments/new/", _form(op="add-group:r"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'name="node" value="r.2"' in body
    assert 'value="add-trait:r.2"' in body
    assert 'hx-swap-oob="true"' in body
    response = client.post(
        "/segments/new/",
        _form(
            op="add-event:r.2",
            node=["r", "r.0", "r.1", "r.2"],
            **{"n-r.2-type": "group", "n-r.2-match": "any"},
        ),
        HTTP_HX_REQUEST="true",
    )
    assert 'name="n-r.2.0-event"' in response.content.decode()
    response = client.post("/segments/new/", _form(op="remove:r.1"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'value="r.1"' not in body
    assert 'data-count="2"' in body


def test_save_creates_segment_and_redirects(
    marketer, client_for, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(marketer).post("/segments/new/", _form(save="1"))
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/segments/{segment.pk}/"
    assert segment.definition["conditions"][1] == {
        "type": "trait",
        "negate": False,
        "trait": "ltv",
        "operator": "greater_than",
        "value": 100,
    }
    assert segment.member_count == 1


def test_save_with_errors_shows_them_in_place(marketer, client_for, people):
    response = client_for(marketer).post(
        "/segments/new/",
        _form(save="1", name="", **{"n-r.0-operator": "greater_than", "n-r.0-value": "x"}),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a number." in body
    assert Segment.objects.count() == 0


def test_edit_of_others_segment_is_404(client_for, germany):
    from tests.factories import UserFactory

    other = UserFactory(username="someone", roles=["marketer"])
    assert client_for(other).get(f"/segments/{germany.pk}/edit/").status_code == 404
    assert client_for(other).get(f"/segments/{germany.pk}/").status_code == 404


def test_detail_page_and_explain(marketer, client_for, germany, people):
    client = client_for(marketer)
    response = client.get(f"/segments/{germany.pk}/?explain={people[2].pk}")
    assert response.status_code == 200
    body = response.content.decode()
    # One computation is one point of the size chart; no one left, so no flow chart.
    assert "chart-size" in body
    assert "chart-flow" in body  # two people entered today
    empty = Segment.objects.create(name="Nobody", definition={"match": "any"}, owner=marketer)
    page = client.get(f"/segments/{empty.pk}/").content.decode()
    assert "chart-size" not in page
    assert "The size per day shows once the segment has been computed." in page
    assert "chart-flow" not in page
    assert "No one entered or left this segment in the last 30 days." in page
    assert "not in</strong> this segment" in body
    assert "b***@example.com" in body
    fragment = client.get(
        f"/segments/{germany.pk}/?page=1", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.startswith('<div id="members">')
    assert client.get(f"/segments/{germany.pk}/?explain=abc").status_code == 200


def test_actions_duplicate_rename_delete(
    marketer, client_for, germany, django_capture_on_commit_callbacks
):
    client = client_for(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/segments/{germany.pk}/duplicate/", {})
    copy = Segment.objects.exclude(pk=germany.pk).get()
    assert (copy.name, copy.member_count, response["Location"]) == (
        "Copy of Germany",
        2,
        f"/segments/{copy.pk}/",
    )
    client.post(f"/segments/{copy.pk}/rename/", {"name": "DE again"})
    assert Segment.objects.get(pk=copy.pk).name == "DE again"
    client.post(f"/segments/{copy.pk}/delete/", {})
    assert not Segment.objects.filter(pk=copy.pk).exists()
    assert SegmentMembership.objects.filter(segment_id=copy.pk).count() == 0


def test_export_csv_is_masked_and_audited(marketer, client_for, germany):
    response = client_for(marketer).get(f"/segments/{germany.pk}/export.csv")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "profile_id,entered_at,email,name,country"
    assert len(body.splitlines()) == 3
    assert "a***@example.com" in body
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.detail["rows"]) == ("segment.export", 2)


@pytest.mark.parametrize(
    ("persona_name", "expected"),
    [
        ("marketer", 200),
        ("superuser", 200),
        ("support_agent", 403),
        ("integration_admin", 403),
        ("compliance_officer", 403),
        ("other_marketer", 404),
    ],
)
def test_segment_get_for_user_over_every_role(persona_name, expected, request, client_for, germany):
    from tests.factories import UserFactory

    if persona_name == "other_marketer":
        user = UserFactory(username="other_marketer", roles=["marketer"])
    else:
        user = request.getfixturevalue(persona_name)
    client = client_for(user)
    assert client.get(f"/segments/{germany.pk}/").status_code == expected
    assert client.get(f"/segments/{germany.pk}/export.csv").status_code == expected
    response = client.post(f"/segments/{germany.pk}/delete/", {})
    assert response.status_code == (302 if expected == 200 else expected)
    assert Segment.objects.filter(pk=germany.pk).exists() is (expected != 200)


def test_share_is_listed_and_can_be_taken_back(marketer, client_for, germany):
    from tests.factories import UserFactory

    colleague = UserFactory(username="colleague", roles=["marketer"])
    client = client_for(marketer)
    client.post(
        f"/segments/{germany.pk}/share/",
        {"user": colleague.pk, "can_edit": "on"},
    )
    assert client_for(colleague).get(f"/segments/{germany.pk}/").status_code == 200
    page = client.get(f"/segments/{germany.pk}/").content.decode()
    assert "colleague" in page
    assert "view and edit" in page

    response = client.post(f"/segments/{germany.pk}/unshare/", {"user": colleague.pk})
    assert response.status_code == 302
    assert client_for(colleague).get(f"/segments/{germany.pk}/").status_code == 404
    assert "Not shared with anyone yet." in client.get(f"/segments/{germany.pk}/").content.decode()


def test_owner_cannot_be_unshared(marketer, client_for, germany):
    client = client_for(marketer)
    response = client.post(f"/segments/{germany.pk}/unshare/", {"user": marketer.pk}, follow=True)
    assert "The owner of a segment always keeps it." in response.content.decode()
    assert client.get(f"/segments/{germany.pk}/").status_code == 200


@pytest.mark.parametrize("action", ["share", "unshare"])
def test_share_forms_with_garbled_ids_change_nothing(marketer, client_for, germany, action):
    client = client_for(marketer)
    response = client.post(
        f"/segments/{germany.pk}/{action}/",
        {"user": "abc", "group": "-1"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Choose a user or a group" in response.content.decode()
    assert "Not shared with anyone yet." in response.content.decode()


def test_saving_without_a_name_says_so_once_and_still_counts(marketer, client_for, people):
    catalogue_refresh()
    response = client_for(marketer).post("/segments/new/", _form(save="1", name=""))
    body = response.content.decode()
    assert body.count("Give the segment a name.") == 1
    assert 'data-count="1"' in body
    assert not Segment.objects.exists()


def _segment_state(segment: Segment) -> tuple:
    """What any action could change: the segments, their names, and who they are shared with."""
    from guardian.shortcuts import get_users_with_perms

    return (
        sorted(Segment.objects.values_list("pk", "name")),
        sorted(u.username for u in get_users_with_perms(segment, with_group_users=False)),
    )


ACTIONS = {
    "duplicate": {},
    "delete": {},
    "refresh": {},
    "rename": {"name": "Renamed"},
    "share": {"user": "{colleague}", "can_edit": "on"},
    "unshare": {"user": "{colleague}"},
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "persona_name", ["support_agent", "integration_admin", "compliance_officer"]
)
def test_each_action_is_refused_to_other_roles_and_changes_nothing(
    action, persona_name, request, client_for, germany, django_capture_on_commit_callbacks
):
    from guardian.shortcuts import assign_perm

    from tests.factories import UserFactory

    colleague = UserFactory(username="colleague", roles=["marketer"])
    assign_perm("segments.view_segment", colleague, germany)
    data = {k: v.format(colleague=colleague.pk) for k, v in ACTIONS[action].items()}
    before = _segment_state(germany)
    client = client_for(request.getfixturevalue(persona_name))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/segments/{germany.pk}/{action}/", data)
    assert response.status_code == 403
    assert (_segment_state(germany), callbacks) == (before, [])


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_wants_a_post(action, marketer, client_for, germany):
    response = client_for(marketer).get(f"/segments/{germany.pk}/{action}/")
    assert response.status_code == 405
    assert Segment.objects.filter(pk=germany.pk, name="Germany").exists()


@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "duplicate"])
def test_actions_that_change_a_segment_are_404_to_whom_it_is_only_shown(
    action, client_for, germany
):
    from guardian.shortcuts import assign_perm

    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer", roles=["marketer"])
    assign_perm("segments.view_segment", viewer, germany)
    data = {k: v.format(colleague=viewer.pk) for k, v in ACTIONS[action].items()}
    before = _segment_state(germany)
    response = client_for(viewer).post(f"/segments/{germany.pk}/{action}/", data)
    assert response.status_code == 404
    assert _segment_state(germany) == before


def test_refresh_queues_a_refresh_and_says_so(marketer, client_for, germany, monkeypatch):
    from segments import tasks

    queued = []
    monkeypatch.setattr(
        tasks.segment_refresh_task, "delay", lambda *args: queued.append(args) or "task-id"
    )
    response = client_for(marketer).post(f"/segments/{germany.pk}/refresh/", follow=True)
    assert "Refresh queued." in response.content.decode()
    assert queued == [(germany.pk,)]


def test_deleting_a_segment_in_use_says_why_and_keeps_it(marketer, client_for, germany):
    Segment.objects.create(
        name="Outer",
        owner=marketer,
        definition={"match": "all", "conditions": [{"type": "segment", "segment": germany.pk}]},
    )
    response = client_for(marketer).post(f"/segments/{germany.pk}/delete/", follow=True)
    assert response.redirect_chain == [(f"/segments/{germany.pk}/", 302)]
    assert "Other segments use this one: Outer." in response.content.decode()
    assert Segment.objects.filter(pk=germany.pk).exists()


def test_renaming_to_nothing_says_so_and_keeps_the_name(marketer, client_for, germany):
    response = client_for(marketer).post(
        f"/segments/{germany.pk}/rename/", {"name": "  "}, follow=True
    )
    assert "Give the segment a name." in response.content.decode()
    assert Segment.objects.get(pk=germany.pk).name == "Germany"


def test_builder_fragment_and_live_count_come_from_the_page_template(marketer, client_for, people):
    client = client_for(marketer)
    page = client.get("/segments/new/").content.decode()
    fragment = client.post(
        "/segments/new/", _form(op="add-group:r"), HTTP_HX_REQUEST="true"
    ).content.decode()
    count = client.post("/segments/preview/", _form(), HTTP_HX_REQUEST="true").content.decode()
    assert ["<html" in text for text in (page, fragment, count)] == [True, False, False]
    assert fragment.lstrip().startswith('<div id="builder" class="card builder">')
    assert fragment.count('id="preview"') == 1
    assert count.lstrip().startswith('<p class="big-number" id="preview-count" data-count="1">')


def test_after_saving_the_page_says_the_first_computation_runs_and_polls_until_it_ends(
    marketer, client_for, people
):
    catalogue_refresh()
    client = client_for(marketer)
    saved = client.post("/segments/new/", _form(save="1"))
    segment = Segment.objects.get()
    assert saved.url == f"/segments/{segment.pk}/"
    page = client.get(saved.url).content.decode()
    assert "The first computation is running" in page
    assert "Never computed" not in page
    assert 'hx-trigger="every 2s"' in page
    status_url = f"/segments/{segment.pk}/?part=status"
    while_running = client.get(status_url, HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in while_running.content.decode()
    assert "HX-Refresh" not in while_running

    segment_refresh(segment_id=segment.pk)
    done = client.get(status_url, HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    assert "hx-trigger" not in done.content.decode()
    page = client.get(saved.url).content.decode()
    assert 'hx-trigger="every 2s"' not in page
    assert "The first computation is running" not in page


def test_a_name_over_200_characters_is_refused_with_a_message(
    marketer, client_for, germany, people
):
    from rest_framework.test import APIClient

    catalogue_refresh()
    long_name = "N" * 201
    client = client_for(marketer)
    body = client.post("/segments/new/", _form(save="1", name=long_name)).content.decode()
    assert "Keep the name to 200 characters (this one has 201)." in body
    renamed = client.post(f"/segments/{germany.pk}/rename/", {"name": long_name}, follow=True)
    assert "Keep the name to 200 characters" in renamed.content.decode()
    germany.refresh_from_db()
    assert germany.name == "Germany"
    api = APIClient()
    api.force_authenticate(marketer)
    answer = api.post("/api/segments/", {"name": long_name, "definition": DE}, format="json")
    assert answer.status_code == 400
    assert "200 characters" in str(answer.json())
    assert list(Segment.objects.values_list("name", flat=True)) == ["Germany"]
    # Exactly 200 is kept whole.
    client.post(f"/segments/{germany.pk}/rename/", {"name": "N" * 200})
    germany.refresh_from_db()
    assert germany.name == "N" * 200
