"""Deleting a source: refused while it has events (they keep a plain source id), else done."""

import pytest

from cdp_site.errors import InUseError
from integrations.models import QuarantinedMessage, Source
from integrations.services import source_delete
from profiles.models import Event
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


def _quarantined(source):
    return QuarantinedMessage.objects.create(
        source=source, code="bad", reason="bad", payload="{}", received_at=source.created_at
    )


def test_a_source_with_events_is_not_deleted():
    web = SourceFactory(name="Web")
    event = EventFactory(source=web)
    with pytest.raises(InUseError, match="Web") as refused:
        source_delete(source=web)
    assert refused.value.code == "in_use"
    assert Source.objects.filter(pk=web.pk).exists()
    assert Event.objects.get().pk == event.pk


def test_a_source_without_events_is_deleted_with_its_quarantine():
    web, other = SourceFactory(), SourceFactory()
    _quarantined(web)
    EventFactory(source=other)
    source_delete(source=web)
    assert list(Source.objects.all()) == [other]
    assert not QuarantinedMessage.objects.exists()
    assert Event.objects.filter(source_id=other.pk).count() == 1


def _admin_delete(client, source, how):
    """Confirm the deletion of `source` on its delete page, or with the list's delete action."""
    if how == "delete page":
        return client.post(f"/admin/integrations/source/{source.pk}/delete/", {"post": "yes"})
    return client.post(
        "/admin/integrations/source/",
        {"action": "delete_selected", "_selected_action": [source.pk], "post": "yes"},
    )


@pytest.mark.parametrize("how", ["delete page", "delete action"])
def test_the_admin_refuses_to_delete_a_source_with_events(superuser, client_for, how):
    web = SourceFactory(name="Web")
    EventFactory(source=web)
    response = _admin_delete(client_for(superuser), web, how)
    assert response.status_code == 200
    assert "Source “Web” has events and cannot be deleted" in response.content.decode()
    assert Source.objects.filter(pk=web.pk).exists()


@pytest.mark.parametrize("how", ["delete page", "delete action"])
def test_the_admin_deletes_a_source_without_events(superuser, client_for, how):
    web = SourceFactory(name="Web")
    response = _admin_delete(client_for(superuser), web, how)
    assert response.status_code == 302
    assert not Source.objects.exists()
