"""Property test: whatever JSON a client sends as messages, ingestion answers and loses nothing."""

from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.models import QuarantinedMessage
from integrations.tracking.ingest import tracking_messages_ingest
from profiles.models import Event
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "userId",
    "anonymousId",
    "event",
    "name",
    "groupId",
    "previousId",
    "traits",
    "properties",
    "context",
    "integrations",
    "timestamp",
    "sentAt",
    "messageId",
    "category",
]
messages = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from([*FIELDS, "type"]), json_values, max_size=6),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias"])},
        optional={
            **dict.fromkeys(FIELDS, json_values),
            # Often valid ids and names, so that stored events are exercised too.
            "userId": st.text(max_size=5),
            "event": st.text(max_size=5),
        },
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(messages, max_size=6), context=json_values, sent_at=json_values)
def test_any_messages_are_stored_or_quarantined(batch, context, sent_at):
    source = SourceFactory()
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        result = tracking_messages_ingest(
            source=source, messages=batch, batch_context=context, sent_at=sent_at
        )
    assert result.accepted + result.duplicates + len(result.rejected) == len(batch)
    assert Event.objects.filter(source_id=source.pk).count() == result.accepted
    assert QuarantinedMessage.objects.filter(source=source).count() == len(result.rejected)
