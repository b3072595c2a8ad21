"""Masking of personal data for roles that do not need it."""

import pytest

from profiles.catalogue.selectors import ShownFields
from profiles.masking import (
    can_view_personal_data,
    mask_email,
    mask_event_payload,
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


# What the catalogue knows to be safe, as `shown_fields()` reads it.
SHOWN = ShownFields(
    frozenset(
        {
            ("trait", "", "plan"),
            ("trait", "", "orders"),
            ("trait", "", "address.city"),
            ("trait", "", "productName"),
            ("trait", "", "revenue"),
            ("trait", "", "vip"),
            ("trait", "", "mail"),
            ("property", "Order Completed", "order_id"),
            ("context", "", "page.path"),
            ("context", "", "page.url"),
            ("context", "", "library.name"),
            ("context", "", "library.version"),
            ("context", "", "device.model"),
        }
    )
)


def test_mask_traits_shows_only_fields_known_to_be_safe():
    traits = {"email": "ann@shop.de", "name": "Ann Lee", "plan": "pro", "orders": 3, "x": "k1"}
    assert mask_traits(traits, shown=SHOWN) == {
        "email": "a***@shop.de",
        "name": "A*** L***",
        "plan": "pro",
        "orders": 3,
        # Not in the catalogue (not known yet): masked by default.
        "x": "k***",
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
    masked = mask_traits(
        {
            "phone": 4155550123,
            "address": {"street": "1 Main St", "city": "Springfield"},
            "emails": ["jane@example.com"],
            "customer_email": "jane@example.com",
            "contact": "Jane <x>",
            "productName": "Blue Shoes",
            "revenue": 39.95,
            "vip": True,
            "unknown_flag": False,
            "mail": "Contact: x@example.com",  # shown, but scrubbed of the e-mail in it
        },
        shown=SHOWN,
    )
    assert masked == {
        "phone": "***",
        "address": {"street": "1*** M*** S***", "city": "Springfield"},
        "emails": ["j***@example.com"],
        "customer_email": "j***@example.com",
        "contact": "J*** <x***>",
        "productName": "Blue Shoes",
        "revenue": 39.95,
        "vip": True,
        "unknown_flag": "***",
        "mail": "Contact: x***@example.com",
    }


def test_event_payload_masks_ids_context_and_drops_the_ip():
    masked = mask_event_payload(
        {
            "event": "Order Completed",
            "userId": "jane-1",
            "anonymousId": "anon-77",
            "traits": {"email": "jane@example.com"},
            "properties": {"order_id": "o-1", "coupon": "JANE10"},
            "context": {
                "ip": "10.0.0.1",
                "externalIds": [{"id": "jane@example.com", "type": "email"}],
                "device": {"id": "dev-123", "model": "Pixel"},
                "page": {"path": "/cart", "url": "https://shop.example/?email=jane%40example.com"},
                "location": {"latitude": 52.52, "longitude": 13.405},
                "library": {"name": "analytics-python", "version": "2.3"},
            },
        },
        shown=SHOWN,
    )
    assert masked["userId"] == "j***-1***"
    assert masked["traits"] == {"email": "j***@example.com"}
    # A property is shown by its class for its event.
    assert masked["properties"] == {"order_id": "o-1", "coupon": "J***"}
    assert "ip" not in masked["context"]
    assert masked["context"]["externalIds"] == [{"id": "j***@example.com", "type": "e***"}]
    assert masked["context"]["device"] == {"id": "d***-1***", "model": "Pixel"}
    assert masked["context"]["page"] == {
        "path": "/cart",
        "url": "https://shop.example/?email=j***@example.com",
    }
    assert masked["context"]["location"] == {"latitude": "***", "longitude": "***"}
    assert masked["context"]["library"] == {"name": "analytics-python", "version": "2.3"}
