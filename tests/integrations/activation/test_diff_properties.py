"""Property: after any sequence of membership changes, consent changes, trait changes and runs
that fail part-way, one successful run leaves the receiver holding exactly the segment's members
with consent, each with the values it has now."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from integrations.activation.runner import audience_sync_run_execute, audience_sync_run_start
from integrations.models import SyncRun
from profiles.models import Profile
from segments.services import segment_refresh
from tests.integrations.protocol_servers.webhook import WebhookReceiver

from .conftest import (
    SECRET,
    consent_set,
    profiles_make,
    sync_make,
    vip_segment,
    webhook_destination,
)

pytestmark = pytest.mark.django_db

PEOPLE = 8


class FailingAfter(WebhookReceiver):
    """A receiver that answers 503 to every request after its first `allowed` ones (while
    `allowed` is not None): a run that fails part-way through."""

    allowed: int | None = None

    def handle(self, request):
        from tests.integrations.protocol_servers.scripted import Reply

        if self.allowed is not None:
            if self.allowed <= 0:
                return Reply(503, {"message": "down"})
            self.allowed -= 1
        return super().handle(request)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("vip"), st.integers(0, PEOPLE - 1), st.booleans()),
        st.tuples(st.just("consent"), st.integers(0, PEOPLE - 1), st.booleans()),
        st.tuples(
            st.just("name"), st.integers(0, PEOPLE - 1), st.sampled_from(["Ann", "Bo", "Cy"])
        ),
        st.tuples(st.just("run"), st.none(), st.none()),
        st.tuples(st.just("failed_run"), st.integers(0, 3), st.none()),
    ),
    max_size=14,
)


@pytest.fixture(scope="module")
def flaky_receiver():
    with FailingAfter(secret=SECRET, keep_requests=False) as server:
        yield server


@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_the_receiver_holds_the_members_with_consent_after_any_history(
    steps, flaky_receiver, settings
):
    settings.CDP_AUDIENCE_BATCH_SIZE = 2
    settings.CDP_DESTINATION_PAUSE_AFTER = 10_000
    settings.CDP_SYNC_RETRY_ATTEMPTS = 0
    receiver = flaky_receiver
    # A fresh receiver for each example: ids (and so audience keys and batch ids) come back
    # after a rollback on SQLite.
    with receiver.state_lock:
        receiver.members.clear()
        receiver.batches_applied.clear()
        receiver.message_ids.clear()
    with transaction.atomic():
        people = profiles_make(PEOPLE, vip=False)
        segment = vip_segment()
        from integrations.models import Destination

        name = f"Hooks {Destination.objects.count()}"
        sync = sync_make(segment, webhook_destination(receiver, name=name))

        def run(allowed=None):
            receiver.allowed = allowed
            try:
                started = audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
                return audience_sync_run_execute(started.pk)
            finally:
                receiver.allowed = None

        for kind, index, value in steps:
            if kind == "vip":
                profile = Profile.objects.get(pk=people[index].pk)
                profile.traits = {**profile.traits, "vip": value}
                profile.save(update_fields=["traits", "updated_at"])
                segment_refresh(segment_id=segment.pk)
            elif kind == "consent":
                consent_set([people[index].pk], value)
            elif kind == "name":
                profile = Profile.objects.get(pk=people[index].pk)
                profile.traits = {**profile.traits, "first_name": value}
                profile.save(update_fields=["traits", "updated_at"])
            elif kind == "run":
                assert run().status == SyncRun.Status.SUCCEEDED
            else:
                run(allowed=index)
        final = run()
        assert final.status == SyncRun.Status.SUCCEEDED, final.message
        expected = {
            p.pk: p.traits.get("first_name")
            for p in Profile.objects.filter(pk__in=[p.pk for p in people])
            if p.traits.get("vip")
        }
        from compliance.selectors import consent_granted_profile_ids

        consented = set(
            consent_granted_profile_ids("advertising").values_list("profile_id", flat=True)
        )
        expected = {pk: name for pk, name in expected.items() if pk in consented}
        held = receiver.members[sync.audience_key]
        assert set(held) == set(expected)
        assert {pk: traits.get("first_name") for pk, traits in held.items()} == expected
        assert final.records_left_out == len(
            [
                p
                for p in Profile.objects.filter(pk__in=[p.pk for p in people])
                if p.traits.get("vip")
            ]
        ) - len(expected)
        transaction.set_rollback(True)
