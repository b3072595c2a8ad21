"""Masking of personal data for roles that do not need it."""

import pytest

from profiles.masking import can_view_personal_data, mask_email, mask_phone, mask_traits

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "masked"),
    [("jane.doe@example.com", "j***@example.com"), ("x@y.io", "x***@y.io"), ("nope", "n***")],
)
def test_mask_email(value, masked):
    assert mask_email(value) == masked


def test_mask_phone_keeps_last_two_digits():
    assert mask_phone("+49 151 1234 5678") == "+** *** **** **78"


def test_mask_traits_masks_only_personal_keys():
    assert mask_traits({"email": "ann@shop.de", "name": "Ann Lee", "plan": "pro", "orders": 3}) == {
        "email": "a***@shop.de",
        "name": "A*** L***",
        "plan": "pro",
        "orders": 3,
    }


@pytest.mark.parametrize(
    ("persona_name", "allowed"),
    [
        ("marketer", False),
        ("support_agent", True),
        ("integration_admin", False),
        ("compliance_officer", True),
        ("superuser", True),
    ],
)
def test_who_sees_personal_data(persona_name, allowed, request):
    assert can_view_personal_data(request.getfixturevalue(persona_name)) is allowed
