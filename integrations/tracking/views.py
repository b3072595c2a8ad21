"""The /v1/ endpoints: thin wrappers that read the request and hand the messages to ingestion.

Plain Django views, not DRF: SDKs authenticate with the source's write key, not a session, and
this path is kept lean because every event a customer sends goes through it.
"""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from cdp_site.rest import json_error
from integrations.selectors import source_get_by_write_key

from .http import TrackingRequestError, body_read, json_parse, write_key_get
from .ingest import MAX_BATCH_MESSAGES, MESSAGE_TYPES, tracking_messages_ingest
from .limits import bad_key_count, bad_key_refused, source_rate_exceeded

CORS_HEADERS = {
    # Browser SDKs post from customers' own sites; the write key, not the origin, authorises.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def _cors(response: HttpResponse) -> HttpResponse:
    for header, value in CORS_HEADERS.items():
        response[header] = value
    return response


def _error(status: int, code: str, message: str, retry_after: int | None = None) -> HttpResponse:
    response = _cors(json_error(status, code, message))
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _handle(request, kind: str | None) -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST, OPTIONS"
        return response
    try:
        # A single call's size is checked on the message as parsed, like a batch's messages, so
        # that one over the limit is quarantined too.
        bad_key_refused(request)
        data = json_parse(body_read(request))
        source = source_get_by_write_key(write_key_get(request, data))
        if source is None:
            bad_key_count(request)
            raise TrackingRequestError(401, "invalid_write_key", "Unknown write key.")
        if not source.enabled:
            raise TrackingRequestError(403, "source_disabled", "This source is disabled.")
        source_rate_exceeded(source.pk)
        if kind is None:
            messages = data.get("batch")
            if not isinstance(messages, list):
                raise TrackingRequestError(
                    400, "invalid_batch", "batch must be a list of messages."
                )
            if len(messages) > MAX_BATCH_MESSAGES:
                raise TrackingRequestError(
                    400,
                    "too_many_messages",
                    f"A batch may hold at most {MAX_BATCH_MESSAGES} messages.",
                )
            batch_context, batch_integrations = data.get("context"), data.get("integrations")
        else:
            data.pop("writeKey", None)
            messages = [{**data, "type": kind}]
            batch_context = batch_integrations = None
        result = tracking_messages_ingest(
            source=source,
            messages=messages,
            batch_context=batch_context,
            batch_integrations=batch_integrations,
            sent_at=data.get("sentAt"),
        )
    except TrackingRequestError as error:
        return _error(error.status, error.code, error.message, error.retry_after)
    if kind is not None and result.rejected:
        # A single call has nothing else to store: it is refused, and kept in the quarantine.
        problem = result.rejected[0]
        return _error(400, problem["code"], problem["message"])
    return _cors(
        JsonResponse(
            {
                "success": True,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
            }
        )
    )


@csrf_exempt
def tracking_batch(request):
    return _handle(request, None)


@csrf_exempt
def tracking_call(request, kind: str):
    return _handle(request, kind)


# Segment's browser SDK posts each call to the first letter of its type.
SHORT_PATHS = {kind[0]: kind for kind in sorted(MESSAGE_TYPES)}


@csrf_exempt
def tracking_call_short(request, letter: str):
    return _handle(request, SHORT_PATHS[letter])
