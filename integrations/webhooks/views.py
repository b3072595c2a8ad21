"""The webhook receiver (signed JSON from other tools) and the webhook's set-up page."""

from django.contrib import messages
from django.http import JsonResponse, UnreadablePostError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cdp_site.rest import json_error
from cdp_site.roles import Role, role_required
from integrations.selectors import source_get_for_user

from .services import (
    MAX_BODY_BYTES,
    WEBHOOK_KIND,
    WebhookRefusedError,
    webhook_has_secret,
    webhook_receive,
    webhook_secret_replace,
    webhook_source_get,
    webhook_token,
)
from .signature import HEADER, TOLERANCE_SECONDS


def _body(request) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_large = WebhookRefusedError(
        413, "body_too_large", f"A delivery may be at most {MAX_BODY_BYTES // 1024} KB."
    )
    if declared > MAX_BODY_BYTES:
        raise too_large
    try:
        body = request.read(MAX_BODY_BYTES + 1)
    except (OSError, UnreadablePostError):
        raise WebhookRefusedError(400, "unreadable_body", "The body could not be read.") from None
    if len(body) > MAX_BODY_BYTES:
        raise too_large
    return body


@csrf_exempt
def webhook_receive_view(request, pk: int, token: str):
    """POST: one delivery. Every refusal is `{"code", "message"}` with its status, never a 500."""
    if request.method != "POST":
        response = json_error(405, "method_not_allowed", "Deliveries are POSTed.")
        response["Allow"] = "POST"
        return response
    try:
        source = webhook_source_get(pk, token)
        delivery = webhook_receive(
            source=source, body=_body(request), signature=request.headers.get(HEADER)
        )
    except WebhookRefusedError as problem:
        return json_error(problem.status, problem.code, problem.message)
    return JsonResponse(
        {"stored": delivery.stored, "unchanged": delivery.unchanged, "id": delivery.record_id}
    )


def webhook_url(request, source) -> str:
    return request.build_absolute_uri(
        reverse("integrations:webhook_receive", args=[source.pk, webhook_token(source)])
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def webhook_setup(request, pk: int):
    """The webhook's URL, whether it has a signing secret, and how a sender signs."""
    source = source_get_for_user(request.user, pk)
    return render(
        request,
        "integrations/webhook_setup.html",
        {
            "source": source,
            "is_webhook": source.kind == WEBHOOK_KIND,
            "url": webhook_url(request, source) if source.kind == WEBHOOK_KIND else "",
            "has_secret": source.kind == WEBHOOK_KIND and webhook_has_secret(source),
            "header": HEADER,
            "tolerance_minutes": TOLERANCE_SECONDS // 60,
            "max_kb": MAX_BODY_BYTES // 1024,
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def webhook_secret(request, pk: int):
    """A new signing secret, shown in this answer only."""
    source = source_get_for_user(request.user, pk, perm="integrations.change_source")
    if source.kind != WEBHOOK_KIND:
        messages.error(request, "This source is not an incoming webhook.")
        return redirect("integrations:webhook_setup", pk=source.pk)
    secret = webhook_secret_replace(source=source)
    response = render(
        request,
        "integrations/webhook_setup.html",
        {
            "source": source,
            "is_webhook": True,
            "url": webhook_url(request, source),
            "has_secret": True,
            "new_secret": secret,
            "header": HEADER,
            "tolerance_minutes": TOLERANCE_SECONDS // 60,
            "max_kb": MAX_BODY_BYTES // 1024,
        },
    )
    # The secret is in this page only: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response
