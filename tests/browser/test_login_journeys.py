"""Each role logs in through a real browser and sees its own navigation."""

import pytest

from tests.urlmatrix import EXPECTED_NAVIGATION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("persona_name", list(EXPECTED_NAVIGATION))
def test_role_logs_in_and_sees_its_navigation(persona_name, request, login):
    user = request.getfixturevalue(persona_name)
    page = login(user)
    nav = page.get_by_role("navigation", name="Main")
    labels = [text.strip() for text in nav.get_by_role("link").all_inner_texts()]
    assert labels == EXPECTED_NAVIGATION[persona_name]
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")


def test_admin_checks_the_worker_from_the_system_page(integration_admin, login):
    page = login(integration_admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="System").click()
    page.get_by_role("button", name="Check the worker").click()
    page.get_by_text("answered at").wait_for()
