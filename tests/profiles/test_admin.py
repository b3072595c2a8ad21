"""The identity rules are configured in the Django admin, with their patterns checked."""

import pytest

from profiles.models import IdentityRule

pytestmark = pytest.mark.django_db


def test_superuser_adds_a_rule_with_blocked_patterns(superuser, client_for):
    client = client_for(superuser)
    assert client.get("/admin/profiles/identityrule/").status_code == 200
    response = client.post(
        "/admin/profiles/identityrule/add/",
        {
            "kind": " email ",
            "limit": 2,
            "priority": 2,
            "blocked_values": "test@.*\n\n.*@example.com",
        },
    )
    assert response.status_code == 302
    rule = IdentityRule.objects.get()
    assert (rule.kind, rule.limit, rule.blocked_values) == (
        "email",
        2,
        ["test@.*", ".*@example.com"],
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"blocked_values": "([unclosed"}, "is not a regular expression"),
        ({"limit": 0}, "at least one identifier"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(superuser, client_for, data, message):
    form = {"kind": "phone", "limit": 5, "priority": 3, "blocked_values": "", **data}
    response = client_for(superuser).post("/admin/profiles/identityrule/add/", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not IdentityRule.objects.exists()
