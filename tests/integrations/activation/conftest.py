"""Scenes for activation tests: profiles in a segment, consent, a webhook destination pointed at
a real local receiver (the protocol server of the webhook connector), and a sync."""

import datetime as dt

import pytest
from django.utils import timezone

from compliance.models import ConsentPurpose, ConsentRecord
from integrations.activation.services import audience_sync_create, destination_create
from profiles.models import Event, Identity, Profile
from segments.models import Segment
from segments.services import segment_refresh
from tests.integrations.protocol_servers.webhook import WebhookReceiver

SECRET = "whsec-test-secret"
VIP = {"match": "all", "conditions": [{"type": "trait", "trait": "vip", "operator": "is_true"}]}


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 0.01
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 0.05
    settings.CDP_SYNC_RETRY_ATTEMPTS = 2


@pytest.fixture
def receiver():
    with WebhookReceiver(secret=SECRET) as server:
        yield server


def profiles_make(count: int, *, vip: bool = True, start: int = 0) -> list[Profile]:
    """`count` profiles with an e-mail identifier and a first name."""
    now = timezone.now()
    profiles = Profile.objects.bulk_create(
        [
            Profile(
                traits={"vip": vip, "first_name": f"P{start + i}"}, first_seen=now, last_seen=now
            )
            for i in range(count)
        ]
    )
    Identity.objects.bulk_create(
        [
            Identity(
                kind="email", value=f"p{p.pk}@example.com", profile=p, first_seen=now, last_seen=now
            )
            for p in profiles
        ]
    )
    return profiles


_consent_clock = {"at": timezone.now() - dt.timedelta(days=1)}


def consent_set(profile_ids, granted: bool, purpose: str = "advertising") -> None:
    """Record a choice for each profile, later than any recorded before."""
    # get_or_create: a transactional test starts from a database without the seeded purposes.
    purpose, _ = ConsentPurpose.objects.get_or_create(
        key=purpose, defaults={"name": purpose.replace("_", " ").capitalize()}
    )
    _consent_clock["at"] += dt.timedelta(seconds=1)
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                profile_id=pk, purpose=purpose, granted=granted, recorded_at=_consent_clock["at"]
            )
            for pk in profile_ids
        ]
    )


def vip_segment(owner=None) -> Segment:
    segment = Segment.objects.create(name="VIPs", definition=VIP, owner=owner)
    segment_refresh(segment_id=segment.pk)
    return segment


def webhook_destination(receiver, name: str = "Hooks", **config):
    return destination_create(
        kind="webhook",
        name=name,
        values={"url": receiver.url + "/hook", "signing_secret": SECRET, **config},
    )


def sync_make(segment, destination, purpose: str = "advertising", user=None, **kwargs):
    return audience_sync_create(
        user=user,
        segment=segment,
        destination=destination,
        field_mapping={"email": "identifier:email", "first_name": "trait:first_name"},
        consent_purpose=purpose,
        **kwargs,
    )


def queued_run(sync):
    """A queued run of the sync, as `audience_sync_run_start` makes it, without publishing its
    task: tests whose transactions commit (and whose tasks run inline) start it themselves."""
    from integrations.models import SyncRun

    return SyncRun.objects.create(
        kind=SyncRun.Kind.AUDIENCE, audience_sync=sync, trigger=SyncRun.Trigger.MANUAL
    )


def track_events(count: int, prefix: str, source_id: int = 7, **fields) -> list[Event]:
    """`count` stored track events of one source, message ids `prefix-0`, `prefix-1`..."""
    now = timezone.now()
    return Event.objects.bulk_create(
        [
            Event(
                source_id=source_id,
                message_id=f"{prefix}-{i}",
                type="track",
                user_id=f"user-{i}",
                timestamp=now - dt.timedelta(minutes=i),
                received_at=now,
                **fields,
            )
            for i in range(count)
        ]
    )
