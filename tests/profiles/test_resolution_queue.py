"""Asking for identity resolution: one waiting task at a time with Redis, none ever missed.

These tests use the local Redis server (CI starts it) for the flag; the task's publication is
counted by patching `delay`, as the ingest tests do.
"""

from unittest import mock

import pytest
import redis

from cdp_site import celery_app, task_gate
from cdp_site.celery import broker_health
from profiles.resolution_queue import FLAG_KEY, resolution_request, resolution_started

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def broker(monkeypatch):
    """The Celery app configured for a broker URL (not eager), restored afterwards."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager

    def configure(url: str):
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        celery_app.conf.broker_url = url
        celery_app.conf.task_always_eager = False
        task_gate.flag_store.cache_clear()

    yield configure
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
    task_gate.flag_store.cache_clear()


@pytest.fixture
def flag_store(broker):
    store = redis.Redis.from_url(REDIS_URL)
    try:
        store.delete(FLAG_KEY)
    except redis.ConnectionError:
        pytest.skip("no Redis server at 127.0.0.1:6379")
    broker(REDIS_URL)
    yield store
    store.delete(FLAG_KEY)


@pytest.fixture
def delay():
    with mock.patch("profiles.tasks.events_resolve_task.delay") as delay:
        yield delay


def test_requests_share_the_task_that_waits_and_queue_again_once_it_started(flag_store, delay):
    resolution_request()
    resolution_request()
    resolution_request()
    assert delay.call_count == 1
    assert flag_store.ttl(FLAG_KEY) > 0  # a lost task holds the next one back briefly only

    resolution_started()  # the task starts: events committed from now on need a new task
    resolution_request()
    resolution_request()
    assert delay.call_count == 2


def test_the_task_clears_the_flag_before_it_resolves(flag_store, delay, db):
    from profiles.tasks import events_resolve_task

    resolution_request()
    assert flag_store.exists(FLAG_KEY)
    events_resolve_task.run()
    assert not flag_store.exists(FLAG_KEY)


def test_a_failed_publication_clears_the_flag_and_does_not_fail_the_request(flag_store, delay):
    delay.side_effect = ConnectionError("broker down")
    resolution_request()  # logged; the workers' reconnect or beat's sweep resolves the events
    assert not flag_store.exists(FLAG_KEY)
    delay.side_effect = None
    # Known down for a while: the next request does not wait on the broker again.
    resolution_request()
    assert delay.call_count == 1
    broker_health.down_until = 0.0  # the retry interval has passed
    resolution_request()
    assert delay.call_count == 2


def test_without_a_reachable_redis_every_request_publishes(broker, delay):
    broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    resolution_request()
    resolution_request()
    assert delay.call_count == 2


def test_other_brokers_get_one_task_per_request(broker, delay):
    broker("amqp://guest:guest@127.0.0.1:5672//")
    resolution_request()
    resolution_request()
    assert delay.call_count == 2


def test_the_beat_sweeps_for_events_a_lost_task_left():
    from django.conf import settings

    sweep = settings.CELERY_BEAT_SCHEDULE["profiles-resolve-sweep"]
    assert sweep["task"] == "profiles.resolve_events"
