"""The profiles signals run all their receivers in one transaction."""

import pytest
from django.db import transaction

from profiles.models import Profile
from profiles.signals import Announcement

pytestmark = pytest.mark.django_db(transaction=True)


def test_work_a_receiver_queues_on_commit_runs_after_every_receiver():
    announcement = Announcement()
    seen = []

    def first(sender, **_kwargs):
        transaction.on_commit(lambda: seen.append(Profile.objects.count()))

    def second(sender, **_kwargs):
        Profile.objects.create(traits={})

    announcement.connect(first, weak=False)
    announcement.connect(second, weak=False)
    announcement.send(sender=None)
    assert seen == [1]


def test_a_failing_receiver_rolls_back_what_the_others_wrote():
    announcement = Announcement()
    queued = []

    def writes(sender, **_kwargs):
        Profile.objects.create(traits={})
        transaction.on_commit(lambda: queued.append("refresh"))

    def fails(sender, **_kwargs):
        raise RuntimeError("deadlock")

    announcement.connect(writes, weak=False)
    announcement.connect(fails, weak=False)
    with pytest.raises(RuntimeError):
        announcement.send(sender=None)
    assert Profile.objects.count() == 0
    assert queued == []


def test_an_announcement_is_not_sent_receiver_by_receiver():
    with pytest.raises(NotImplementedError):
        Announcement().send_robust(sender=None)
