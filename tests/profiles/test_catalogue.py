"""The data catalogue: filled by a sampled scan (worker start, schedule, first use) and kept
current by each resolved batch, with nested paths, types, classes and common values."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from profiles.catalogue.scan import catalogue_learn_batch, catalogue_refresh
from profiles.catalogue.selectors import field_classes_forget, shown_fields
from profiles.identity import events_resolve_pending
from profiles.models import DataField, Event, Profile
from profiles.tasks import catalogue_learn_batch_task, catalogue_refresh_task
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_classes():
    field_classes_forget()
    yield
    field_classes_forget()


def _classes():
    return {(f.kind, f.event, f.path): f.classification for f in DataField.objects.all()}


def _shop(profiles=4):
    source = SourceFactory()
    now = timezone.now()
    for i in range(profiles):
        profile = Profile.objects.create(
            traits={
                "email": f"p{i}@example.com",
                "plan": "pro",
                "ltv": 12.5 + i,
                "vip": True,
                "signup": "2025-01-02",
                "tags": ["a"],
                "address": {"country": "DE", "street": f"Hauptstr. {i}"},
            }
        )
        Event.objects.create(
            source_id=source.pk,
            message_id=f"m{i}",
            type="track",
            event="Order Completed",
            properties={"revenue": 10, "currency": "EUR"},
            context={"page": {"url": f"https://shop.example/p/{i}"}, "library": {"name": "js"}},
            timestamp=now,
            received_at=now,
            profile=profile,
        )
    return source


def test_refresh_task_run_twice_gathers_nested_paths_with_types():
    _shop()
    first = catalogue_refresh_task.delay().get()
    assert catalogue_refresh_task.delay().get() == first == 13
    fields = {(f.kind, f.event, f.path): f.value_type for f in DataField.objects.all()}
    assert fields == {
        ("trait", "", "email"): "string",
        ("trait", "", "plan"): "string",
        ("trait", "", "ltv"): "number",
        ("trait", "", "vip"): "boolean",
        ("trait", "", "signup"): "date",
        ("trait", "", "tags"): "list",
        ("trait", "", "address.country"): "string",
        ("trait", "", "address.street"): "string",
        ("event", "Order Completed", ""): "event",
        ("property", "Order Completed", "revenue"): "number",
        ("property", "Order Completed", "currency"): "string",
        ("context", "", "page.url"): "string",
        ("context", "", "library.name"): "string",
    }


def test_the_scan_classifies_each_field_with_its_evidence():
    _shop()
    catalogue_refresh()
    classes = _classes()
    assert classes[("trait", "", "email")] == "personal"
    assert classes[("trait", "", "address.street")] == "personal"
    assert classes[("trait", "", "address.country")] == "not_personal"
    assert classes[("trait", "", "plan")] == "not_personal"
    assert classes[("property", "Order Completed", "currency")] == "not_personal"
    assert classes[("context", "", "page.url")] == "not_personal"
    email = DataField.objects.get(kind="trait", path="email")
    assert email.classified_by == "automatic"
    assert any("e-mail" in why for why in email.evidence)
    # Common values are kept only of fields not personal.
    assert email.common_values == []
    assert DataField.objects.get(kind="trait", path="address.country").common_values == [["DE", 4]]
    # A value fewer than three records hold is not kept: it could name one person.
    assert DataField.objects.get(kind="context", path="page.url").common_values == []


def test_a_persons_class_survives_the_next_scan():
    _shop()
    catalogue_refresh()
    DataField.objects.filter(path="plan").update(classification="personal", classified_by="person")
    catalogue_refresh()
    plan = DataField.objects.get(path="plan")
    assert (plan.classification, plan.classified_by) == ("personal", "person")


def test_a_resolved_batch_teaches_the_catalogue_its_new_fields_in_a_few_queries(
    django_capture_on_commit_callbacks,
):
    source = SourceFactory()
    now = timezone.now()
    for i in range(30):
        EventFactory(
            source=source,
            type="identify",
            user_id=f"u{i}",
            traits={
                "surname": f"Name{i}",
                "national_id": "078-05-1120",
                "company": {"contact_person": f"Person {i}"},
            },
            properties={},
            timestamp=now,
        )
    assert not DataField.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        events_resolve_pending()
    classes = _classes()
    assert classes[("trait", "", "surname")] == "personal"
    assert classes[("trait", "", "national_id")] == "sensitive"
    assert classes[("trait", "", "company.contact_person")] == "personal"
    # The pass per batch is a fixed number of queries, however many events the batch holds.
    ids = list(Event.objects.order_by("pk").values_list("pk", flat=True))
    profile_ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True))
    counts = []
    for size in (2, 30):
        DataField.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            catalogue_learn_batch(profile_ids=profile_ids[:size], event_ids=ids[:size])
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 15


def test_the_batch_task_run_twice_writes_once():
    source = SourceFactory()
    profile = Profile.objects.create(traits={"tier": "gold"})
    event = EventFactory(source=source, event="Signed Up", properties={"step": "2"})
    first = catalogue_learn_batch_task.delay([profile.pk], [event.pk], None).get()
    assert first >= 2
    assert catalogue_learn_batch_task.delay([profile.pk], [event.pk], None).get() == 0
    assert DataField.objects.filter(path__in=["tier", "step"]).count() == 2


def test_a_batch_makes_a_field_stricter_but_never_looser():
    _shop()
    catalogue_refresh()
    assert _classes()[("trait", "", "plan")] == "not_personal"
    profile = Profile.objects.create(traits={"plan": "call me: +49 151 1234 5678"})
    catalogue_learn_batch(profile_ids=[profile.pk], event_ids=[])
    plan = DataField.objects.get(path="plan")
    assert plan.classification == "personal"
    assert plan.common_values == []
    first_two = list(Profile.objects.values_list("pk", flat=True)[:2])
    catalogue_learn_batch(profile_ids=first_two, event_ids=[])
    assert DataField.objects.get(path="plan").classification == "personal"


def test_an_empty_catalogue_fills_on_first_use():
    _shop()
    assert shown_fields().shown("trait", "plan")
    assert not shown_fields().shown("trait", "email")
    assert DataField.objects.exists()


def test_a_worker_that_starts_fills_the_catalogue():
    from profiles.catalogue.receivers import on_worker_ready

    _shop()
    on_worker_ready()
    assert DataField.objects.filter(kind="trait", path="address.country").exists()
