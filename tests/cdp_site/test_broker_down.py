"""With the task broker down, people's requests still succeed: the change is kept, the error
logged, and the scheduled runs catch up later."""

import pytest
from celery import Celery, Task
from guardian.shortcuts import assign_perm
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from cdp_site.celery import task_publish
from segments.models import Segment

pytestmark = pytest.mark.django_db

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}


@pytest.fixture
def broker_down(monkeypatch):
    """Every publish fails as it does against a dead broker (kombu's OperationalError)."""

    def refuse(self, *args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)


def test_publishing_to_a_dead_broker_returns_none(caplog, monkeypatch):
    # A real publish to a port nothing listens on, through an app of its own. Celery reads
    # CELERY_BROKER_URL from the environment before the broker it is given.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    app = Celery("broker-down", broker=DEAD_BROKER, set_as_current=False)
    app.conf.broker_connection_timeout = 1
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0}

    @app.task(name="tests.ping")
    def ping():
        return "pong"

    assert task_publish(ping) is None
    assert "task could not be queued" in caplog.text


def test_saving_a_segment_succeeds_and_is_kept(
    broker_down, marketer, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.force_authenticate(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/segments/", {"name": "Germany", "definition": DE}, format="json"
        )
    assert response.status_code == 201
    assert Segment.objects.filter(name="Germany").exists()


def test_a_refresh_asked_for_says_it_could_not_be_queued(broker_down, marketer, client_for):
    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    assign_perm("segments.change_segment", marketer, segment)
    response = client_for(marketer).post(f"/segments/{segment.pk}/refresh/", follow=True)
    assert response.status_code == 200
    assert "could not be queued" in response.content.decode()


def test_the_worker_check_says_the_broker_is_down(broker_down, integration_admin, client_for):
    response = client_for(integration_admin).post("/system/worker-check/")
    assert response.status_code == 200
    assert "task broker could not be reached" in response.content.decode()
