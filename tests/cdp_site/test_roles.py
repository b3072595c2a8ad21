"""Roles: groups and permissions, the page guard, the allowed/403 matrix, and the navigation."""

import pytest
from django.contrib.auth.models import Group

from cdp_site.navigation import nav_items_for_user
from cdp_site.roles import ALL_ROLES, ROLE_PERMISSIONS, Role, role_permissions_sync, user_roles
from tests.conftest import PERSONAS
from tests.urlmatrix import all_pages, plain_pages

PERSONA_ROLE = {
    "marketer": Role.MARKETER,
    "support_agent": Role.SUPPORT_AGENT,
    "integration_admin": Role.INTEGRATION_ADMIN,
    "compliance_officer": Role.COMPLIANCE_OFFICER,
}


@pytest.mark.django_db
def test_migration_creates_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in ALL_ROLES}


@pytest.mark.django_db
def test_groups_hold_exactly_the_listed_permissions_that_exist():
    for role, codes in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held <= set(codes)


@pytest.mark.django_db
def test_permission_sync_is_idempotent():
    from django.contrib.auth.models import Permission

    before = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    role_permissions_sync(Group, Permission)
    role_permissions_sync(Group, Permission)
    after = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert before == after


def test_user_roles_of_superuser_is_every_role(superuser):
    assert user_roles(superuser) == frozenset(ALL_ROLES)


def test_user_roles_of_persona(marketer):
    assert user_roles(marketer) == frozenset({Role.MARKETER})


def test_every_page_is_guarded_by_a_role():
    unguarded = [page.route for page in all_pages() if page.allowed_roles is None]
    assert unguarded == []


def _matrix():
    for page in plain_pages():
        for persona in PERSONAS:
            yield pytest.param(page, persona, id=f"{page.name or page.route}-{persona}")


@pytest.mark.parametrize(("page", "persona_name"), list(_matrix()))
def test_role_matrix(page, persona_name, request, client_for):
    user = request.getfixturevalue(persona_name)
    response = client_for(user).get(page.path)
    allowed = persona_name == "superuser" or PERSONA_ROLE[persona_name] in page.allowed_roles
    if allowed:
        # 405 is a POST-only action the role may use: it got past the role check.
        assert response.status_code in (200, 405), response.status_code
    else:
        assert response.status_code == 403
        assert b"This page is not part of your role" in response.content


@pytest.mark.parametrize("page", plain_pages(), ids=lambda p: p.name or p.route)
def test_pages_redirect_anonymous_visitors_to_login(page, client):
    response = client.get(page.path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("persona_name", PERSONAS)
def test_navigation_lists_only_what_the_role_may_open(persona_name, request, client_for):
    user = request.getfixturevalue(persona_name)
    items = nav_items_for_user(user)
    assert items, "every role sees at least the home page"
    for item in items:
        response = client_for(user).get(item.url)
        assert response.status_code == 200, item.url


def test_navigation_of_marketer_hides_system_page(marketer, client_for):
    html = client_for(marketer).get("/").content.decode()
    assert 'href="/system/"' not in html


def test_navigation_of_integration_admin_shows_system_page(integration_admin, client_for):
    html = client_for(integration_admin).get("/").content.decode()
    assert 'href="/system/"' in html


@pytest.mark.django_db
def test_user_without_role_is_told_so(client_for):
    from tests.factories import UserFactory

    response = client_for(UserFactory(username="nobody")).get("/")
    assert response.status_code == 403
