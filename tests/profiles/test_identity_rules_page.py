"""Integration admins read and change the identity rules on a page and through the API: the
effect of each setting explained, each change audited, and a rebuild asked for until one ran."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from profiles.models import IdentityRule, ProfileMerge, RebuildRun
from profiles.services import profiles_rebuild
from tests.factories import merged_pair

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_the_page_lists_rules_in_force_with_their_effect(client_for, integration_admin):
    IdentityRule.objects.create(kind="phone", limit=2, priority=3, blocked_values=["^\\+10+$"])
    page = client_for(integration_admin).get("/identity-rules/").content.decode()
    for kind in ("user_id", "email", "phone"):
        assert f'data-kind="{kind}"' in page
    assert "A profile holds at most 1 user_id value: an event bringing a second one" in page
    assert "<code>^\\+10+$</code>" in page
    assert 'id="rebuild-needed"' not in page


def test_changing_a_rule_is_audited_and_asks_for_a_rebuild(client_for, integration_admin):
    client = client_for(integration_admin)
    response = client.post(
        "/identity-rules/kind/email/",
        {"limit": "2", "priority": "2", "blocked_values": "test@example\\.com\n"},
        follow=True,
    )
    page = response.content.decode()
    assert "Rule for “email” saved." in page
    assert 'id="rebuild-needed"' in page
    assert "python manage.py rebuild" in page
    rule = IdentityRule.objects.get(kind="email")
    assert (rule.limit, rule.priority, rule.blocked_values) == (2, 2, ["test@example\\.com"])
    row = AuditEvent.objects.get(action="identity_rule.change")
    assert row.username == integration_admin.username
    assert row.detail["kind"] == "email"
    assert row.detail["changes"]["limit"] == {"from": 5, "to": 2}  # from the default
    # A second save with nothing changed records nothing.
    client.post(
        "/identity-rules/kind/email/",
        {"limit": "2", "priority": "2", "blocked_values": "test@example\\.com"},
    )
    assert AuditEvent.objects.filter(action="identity_rule.change").count() == 1


def test_the_rebuild_notice_goes_once_a_rebuild_ran(client_for, integration_admin):
    client = client_for(integration_admin)
    client.post("/identity-rules/kind/user_id/", {"limit": "1", "priority": "5"})
    assert 'id="rebuild-needed"' in client.get("/identity-rules/").content.decode()
    profiles_rebuild()
    assert RebuildRun.objects.count() == 1
    assert 'id="rebuild-needed"' not in client.get("/identity-rules/").content.decode()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"limit": "0", "priority": "1"}, "at least one identifier"),
        ({"limit": "abc", "priority": "1"}, "Enter a whole number."),
        (
            {"limit": "2", "priority": "1", "blocked_values": "(unclosed"},
            "is not a regular expression",
        ),
        ({"limit": "2", "priority": "-1"}, "greater than or equal to 0"),
    ],
)
def test_bad_values_are_refused_in_place(client_for, integration_admin, values, message):
    response = client_for(integration_admin).post("/identity-rules/kind/email/", values)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not IdentityRule.objects.exists()
    assert not AuditEvent.objects.filter(action="identity_rule.change").exists()


def test_a_rule_for_a_new_kind(client_for, integration_admin):
    client = client_for(integration_admin)
    refused = client.post(
        "/identity-rules/new/", {"kind": "bad kind!", "limit": "1", "priority": "1"}
    )
    assert "Use letters, digits" in refused.content.decode()
    client.post("/identity-rules/new/", {"kind": "crm_id", "limit": "1", "priority": "4"})
    assert IdentityRule.objects.get(kind="crm_id").limit == 1
    taken = client.post("/identity-rules/new/", {"kind": "crm_id", "limit": "3", "priority": "4"})
    assert "already exists" in taken.content.decode()
    assert IdentityRule.objects.get(kind="crm_id").limit == 1


@pytest.mark.parametrize("persona_name", ["marketer", "support_agent", "compliance_officer"])
def test_other_roles_cannot_change_rules(persona_name, request, client_for):
    user = request.getfixturevalue(persona_name)
    assert client_for(user).post("/identity-rules/kind/email/", {"limit": "1"}).status_code == 403
    assert _api(user).patch("/api/identity-rules/email/", {"limit": 1}).status_code == 403
    assert not IdentityRule.objects.exists()


def test_the_api_reads_and_changes_rules(integration_admin):
    api = _api(integration_admin)
    listed = api.get("/api/identity-rules/").json()
    assert listed["rebuild_needed"] is False
    assert {rule["kind"]: rule["limit"] for rule in listed["rules"]} == {"user_id": 1, "email": 5}
    changed = api.patch("/api/identity-rules/email/", {"limit": 3}, format="json")
    assert changed.status_code == 200
    assert changed.json()["limit"] == 3
    assert changed.json()["priority"] == 2  # kept from the default
    assert changed.json()["configured"] is True
    assert api.get("/api/identity-rules/").json()["rebuild_needed"] is True
    bad = api.put(
        "/api/identity-rules/email/",
        {"limit": 3, "priority": 2, "blocked_values": ["(oops"]},
        format="json",
    )
    assert bad.status_code == 400
    assert "not a regular expression" in str(bad.json())
    assert api.patch("/api/identity-rules/email/", {"limit": 0}, format="json").status_code == 400
    assert IdentityRule.objects.get(kind="email").limit == 3
    assert AuditEvent.objects.filter(action="identity_rule.change").count() == 1


def test_the_api_undoes_a_merge_with_the_same_rules_as_the_page(support_agent, marketer):
    merge = merged_pair(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert _api(marketer).post(f"/api/merges/{merge.pk}/undo/").status_code == 403
    answer = _api(support_agent).post(f"/api/merges/{merge.pk}/undo/")
    assert answer.status_code == 200
    assert answer.json()["restored"] == merge.loser_id
    assert ProfileMerge.objects.get().undone_at is not None
    assert AuditEvent.objects.filter(action="profile.merge_undo").count() == 1
    again = _api(support_agent).post(f"/api/merges/{merge.pk}/undo/")
    assert again.status_code == 409
    assert _api(support_agent).post("/api/merges/999999/undo/").status_code == 404


def test_rules_from_the_configuration_file_ask_for_a_rebuild_and_are_audited():
    from django.utils import timezone

    from profiles.config import identity_rules_apply
    from profiles.identity_rules import identity_rules_rebuild_needed

    crm = {"kind": "crm_id", "limit": 1, "priority": 3, "blocked_values": []}
    identity_rules_apply([crm], [], [])
    assert identity_rules_rebuild_needed() is not None
    RebuildRun.objects.create(finished_at=timezone.now(), events=0)
    assert identity_rules_rebuild_needed() is None
    # Removing a rule is a change too, though no rule row is left to say so.
    identity_rules_apply([], [], ["crm_id"])
    assert identity_rules_rebuild_needed() is not None
    rows = list(AuditEvent.objects.filter(action="identity_rule.change").order_by("pk"))
    assert [(row.username, row.detail["created"], row.detail["removed"]) for row in rows] == [
        ("", ["crm_id"], []),
        ("", [], ["crm_id"]),
    ]
