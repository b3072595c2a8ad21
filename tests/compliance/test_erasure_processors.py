"""Outside processors (destinations) asked to delete during an erasure: each answer recorded in
the report, a failure that may pass marked to be asked again. The processor here speaks to a
real local HTTP server, as a destination's deletion endpoint would."""

import httpx
import pytest
from werkzeug import Response

from cdp_site import erasure
from compliance.requests import request_create, request_run, request_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def destination(httpserver):
    """A processor that asks the local server to forget the person, registered for the test."""

    def delete(identifiers):
        try:
            response = httpx.post(httpserver.url_for("/forget"), json=identifiers, timeout=5)
        except httpx.HTTPError as error:
            return [erasure.ProcessorAnswer("Test CRM", False, str(error), retryable=True)]
        ok = response.status_code == 200
        return [
            erasure.ProcessorAnswer(
                "Test CRM", ok, response.text, retryable=response.status_code >= 500
            )
        ]

    erasure.processor_register(erasure.Processor("tests.crm", delete))
    yield httpserver
    erasure._PROCESSORS.pop("tests.crm", None)


def _erase(officer, capture):
    request = request_create(user=officer, type="erasure", identifiers={"email": "Jo@Example.com"})
    request_verify(request=request, user=officer)
    with capture(execute=True):
        request_run(request=request, user=officer)
    request.refresh_from_db()
    return request


def test_each_destination_answer_is_in_the_report(
    destination, compliance_officer, django_capture_on_commit_callbacks
):
    destination.expect_oneshot_request(
        "/forget", method="POST", json={"email": ["jo@example.com"]}
    ).respond_with_data("deleted 1 contact")
    report = _erase(compliance_officer, django_capture_on_commit_callbacks).report
    assert report["destinations"] == [
        {"name": "Test CRM", "ok": True, "message": "deleted 1 contact", "retryable": False}
    ]


def test_a_destination_that_fails_is_shown_as_to_be_asked_again(
    destination, compliance_officer, django_capture_on_commit_callbacks
):
    destination.expect_oneshot_request("/forget").respond_with_response(
        Response("try later", status=503)
    )
    report = _erase(compliance_officer, django_capture_on_commit_callbacks).report
    assert report["destinations"] == [
        {"name": "Test CRM", "ok": False, "message": "try later", "retryable": True}
    ]
