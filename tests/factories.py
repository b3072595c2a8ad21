"""factory_boy factories for the project's models, and small scenes built with them."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from profiles.identity import events_resolve_pending
from profiles.models import ProfileMerge


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """`UserFactory(roles=["marketer"])` puts the user in those role groups."""
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=[str(r) for r in extracted]))


def _now():
    from django.utils import timezone

    return timezone.now()


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "integrations.Source"

    name = factory.Sequence(lambda n: f"Source {n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "profiles.Event"

    class Params:
        # Events keep a plain source id; `EventFactory(source=web)` still reads naturally.
        source = factory.SubFactory(SourceFactory)

    source_id = factory.SelfAttribute("source.pk")
    message_id = factory.Sequence(lambda n: f"message-{n}")
    type = "track"
    event = "Order Completed"
    anonymous_id = factory.Sequence(lambda n: f"anon-{n}")
    timestamp = factory.LazyFunction(lambda: _now())
    received_at = factory.LazyAttribute(lambda e: e.timestamp)


def merged_pair(start):
    """Two people's profiles resolved apart, then merged by an event that carries both their
    identifiers (an e-mail and a user id): the `ProfileMerge`."""
    EventFactory(type="identify", anonymous_id="a", traits={"email": "m@x.io"}, timestamp=start)
    EventFactory(type="identify", anonymous_id="", user_id="u", timestamp=start + dt.timedelta(1))
    events_resolve_pending()
    EventFactory(
        type="identify",
        anonymous_id="",
        user_id="u",
        traits={"email": "m@x.io"},
        timestamp=start + dt.timedelta(2),
    )
    events_resolve_pending()
    return ProfileMerge.objects.get()
