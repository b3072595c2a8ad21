"""What every official SDK test sends (one call of each type) and must find stored."""

from profiles.models import Event

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")


def assert_every_call_stored(source, prefix: str, *, library: str) -> dict[str, Event]:
    """The six calls of `tests/node/send_every_call.js` (and the Python tests' equivalent) are
    stored as sent, each with the SDK's library name; returns the events by type."""
    events = {e.type: e for e in Event.objects.filter(source_id=source.pk)}
    assert set(events) == set(CALL_TYPES)
    assert {e.message_id for e in events.values()} == {f"{prefix}-{kind}" for kind in CALL_TYPES}
    assert events["identify"].traits == {"email": "ann@example.com"}
    assert events["track"].event == "Order Completed"
    assert events["track"].properties == {"revenue": 39.95}
    assert events["page"].name == "Install"
    assert events["page"].properties["path"] == "/install"
    assert events["screen"].name == "Cart"
    assert events["group"].group_id == "acme"
    assert events["alias"].previous_id == "anon-9"
    for event in events.values():
        assert event.user_id == "user-1"
        assert event.context["library"]["name"] == library
        assert event.sent_at is not None
    return events
