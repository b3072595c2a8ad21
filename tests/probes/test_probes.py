"""The security review's probes, scripted: the fuzzed tracking API with exact storage counts, and
hostile strings in every field rendered escaped on every page that shows them.

The other probes live beside the code they check: the role x URL matrix
(`tests/cdp_site/test_roles.py` with `tests/urlmatrix.py`), odd values in every query parameter
(`tests/cdp_site/test_odd_parameters.py`), expensive previews under concurrent tracking load
(`tests/segments/test_live_costs.py`), the access log (`tests/cdp_site/test_gunicorn.py`).
"""

import base64
import json
import random
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.models import QuarantinedMessage
from integrations.selectors import write_key_cache_clear
from profiles.identity import events_resolve_pending
from profiles.models import Event, Profile
from segments.models import Segment
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&{{7*7}}"
RAW_MARKERS = ("<script>alert", "<img src=x")


@pytest.fixture(autouse=True)
def _fresh_keys():
    write_key_cache_clear()
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        yield
    write_key_cache_clear()


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _batch(client, key, messages):
    return client.post(
        "/v1/batch",
        json.dumps({"batch": messages}),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(key),
    )


# --- the fuzzed tracking API, counted exactly ---------------------------------------------------

valid = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["identify", "track", "page", "screen", "group"]),
        "userId": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1),
    },
    optional={
        "traits": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
        "properties": st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    },
).map(lambda m: {**m, "event": "Clicked", "groupId": "g1"})
invalid = st.one_of(
    st.just({}),  # no type
    st.just({"type": "track", "userId": "u1"}),  # a track without an event name
    st.just({"type": "identify"}),  # no user or anonymous id
    st.just({"type": "jump", "userId": "u1"}),  # not a type
    st.integers().map(lambda n: n),  # not an object
    st.just({"type": "track", "event": "E", "userId": "u\x00"}),  # NUL
    st.just({"type": "track", "event": "E", "userId": "u1", "timestamp": "yesterday"}),
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(good=st.lists(valid, max_size=8), bad=st.lists(invalid, max_size=5), seed=st.integers())
def test_fuzzed_batches_store_exactly_the_valid_messages(client, good, bad, seed):
    source = SourceFactory()
    good = [{**message, "messageId": f"ok-{n}"} for n, message in enumerate(good)]
    mixed = good + bad
    random.Random(seed).shuffle(mixed)
    response = _batch(client, source.write_key, mixed)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == len(good)
    assert body["duplicates"] == 0
    assert len(body["rejected"]) == len(bad)
    assert all(problem["code"] and problem["message"] for problem in body["rejected"])
    stored = Event.objects.filter(source_id=source.pk)
    assert sorted(stored.values_list("message_id", flat=True)) == sorted(
        message["messageId"] for message in good
    )
    assert QuarantinedMessage.objects.filter(source=source).count() == len(bad)
    # Sent again: nothing more is stored.
    again = _batch(client, source.write_key, mixed).json()
    assert (again["accepted"], again["duplicates"]) == (0, len(good))
    assert stored.count() == len(good)


# --- hostile strings in every field ------------------------------------------------------------


def _assert_escaped(body: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in body, f"{marker!r} unescaped on {where}"


@pytest.mark.parametrize("persona_name", ["superuser", "support_agent", "marketer"])
def test_hostile_strings_in_every_field_are_rendered_escaped(
    client, persona_name, request, marketer, client_for
):
    source = SourceFactory(name=HOSTILE)
    messages = [
        {
            "type": "identify",
            "userId": HOSTILE,
            "traits": {"name": HOSTILE, "email": "x@example.com", HOSTILE: HOSTILE},
            "context": {"page": {"url": "https://example.com/?" + HOSTILE}},
        },
        {
            "type": "track",
            "userId": HOSTILE,
            "event": HOSTILE,
            "properties": {HOSTILE: HOSTILE, "nested": {"x": HOSTILE}},
        },
        {"type": "page", "userId": HOSTILE, "name": HOSTILE, "category": HOSTILE},
        {"type": "track"},  # quarantined, with its payload shown in the quarantine
    ]
    assert _batch(client, source.write_key, messages).status_code == 200
    events_resolve_pending()
    profile = Profile.objects.get(traits__name=HOSTILE)
    segment = Segment.objects.create(
        name=HOSTILE,
        definition={
            "match": "all",
            "conditions": [
                {"type": "trait", "trait": HOSTILE, "operator": "equals", "value": HOSTILE}
            ],
        },
        owner=marketer,
    )
    entry = QuarantinedMessage.objects.get(source=source)
    event = Event.objects.filter(source_id=source.pk).first()
    viewer = client_for(request.getfixturevalue(persona_name))
    pages = [
        "/",
        f"/customers/?q={HOSTILE}",
        f"/customers/{profile.pk}/",
        f"/customers/{profile.pk}/timeline/",
        f"/segments/profile/{profile.pk}/",
        f"/compliance/profile/{profile.pk}/consent/",
        "/segments/",
        f"/segments/{segment.pk}/",
        f"/segments/{segment.pk}/edit/",
        "/sources/",
        f"/sources/{source.pk}/",
        f"/sources/{source.pk}/debugger/",
        f"/sources/{source.pk}/debugger/messages/{event.pk}/",
        f"/sources/{source.pk}/quarantine/",
        f"/sources/{source.pk}/quarantine/{entry.pk}/",
        "/compliance/audit/",
        f"/compliance/audit/?user={HOSTILE}&action={HOSTILE}",
    ]
    shown = 0
    for path in pages:
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = viewer.get(path, **headers)
            assert response.status_code < 500, path
            # JSON and plain text are data, not markup: they must say so (`nosniff` keeps
            # browsers to what they say).
            assert response["Content-Type"].startswith(
                ("text/html", "application/json", "text/plain")
            ), path
            assert response["X-Content-Type-Options"] == "nosniff"
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                body = response.content.decode()
                _assert_escaped(body, path)
                shown += "&lt;script&gt;" in body or "\\u003Cscript" in body
    assert shown  # the hostile text was shown (escaped) somewhere to every persona
