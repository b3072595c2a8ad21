"""Suppression at the sources: a suppressed person's rows in a CSV import (a source sync run
through the sync runner, as every table and API source is) are not stored, and are counted
per source; other people's rows are."""

import pytest

from compliance.models import SuppressedDrop
from compliance.requests import request_create, request_run, request_verify
from integrations.models import SyncRun
from profiles.models import Event
from tests.compliance.scene import JANE_EMAIL, JANE_USER, scene_build
from tests.integrations.csv_helpers import csv_source, import_to_end, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def erased(compliance_officer, django_capture_on_commit_callbacks):
    scene = scene_build()
    request = request_create(
        user=compliance_officer, type="erasure", identifiers={"email": JANE_EMAIL}
    )
    request_verify(request=request, user=compliance_officer)
    with django_capture_on_commit_callbacks(execute=True):
        request_run(request=request, user=compliance_officer)
    return scene


def test_a_suppressed_persons_rows_in_a_csv_import_are_not_stored(erased):
    source = csv_source()
    upload(
        source,
        "Customer ID,E-mail,First name\n"
        f"{JANE_USER},,Jane\n"  # by her user id
        "c-9, JANE.DOE@example.com ,J\n"  # by her e-mail written otherwise
        "c-10,ann@example.com,Ann\n",
    )
    run = import_to_end(source)

    assert run.status == SyncRun.Status.SUCCEEDED
    stored = list(Event.objects.filter(source_id=source.pk).values_list("user_id", flat=True))
    assert stored == ["c-10"]
    assert not Event.objects.filter(user_id=JANE_USER).exists()
    assert SuppressedDrop.objects.get(source_id=source.pk).count == 2

    # Imported again, still dropped, and counted again.
    upload(source, f"Customer ID,E-mail,First name\n{JANE_USER},,Jane again\n", name="b.csv")
    import_to_end(source)
    assert not Event.objects.filter(user_id=JANE_USER).exists()
    assert SuppressedDrop.objects.get(source_id=source.pk).count == 3


def test_a_replayed_quarantined_message_of_a_suppressed_person_is_not_stored(erased):
    import json

    from django.utils import timezone

    from integrations.models import QuarantinedMessage
    from integrations.services import quarantine_replay

    source = erased["source"]
    for user_id in (JANE_USER, "someone-else-1"):
        QuarantinedMessage.objects.create(
            source=source,
            code="invalid_context",
            reason="The batch context was not an object.",
            payload=json.dumps({"type": "track", "userId": user_id, "event": "Late"}),
            received_at=timezone.now(),
        )
    before = SuppressedDrop.objects.filter(source_id=source.pk).values_list("count", flat=True)
    before = sum(before)

    result = quarantine_replay(source=source, user=None)

    assert result.stored == 1
    assert not Event.objects.filter(user_id=JANE_USER).exists()
    assert Event.objects.filter(user_id="someone-else-1", event="Late").exists()
    after = sum(SuppressedDrop.objects.filter(source_id=source.pk).values_list("count", flat=True))
    assert after == before + 1
