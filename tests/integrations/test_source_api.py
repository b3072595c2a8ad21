"""The sources and sync runs API: CRUD with write-only secrets, test, sync (202), runs."""

import pytest

from integrations.models import Source, SyncRun, SyncRunError
from integrations.secrets import secrets_decrypt
from profiles.models import Event
from tests.factories import EventFactory, SourceFactory
from tests.integrations.tables import customer_rows

pytestmark = pytest.mark.django_db

SECRET = "api-secret-marker-19c2"


@pytest.fixture
def api(client_for, integration_admin):
    return client_for(integration_admin)


def _create(api, config: dict, **extra):
    body = {"name": "Customers", "kind": "postgres_table", "config": config, **extra}
    return api.post("/api/sources/", body, content_type="application/json")


def test_create_keeps_secrets_write_only(api, pg_tables):
    response = _create(
        api,
        pg_tables.config(password=SECRET),
        schedule={"kind": "hourly"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert SECRET not in response.content.decode()
    assert "password" not in body["config"]
    assert body["secrets_set"] == ["password"]
    assert body["schedule"]["kind"] == "hourly"
    assert body["schedule"]["next_run"] is not None
    source = Source.objects.get(pk=body["id"])
    assert secrets_decrypt(source.secrets_encrypted) == {"password": SECRET}
    listed = api.get("/api/sources/")
    assert SECRET not in listed.content.decode()
    assert [s["name"] for s in listed.json()["results"]] == ["Customers"]


def test_create_refuses_bad_settings_with_the_field(api):
    response = _create(api, {"host": "h", "database": "d", "user": "u", "table": "t.u.v"})
    assert response.status_code == 400
    assert response.json()["field"] == "table"
    response = api.post(
        "/api/sources/", {"name": "X", "kind": "ftp"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "kind"
    assert Source.objects.count() == 0


def test_a_tracking_source_can_be_created_and_shows_its_write_key(api):
    response = api.post(
        "/api/sources/", {"name": "Web", "kind": "tracking_api"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["write_key"] == Source.objects.get(name="Web").write_key


def test_patch_merges_settings_and_keeps_the_secret(api, pg_tables):
    source_id = _create(api, pg_tables.config(password=SECRET)).json()["id"]
    response = api.patch(
        f"/api/sources/{source_id}/",
        {"config": {"batch_size": 1000}, "enabled": False},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    source = Source.objects.get(pk=source_id)
    assert source.config["batch_size"] == 1000
    assert source.config["table"] == "public.customers"
    assert not source.enabled
    assert secrets_decrypt(source.secrets_encrypted) == {"password": SECRET}
    response = api.patch(
        f"/api/sources/{source_id}/", {"kind": "mysql_table"}, content_type="application/json"
    )
    assert response.status_code == 400


def test_test_and_sync_and_runs(api, pg_tables, django_capture_on_commit_callbacks):
    pg_tables.insert_customers(customer_rows(40))
    source_id = _create(api, pg_tables.config()).json()["id"]
    answer = api.post(f"/api/sources/{source_id}/test/")
    assert answer.json() == {
        "ok": True,
        "message": "Connected: 40 rows visible in public.customers.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/sources/{source_id}/sync/")
    assert response.status_code == 202
    run_id = response.json()["id"]
    assert response.json()["trigger"] == "api"
    detail = api.get(f"/api/sync-runs/{run_id}/").json()
    assert detail["status"] == "succeeded"
    assert (detail["records_read"], detail["records_stored"]) == (40, 40)
    assert detail["progress"] == {"done": 40, "total": 40, "percent": 100}
    assert detail["errors"] == []
    assert Event.objects.filter(source_id=source_id).count() == 40
    runs = api.get(f"/api/sync-runs/?source={source_id}").json()
    assert [r["id"] for r in runs["results"]] == [run_id]
    assert api.get("/api/sync-runs/?source=x").status_code == 400


def test_a_second_sync_while_one_is_active_is_409(api):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    SyncRun.objects.create(source=source)
    response = api.post(f"/api/sources/{source.pk}/sync/")
    assert response.status_code == 409
    assert response.json()["code"] == "run_active"
    assert SyncRun.objects.count() == 1


def test_run_errors_are_answered(api):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    run = SyncRun.objects.create(source=source, status="succeeded", records_failed=1)
    SyncRunError.objects.create(run=run, position="id=3", reason="userId is too long.")
    body = api.get(f"/api/sync-runs/{run.pk}/").json()
    assert body["errors"] == [{"position": "id=3", "reason": "userId is too long."}]


def test_delete_refuses_a_source_with_events(api):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    EventFactory(source=source)
    assert api.delete(f"/api/sources/{source.pk}/").status_code == 409
    empty = SourceFactory(name="Empty", kind="postgres_table")
    assert api.delete(f"/api/sources/{empty.pk}/").status_code == 204
    assert list(Source.objects.values_list("name", flat=True)) == ["Shop DB"]


def test_other_roles_and_other_admins_sources(client_for, marketer, integration_admin):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    assert client_for(marketer).get("/api/sources/").status_code == 403
    # An integration admin sees sources by the model permission of the role.
    assert client_for(integration_admin).get(f"/api/sources/{source.pk}/").status_code == 200
    assert client_for(integration_admin).get("/api/sources/99999999/").status_code == 404
