"""The CSV source's pages and API: upload, preview, mapping (htmx), import, bad-row report."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from integrations.models import Source, SyncRun
from integrations.sync.runner import sync_run_execute
from profiles.models import Event

from .csv_helpers import csv_source, upload

pytestmark = pytest.mark.django_db

FILE = "Customer ID,E-mail,First name\nc-1,ann@example.com,Ann\n,,Nobody\nc-3,cy@example.com,Cy\n"


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def admin(integration_admin, client_for):
    return client_for(integration_admin)


@pytest.fixture
def source(integration_admin):
    return csv_source(user=integration_admin)


def _file(content: str = FILE, name: str = "customers.csv"):
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_the_csv_page_says_what_to_do_without_a_file(admin, source):
    page = admin.get(reverse("integrations:csv_source", args=[source.pk])).content.decode()
    assert "No file yet: upload a CSV file" in page
    assert "No import yet." in page
    mapping = admin.get(reverse("integrations:csv_mapping", args=[source.pk])).content.decode()
    assert "No file yet" in mapping


def test_upload_then_preview_then_mapping(admin, source):
    response = admin.post(reverse("integrations:csv_upload", args=[source.pk]), {"file": _file()})
    assert response.status_code == 302
    assert response.url == reverse("integrations:csv_mapping", args=[source.pk])
    page = admin.get(reverse("integrations:csv_source", args=[source.pk])).content.decode()
    assert "customers.csv" in page
    assert "ann@example.com" in page
    assert 'id="file-lines">3<' in page
    mapping = admin.get(response.url).content.decode()
    assert '<option value="email" selected>' in mapping
    assert '<option value="userId" selected>' in mapping
    assert "first_name" in mapping
    assert "&quot;userId&quot;: &quot;c-1&quot;" in mapping  # what line 2 becomes
    assert "Bad row: No identifier" in mapping  # line 3


def test_an_unreadable_upload_is_answered_in_the_page(admin, source):
    response = admin.post(
        reverse("integrations:csv_upload", args=[source.pk]), {"file": _file("")}, follow=True
    )
    assert "was not kept: The file is empty" in response.content.decode()
    no_file = admin.post(reverse("integrations:csv_upload", args=[source.pk]), follow=True)
    assert "Choose a CSV file to upload." in no_file.content.decode()


def test_the_mapping_fragment_previews_a_change_and_saves(admin, source):
    upload(source, FILE)
    url = reverse("integrations:csv_mapping", args=[source.pk])
    change = {
        "type": "identify",
        "event": "",
        "kind_0": "userId",
        "kind_1": "email",
        "kind_2": "trait",
        "key_2": "given",
    }
    preview = admin.post(url, change, HTTP_HX_REQUEST="true")
    text = preview.content.decode()
    assert "<html" not in text
    assert "&quot;given&quot;: &quot;Ann&quot;" in text
    assert (
        Source.objects.get(pk=source.pk).config["mapping"]["columns"]["First name"]
        == "trait:first_name"
    )

    saved = admin.post(url, {**change, "action": "save"}, HTTP_HX_REQUEST="true")
    assert "Mapping saved." in saved.content.decode()
    assert (
        Source.objects.get(pk=source.pk).config["mapping"]["columns"]["First name"] == "trait:given"
    )


def test_a_bad_mapping_is_shown_in_place_and_not_saved(admin, source):
    upload(source, FILE)
    before = Source.objects.get(pk=source.pk).config["mapping"]
    url = reverse("integrations:csv_mapping", args=[source.pk])
    response = admin.post(
        url,
        {
            "type": "identify",
            "kind_0": "ignore",
            "kind_1": "ignore",
            "kind_2": "trait",
            "action": "save",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Map at least one column to an identifier" in response.content.decode()
    assert Source.objects.get(pk=source.pk).config["mapping"] == before


def test_import_from_the_page_then_download_the_bad_rows(
    admin, source, django_capture_on_commit_callbacks
):
    upload(source, FILE)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("integrations:csv_import", args=[source.pk]))
    run = SyncRun.objects.get(source=source)
    assert response.status_code == 302
    assert response.url == reverse("integrations:sync_run_detail", args=[source.pk, run.pk])
    assert run.status == SyncRun.Status.SUCCEEDED  # the task ran inline
    assert Event.objects.filter(source_id=source.pk).count() == 2
    page = admin.get(reverse("integrations:csv_source", args=[source.pk])).content.decode()
    report_url = reverse("integrations:csv_bad_rows", args=[source.pk, run.pk])
    assert report_url in page
    report = admin.get(report_url)
    assert report["Content-Disposition"].startswith("attachment")
    body = b"".join(report.streaming_content).decode()
    assert body.splitlines() == [
        "line,reason,Customer ID,E-mail,First name",
        '3,"No identifier: “Customer ID”, “E-mail” are all empty.",,,Nobody',
    ]


def test_an_import_without_an_identifier_is_refused_in_the_page(admin, source):
    upload(source, "name\nAnn\n")
    response = admin.post(reverse("integrations:csv_import", args=[source.pk]), follow=True)
    assert "Map at least one column to an identifier" in response.content.decode()
    assert not SyncRun.objects.filter(source=source).exists()


def test_csv_pages_of_another_kind_of_source_are_404(admin, integration_admin):
    from integrations.sources import source_connector_create

    other = source_connector_create(
        name="Hook", kind="webhook", values={}, created_by=integration_admin
    )
    assert admin.get(reverse("integrations:csv_source", args=[other.pk])).status_code == 404


def test_the_api_uploads_previews_maps_and_imports(admin, source):
    url = reverse("integrations:api_csv_upload", args=[source.pk])
    response = admin.post(url, {"file": _file()})
    assert response.status_code == 201
    body = response.json()
    assert body["file"]["lines"] == 3
    assert body["file"]["header"] == ["Customer ID", "E-mail", "First name"]
    assert body["preview"][0] == {"line": 2, "fields": ["c-1", "ann@example.com", "Ann"]}
    assert body["mapping"]["columns"]["E-mail"] == "email"

    mapping_url = reverse("integrations:api_csv_mapping", args=[source.pk])
    bad = admin.put(
        mapping_url, {"columns": {"E-mail": "nonsense"}}, content_type="application/json"
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_mapping")
    good = admin.put(
        mapping_url,
        {"type": "identify", "columns": {"E-mail": "email", "First name": "trait:first"}},
        content_type="application/json",
    )
    assert good.status_code == 200

    started = admin.post(reverse("integrations:api_csv_import", args=[source.pk]))
    assert started.status_code == 202
    sync_run_execute(started.json()["id"])
    assert sorted(
        Event.objects.filter(source_id=source.pk).values_list("traits__first", flat=True)
    ) == ["Ann", "Cy"]


def test_the_api_refuses_a_bad_file_and_other_roles(admin, source, client_for, marketer):
    url = reverse("integrations:api_csv_upload", args=[source.pk])
    bad = admin.post(url, {"file": _file("")})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_csv")
    missing = admin.post(url, {})
    assert missing.status_code == 400
    denied = client_for(marketer).post(url, {"file": _file()})
    assert denied.status_code == 403
    assert "file" not in Source.objects.get(pk=source.pk).config


def test_seeing_a_file_s_rows_and_downloading_bad_rows_are_audited(
    admin, source, integration_admin
):
    from compliance.models import AuditEvent

    upload(source, FILE)
    admin.get(reverse("integrations:csv_source", args=[source.pk]))
    admin.get(reverse("integrations:csv_mapping", args=[source.pk]))
    admin.post(
        reverse("integrations:csv_mapping", args=[source.pk]),
        {"type": "identify"},
        HTTP_HX_REQUEST="true",
    )
    # Creating the source (the fixture) is audited too, as a configuration change.
    actions = list(
        AuditEvent.objects.filter(username=integration_admin.username)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["source.create", "source.file_preview", "source.file_preview"]


def test_the_source_page_leads_to_the_csv_page(admin, source):
    page = admin.get(reverse("integrations:source_detail", args=[source.pk])).content.decode()
    assert reverse("integrations:csv_source", args=[source.pk]) in page
    assert "Upload a file and map its columns" in page
