"""The record of processing (GDPR Art. 30): a printable page, and Markdown and CSV downloads."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cdp_site.roles import Role, role_required

from .processing_record import (
    processing_record,
    processing_record_csv,
    processing_record_markdown,
)

FORMATS = {
    "md": ("text/markdown; charset=utf-8", processing_record_markdown),
    "csv": ("text/csv; charset=utf-8", processing_record_csv),
}


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def processing_record_page(request):
    return render(request, "compliance/processing_record.html", {"record": processing_record()})


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def processing_record_download(request, fmt: str):
    if fmt not in FORMATS:
        raise Http404("The record downloads as .md or .csv.")
    content_type, render_as = FORMATS[fmt]
    record = processing_record()
    response = HttpResponse(render_as(record), content_type=content_type)
    name = f"record-of-processing-{record['generated_at']:%Y-%m-%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
