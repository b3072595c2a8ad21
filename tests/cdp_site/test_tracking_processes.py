"""The tracking processes of a production deployment serve the tracking API and webhooks only."""

import base64
import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from django.test import override_settings

from integrations.selectors import write_key_cache_clear
from profiles.models import Event
from tests.factories import SourceFactory
from tests.servers import ROOT

pytestmark = pytest.mark.django_db


def test_the_setting_picks_the_tracking_url_configuration():
    code = "from django.conf import settings; print(settings.ROOT_URLCONF)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cdp_site.settings", "CDP_TRACKING_ONLY": "true"}
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "cdp_site.urls_tracking"


@override_settings(ROOT_URLCONF="cdp_site.urls_tracking")
def test_tracking_processes_take_events_and_nothing_else(client, superuser):
    write_key_cache_clear()
    source = SourceFactory(name="Web")
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        response = client.post(
            "/v1/track",
            json.dumps({"userId": "u1", "event": "Clicked"}),
            content_type="application/json",
            HTTP_AUTHORIZATION="Basic "
            + base64.b64encode(f"{source.write_key}:".encode()).decode(),
        )
    assert response.status_code == 200
    assert Event.objects.filter(source_id=source.pk).count() == 1
    # The webhook receiver is there too (it takes POSTs only).
    assert client.get("/v1/webhooks/1/token").status_code == 405
    client.force_login(superuser)
    for path in ("/", "/customers/", "/api/profiles/", "/segments/", "/admin/"):
        refused = client.get(path)
        assert refused.status_code == 404
        assert refused.json()["code"] == "not_found"
