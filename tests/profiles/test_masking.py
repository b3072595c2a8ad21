"""Masking of personal data for roles that do not need it."""

import pytest

from profiles.masking import (
    can_view_personal_data,
    mask_email,
    mask_event_payload,
    mask_personal,
    mask_phone,
    mask_traits,
)

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


def test_masking_reaches_every_depth_and_type():
    masked = mask_personal(
        {
            "phone": 4155550123,
            "address": {"street": "1 Main St", "city": "Springfield"},
            "emails": ["jane@example.com"],
            "customer_email": "jane@example.com",
            "contact": "Jane <x>",
            "note": "jane@example.com",
            "productName": "Blue Shoes",
            "revenue": 39.95,
            "vip": True,
        }
    )
    assert masked == {
        "phone": "********23",
        # The door is masked, the place is not (as the profile header's location).
        "address": {"street": "1*** M*** S***", "city": "Springfield"},
        "emails": ["j***@example.com"],
        "customer_email": "j***@example.com",
        "contact": "Jane <x>",
        "note": "j***@example.com",
        "productName": "Blue Shoes",
        "revenue": 39.95,
        "vip": True,
    }


def test_event_payload_masks_ids_context_and_drops_the_ip():
    masked = mask_event_payload(
        {
            "userId": "jane-1",
            "anonymousId": "anon-77",
            "traits": {"email": "jane@example.com"},
            "properties": {"order_id": "o-1"},
            "context": {
                "ip": "10.0.0.1",
                "externalIds": [{"id": "jane@example.com", "type": "email"}],
                "device": {"id": "dev-123", "model": "Pixel"},
                "page": {"path": "/cart"},
                "library": {"name": "analytics-python", "version": "2.3"},
            },
        }
    )
    assert masked["userId"] == "j***-1***"
    assert masked["traits"] == {"email": "j***@example.com"}
    assert masked["properties"] == {"order_id": "o-1"}
    assert "ip" not in masked["context"]
    assert masked["context"]["externalIds"] == [{"id": "j***@example.com", "type": "e***"}]
    assert masked["context"]["device"] == {"id": "d***-1***", "model": "Pixel"}
    assert masked["context"]["page"] == {"path": "/cart"}
    assert masked["context"]["library"] == {"name": "analytics-python", "version": "2.3"}
